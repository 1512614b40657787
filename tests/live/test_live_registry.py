"""Configuring live sources: each bad option gets its own clear message; good ones are kept."""

from __future__ import annotations

import pytest

from paperfeed.errors import ConflictError, InvalidInputError, NotFoundError
from paperfeed.live.registry import add_source, build_params, check_source, remove_source
from paperfeed.live.runner import list_sources_with_last_run
from paperfeed.workspace import Workspace


def test_each_kind_keeps_its_options() -> None:
    assert build_params("arxiv-oai", oai_set="cs", from_date="2024-01-01") == {
        "set": "cs",
        "from": "2024-01-01",
        "metadata_prefix": "arXivRaw",
    }
    assert build_params("arxiv-oai", metadata_prefix="arXiv", categories=["cs.CL"]) == {
        "categories": ["cs.CL"],
        "metadata_prefix": "arXiv",
    }
    assert build_params("arxiv-api", query="cat:cs.CL") == {"query": "cat:cs.CL"}
    assert build_params("arxiv-api", categories=["cs.CL", "cs.LG"]) == {
        "query": "cat:cs.CL OR cat:cs.LG"
    }
    assert build_params("arxiv-rss", categories=["cs.CL", "cs.LG"]) == {
        "categories": ["cs.CL", "cs.LG"]
    }
    assert build_params("hf-daily", from_date="2026-08-01") == {"from": "2026-08-01"}
    assert build_params("hf-daily") == {}


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("arxiv-rss", {"query": "x"}, "--query does not apply to arxiv-rss sources"),
        ("arxiv-rss", {}, "an arxiv-rss source needs at least one --category"),
        ("arxiv-rss", {"categories": ["cs CL"]}, "--category 'cs CL' is not an arXiv category"),
        ("hf-daily", {"oai_set": "cs"}, "--set does not apply to hf-daily sources"),
        ("hf-daily", {"from_date": "yesterday"}, "--from 'yesterday' is not a date"),
        (
            "hf-daily",
            {"from_date": "2026-09-01", "until_date": "2026-08-01"},
            "--from 2026-09-01 is after --until 2026-08-01",
        ),
        ("arxiv-oai", {"oai_set": "c s"}, "--set 'c s' is not an OAI-PMH set spec"),
        ("arxiv-oai", {"metadata_prefix": "oai_dc"}, "--format 'oai_dc' is not one of arXivRaw"),
        ("arxiv-oai", {"query": "x"}, "--query does not apply to arxiv-oai sources"),
        ("arxiv-api", {}, "an arxiv-api source needs --query"),
        ("arxiv-api", {"query": "x", "categories": ["cs.CL"]}, "--query or --category, not both"),
        ("arxiv-api", {"from_date": "2026-01-01"}, "--from does not apply to arxiv-api"),
        ("arxiv-ftp", {}, "unknown source kind 'arxiv-ftp'; use one of arxiv-oai"),
    ],
)
def test_bad_options_are_named(kind: str, options: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build_params(kind, **options)


@pytest.mark.parametrize(
    ("name", "base_url", "message"),
    [
        ("Arxiv CS", None, "source name 'Arxiv CS': use lower-case letters"),
        ("cs", "ftp://mirror.example/oai", "--base-url 'ftp://mirror.example/oai' is not"),
    ],
)
def test_bad_names_and_urls_are_refused(name: str, base_url: str | None, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_source(name, "arxiv-oai", base_url)


def test_add_twice_conflicts_and_remove_forgets(live_workspace: Workspace) -> None:
    params = build_params("arxiv-rss", categories=["cs.CL"])
    spec = add_source(live_workspace, "cl", "arxiv-rss", params, "https://mirror.example/rss")
    assert spec.base_url == "https://mirror.example/rss"  # the override beats the setting
    with pytest.raises(ConflictError, match="a source named 'cl' exists"):
        add_source(live_workspace, "cl", "arxiv-rss", params)
    remove_source(live_workspace, "cl")
    assert list_sources_with_last_run(live_workspace) == []
    with pytest.raises(NotFoundError, match="none is configured yet"):
        remove_source(live_workspace, "cl")
