"""Export → our JSON-lines format → ingest gives back the same papers, field for field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from _core_helpers import SEED_COUNT, all_papers, count, make_workspace

from paperfeed.catalog.export import export_jsonl
from paperfeed.catalog.ingest import ingest_files
from paperfeed.db import Listing, Paper
from paperfeed.formats import get_format
from paperfeed.workspace import Workspace

COLUMNS = [
    c.name
    for c in Paper.__table__.columns
    if c.name not in {"pk", "first_seen", "changed_at", "change_seq"}
]


def contents(ws: Workspace) -> dict[str, dict]:
    """Every paper by id: all its stored fields and its listings (not local bookkeeping)."""
    out = {}
    for paper in all_papers(ws):
        row = {name: getattr(paper, name) for name in COLUMNS}
        row["listings"] = [(x.source, x.day, x.upvotes, x.comments) for x in paper.listings]
        out[paper.id] = row
    return out


@pytest.fixture(scope="module")
def mixed(
    tmp_path_factory: pytest.TempPathFactory,
    seed_paths: list[Path],
    kaggle_path: Path,
    hf_history_paths: list[Path],
) -> Workspace:
    """Papers from three sources: title-only pages, Kaggle (DOIs, versions), HF (listings)."""
    ws = make_workspace(tmp_path_factory.mktemp("mixed") / "data")
    ingest_files(ws.db, get_format("hf-page"), seed_paths)
    ingest_files(ws.db, get_format("kaggle"), [kaggle_path])
    ingest_files(ws.db, get_format("hf-daily"), hf_history_paths)
    return ws


@pytest.mark.parametrize("name", ["papers.jsonl", "papers.jsonl.gz"])
def test_export_and_reimport_give_identical_papers(
    mixed: Workspace, tmp_path: Path, name: str
) -> None:
    original = contents(mixed)
    assert len(original) > SEED_COUNT + 200
    assert any(p["listings"] for p in original.values())
    assert any(p["doi"] for p in original.values())
    assert any(p["id"].startswith("title:") for p in original.values())

    path = tmp_path / name
    assert export_jsonl(mixed, path) == len(original)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as stream:
        lines = [json.loads(line) for line in stream]
    assert [line["id"] for line in lines] == [p.id for p in all_papers(mixed)]  # oldest first

    fresh = make_workspace(tmp_path / "fresh")
    report = ingest_files(fresh.db, get_format("jsonl"), [path])
    assert report.problems == []
    assert report.added == len(original)
    assert count(fresh) == len(original)
    assert count(fresh, Listing) == count(mixed, Listing)
    copy = contents(fresh)
    assert copy.keys() == original.keys()
    for paper_id, fields in original.items():
        assert copy[paper_id] == fields, paper_id


def test_reimporting_an_export_into_the_same_workspace_changes_nothing(
    mixed: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "papers.jsonl"
    exported = export_jsonl(mixed, path)
    before = contents(mixed)
    report = ingest_files(mixed.db, get_format("jsonl"), [path])
    assert (report.added, report.updated, report.unchanged) == (0, 0, exported)
    assert contents(mixed) == before


def test_export_of_an_empty_workspace_is_an_empty_file(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "empty.jsonl"
    assert export_jsonl(workspace, path) == 0
    assert path.read_text() == ""
