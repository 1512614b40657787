"""The real ``paperfeed`` console script, run as a process, on real data directories."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _core_helpers import MATRYOSHKA, SEED_COUNT, copy_workspace

from paperfeed.web.api import ScoredPaperOut, SearchOut
from paperfeed.workspace import Workspace

PAPERFEED = Path(sys.executable).parent / "paperfeed"


def run(data_dir: Path, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``paperfeed ARGS`` with ``PAPERFEED_DATA_DIR=data_dir``, as a user would run it."""
    if not PAPERFEED.exists():
        pytest.skip(f"console script not installed at {PAPERFEED}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_") and k != "COLUMNS"}
    env["PAPERFEED_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [str(PAPERFEED), *map(str, args)],
        env=env,
        cwd=cwd or data_dir.parent,  # away from any .env file of the repository
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def matching(data_dir: Path, query: str, *args: str) -> int:
    """The count of matching papers ``paperfeed search`` gives in its footer."""
    footer = ok(run(data_dir, "search", query, *args)).stderr
    found = re.search(r"of (\d+) matching", footer)
    assert found, footer
    return int(found[1])


def stats(data_dir: Path) -> dict:
    return json.loads(ok(run(data_dir, "stats", "--json")).stdout)


@pytest.fixture(scope="module")
def indexed_dir(seeded_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the 285 seed papers, embedded and indexed (a copy)."""
    copy = copy_workspace(seeded_workspace, tmp_path_factory.mktemp("cli") / "data")
    copy.db.engine.dispose()
    return copy.settings.data_dir


# -- help -------------------------------------------------------------------------------------


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = ok(run(tmp_path / "data", "--help"))
    commands = ("init", "ingest", "search", "show", "similar", "stats", "export", "serve")
    for command in (*commands, "check", "backup", "restore"):
        assert command in result.stdout
    assert not (tmp_path / "data").exists()  # asking for help creates nothing


def test_sources_lists_every_format(tmp_path: Path) -> None:
    # `sources formats` is the list; bare `sources` (the old command) still shows it.
    for args in (["sources", "formats"], ["sources"]):
        result = ok(run(tmp_path / "data", *args))
        for name in ("hf-page", "hf-daily", "kaggle", "arxiv-atom", "arxiv-daily", "jsonl"):
            assert name in result.stdout
    assert not (tmp_path / "data").exists()  # listing creates nothing


# -- ingest and stats -------------------------------------------------------------------------


def test_init_ingest_and_stats(tmp_path: Path, seed_paths: list[Path]) -> None:
    data = tmp_path / "data"
    result = ok(run(data, "init"))
    assert (data / "paperfeed.db").is_file()
    assert str(data.resolve()) in " ".join(result.stderr.split())
    ok(run(data, "init"))  # safe to repeat
    assert stats(data)["papers"] == 0

    first = ok(run(data, "ingest", "hf-page", *seed_paths, "--no-index"))
    assert f"{SEED_COUNT} added, 0 updated" in first.stderr
    assert stats(data)["papers"] == SEED_COUNT

    second = ok(run(data, "ingest", "hf-page", *seed_paths, "--no-index"))
    assert "0 added, 0 updated, 360 unchanged" in second.stderr
    numbers = stats(data)
    assert numbers["papers"] == SEED_COUNT
    assert numbers["by_source"] == {"hf-page": SEED_COUNT}
    assert numbers["embedded"] == 0  # --no-index


def test_ingest_indexes_by_default_and_search_finds_it(
    tmp_path: Path, hf_history_paths: list[Path]
) -> None:
    data = tmp_path / "data"
    ok(run(data, "init"))
    result = ok(run(data, "ingest", "hf-daily", hf_history_paths[0]))
    assert "search indexes up to date" in result.stderr
    numbers = stats(data)
    papers = numbers["papers"]
    assert papers > 5
    assert numbers["embedded"] == numbers["lexical_index_docs"] == papers
    assert numbers["dense_index_vectors"] == papers
    assert numbers["listings"] == papers
    first = json.loads(ok(run(data, "export", "-")).stdout.splitlines()[0])
    found = json.loads(ok(run(data, "search", first["title"], "--json", "--limit", "3")).stdout)
    assert found[0]["id"] == first["id"]


@pytest.mark.slow
def test_the_readme_flow_with_indexing(tmp_path: Path, seed_paths: list[Path]) -> None:
    """init; ingest the seeds (embedding 285 abstracts); stats; search. ~20-40 s on 2 cores."""
    data = tmp_path / "data"
    ok(run(data, "init"))
    ok(run(data, "ingest", "hf-page", *seed_paths))
    numbers = stats(data)
    assert numbers["papers"] == numbers["embedded"] == SEED_COUNT
    assert numbers["lexical_index_docs"] == numbers["dense_index_vectors"] == SEED_COUNT
    ok(run(data, "ingest", "hf-page", *seed_paths))
    assert stats(data)["papers"] == SEED_COUNT
    hits = json.loads(
        ok(run(data, "search", "2D Matryoshka sentence embeddings", "--json", "-n", "1")).stdout
    )
    assert hits[0]["title"] == MATRYOSHKA


# -- search, show, similar --------------------------------------------------------------------


def test_search_json_lists_the_results_in_the_api_shape(indexed_dir: Path) -> None:
    """Scripts read ``search --json`` as a list (``[0]["id"]``); each item is a paper in
    ``/api/v1``'s shape, as in ``/api/v1/search``'s ``results``."""
    query = "2D Matryoshka sentence embeddings"
    hits = json.loads(ok(run(indexed_dir, "search", query, "--json", "-n", "1")).stdout)
    assert matching(indexed_dir, query, "-n", "1") > 1
    assert isinstance(hits, list) and "results" in SearchOut.model_fields
    assert len(hits) == 1 and hits[0]["title"] == MATRYOSHKA
    assert hits[0]["id"].startswith("title:")
    assert hits[0]["score"] > 0
    assert set(hits[0]) == set(ScoredPaperOut.model_fields)


def test_search_text_with_explain_and_paging(indexed_dir: Path) -> None:
    result = ok(run(indexed_dir, "search", "Matryoshka embeddings", "--explain", "-n", "2"))
    assert MATRYOSHKA in result.stdout
    assert "fused #1" in result.stdout and "matched:" in result.stdout
    assert "--offset 2 for more" in result.stderr
    page1 = json.loads(ok(run(indexed_dir, "search", "embeddings", "--json", "-n", "4")).stdout)
    page2 = json.loads(
        ok(run(indexed_dir, "search", "embeddings", "--json", "-n", "2", "--offset", "2")).stdout
    )
    assert [h["id"] for h in page1[2:]] == [h["id"] for h in page2]
    assert matching(indexed_dir, "embeddings", "-n", "4") == matching(
        indexed_dir, "embeddings", "-n", "2", "--offset", "2"
    )


def test_the_last_page_offers_no_more_and_nonsense_offers_the_nearest(indexed_dir: Path) -> None:
    total = matching(indexed_dir, "embeddings")
    last = ok(run(indexed_dir, "search", "embeddings", "-n", "5", "--offset", str(total - 5)))
    assert f"of {total} matching" in last.stderr and "for more" not in last.stderr
    nonsense = ok(run(indexed_dir, "search", "xyzzy plugh"))
    assert "no papers match 'xyzzy plugh'" in nonsense.stderr
    assert "nearest by meaning" in nonsense.stdout and "1. " in nonsense.stdout
    assert json.loads(ok(run(indexed_dir, "search", "xyzzy plugh", "--json")).stdout) == []
    assert "5. " in nonsense.stdout and "6. " not in nonsense.stdout  # the five nearest


def test_show_and_similar_json_are_the_api_shape(indexed_dir: Path) -> None:
    found = json.loads(ok(run(indexed_dir, "search", MATRYOSHKA, "--json", "-n", "1")).stdout)
    hit = found[0]
    shown = json.loads(ok(run(indexed_dir, "show", hit["id"], "--json")).stdout)
    assert set(shown) == set(ScoredPaperOut.model_fields)
    assert shown["id"] == hit["id"]
    assert shown["title"] == MATRYOSHKA
    assert "Matryoshka" in shown["abstract"]
    assert {k: v for k, v in shown.items() if k != "score"} == {
        k: v for k, v in hit.items() if k != "score"
    }
    text = ok(run(indexed_dir, "show", hit["id"])).stdout
    assert MATRYOSHKA in text

    near = json.loads(ok(run(indexed_dir, "similar", hit["id"], "--json", "-n", "5")).stdout)
    assert len(near) == 5
    assert all(set(n) == set(ScoredPaperOut.model_fields) for n in near)
    assert hit["id"] not in {n["id"] for n in near}
    assert "Starbucks: Improved Training for 2D Matryoshka Embeddings" in {n["title"] for n in near}


def test_reindex_is_a_cheap_no_op_on_an_indexed_copy(indexed_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(indexed_dir, copy)
    result = ok(run(copy, "reindex", "--full"))
    assert f"lexical index: {SEED_COUNT} papers" in result.stderr
    assert "(0 newly embedded)" in " ".join(result.stderr.split())


# -- export / import round trip ---------------------------------------------------------------


def test_export_then_ingest_jsonl_into_a_fresh_directory(indexed_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = ok(run(indexed_dir, "export", out))
    assert f"exported {SEED_COUNT} papers" in result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == SEED_COUNT
    ids = {json.loads(line)["id"] for line in lines}

    fresh = tmp_path / "fresh"
    ok(run(fresh, "init"))
    ok(run(fresh, "ingest", "jsonl", out, "--no-index"))
    assert stats(fresh)["papers"] == SEED_COUNT
    again = ok(run(fresh, "export", "-")).stdout.splitlines()
    assert {json.loads(line)["id"] for line in again} == ids
    assert sorted(again) == sorted(lines)


# -- user mistakes: one line, non-zero exit, no traceback -------------------------------------


def mistake(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    message = " ".join(result.stderr.split())
    assert message.startswith("error:") or message.startswith("Usage:"), message
    for word in words:
        assert word in message, message
    assert result.stdout == ""
    return message


def test_search_before_init(tmp_path: Path) -> None:
    mistake(run(tmp_path / "data", "search", "anything"), "paperfeed init")
    assert not (tmp_path / "data" / "paperfeed.db").exists()


def test_ingest_tells_skipped_records_from_stored_ones_with_a_part_dropped(tmp_path: Path) -> None:
    lines = [
        {
            "source": "arxiv",
            "arxiv_id": "2401.00001",
            "title": "Kept",
            "abstract": "Fine.",
            "published": "2024-01-02",
        },
        {
            "source": "arxiv",
            "arxiv_id": "2401.00002",
            "title": "Unsafe link",
            "abstract": "Kept without it.",
            "published": "2024-01-02",
            "code_url": "javascript:alert(1)",
        },
        {
            "source": "arxiv",
            "arxiv_id": "2401.00003",
            "title": "Far future",
            "abstract": "Skipped.",
            "published": "9999-12-31",
        },
    ]
    path = tmp_path / "papers.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = ok(run(tmp_path / "data", "ingest", "jsonl", path, "--no-index"))
    assert f"dropped {path}:2:" in result.stderr.replace("\n", "")
    assert f"skipped {path}:3:" in result.stderr.replace("\n", "")
    assert "2 added, 0 updated, 0 unchanged, 1 skipped, 1 with a part dropped" in result.stderr


def test_ingest_unknown_source(tmp_path: Path) -> None:
    mistake(run(tmp_path / "data", "ingest", "nosuchsource", "x"), "nosuchsource", "hf-page")


def test_ingest_missing_file(tmp_path: Path) -> None:
    message = mistake(run(tmp_path / "data", "ingest", "hf-page", tmp_path / "missing.txt"))
    assert "missing.txt" in message.replace(" ", "")
    assert "no such file" in message


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("show", "9999.99999"), ("9999.99999",)),
        (("similar", "9999.99999"), ("9999.99999",)),
        (("search", "since:2024-13"), ("since:2024-13", "YYYY-MM-DD")),
        (("search", ""), ("empty query",)),
        (("search", "embeddings", "--mode", "fuzzy"), ("fuzzy",)),
    ],
)
def test_mistakes_on_an_initialised_directory(
    indexed_dir: Path, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    mistake(run(indexed_dir, *args), *words)


@pytest.mark.parametrize(
    "args",
    [
        ("search", "x", "--limit", "0"),
        ("search",),
        ("search", "x", "--bogus"),
        ("nosuchcommand",),
    ],
    ids=["bad-value", "missing-argument", "unknown-option", "unknown-command"],
)
def test_usage_error_is_reported_without_traceback(
    indexed_dir: Path, args: tuple[str, ...]
) -> None:
    result = run(indexed_dir, *args)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert "Usage:" in result.stderr or "Error" in result.stderr


def test_bare_command_shows_help_without_traceback(tmp_path: Path) -> None:
    result = run(tmp_path / "data", cwd=tmp_path)
    assert "Usage:" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_an_error_is_exactly_one_line(tmp_path: Path) -> None:
    result = run(tmp_path / "data", "search", "anything")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str((tmp_path / "data").resolve()) in result.stderr
