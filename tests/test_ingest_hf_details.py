"""Ingest stores Hugging Face's details on both paths (new papers in bulk, updates merged
field by field), never lets a poorer source blank them, and never re-embeds for them."""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from _core_helpers import HF_DATA, paper_by_id
from sqlalchemy import delete, func, select, text

from paperfeed.catalog.ingest import ingest_files, upsert_records
from paperfeed.catalog.records import DETAIL_FIELDS, ListingRecord, PaperDetails, PaperRecord
from paperfeed.db import EmbedQueue, Paper, changes
from paperfeed.formats import get_format
from paperfeed.workspace import Workspace

DAY = HF_DATA / "2026-08-18.json.gz"


def _stored(ws: Workspace) -> dict[str, dict[str, object]]:
    with ws.db.session() as session:
        return {
            p.id: {name: getattr(p, name) for name in DETAIL_FIELDS}
            for p in session.scalars(select(Paper))
        }


def test_both_insert_paths_store_the_same_details(workspace: Workspace, tmp_path: Path) -> None:
    from _core_helpers import make_workspace

    report = ingest_files(workspace.db, get_format("hf-daily"), [DAY])
    assert report.added == 29 and report.problems == []
    other = make_workspace(tmp_path / "one-by-one")
    ingest_files(other.db, get_format("hf-daily"), [DAY], bulk=False)
    stored = _stored(workspace)
    assert stored == _stored(other)
    raw = {e["paper"]["id"]: e for e in json.loads(gzip.decompress(DAY.read_bytes()))}
    assert sum(1 for d in stored.values() if d["ai_summary"]) == 29
    for paper_id, details in stored.items():
        entry = raw[paper_id]
        assert details["github_stars"] == entry["paper"].get("githubStars")
        assert details["org_name"] == (entry.get("organization") or {}).get("name")
        assert details["submitter"] == entry["submittedBy"]["name"]
        assert details["ai_keywords"] == list(dict.fromkeys(entry["paper"]["ai_keywords"]))
        assert details["thumbnail"] is None and details["media"] == []


def _record(paper_id: str, day: date, details: PaperDetails | None, title: str) -> PaperRecord:
    return PaperRecord(
        title=title,
        source="hf-daily",
        arxiv_id=paper_id,
        listings=[ListingRecord("hf-daily", day)],
        details=details,
    )


def test_updates_merge_details_field_by_field_without_re_embedding(workspace: Workspace) -> None:
    ingest_files(workspace.db, get_format("hf-daily"), [DAY])
    with workspace.db.session() as session:
        session.execute(delete(EmbedQueue))  # as if every paper had its vector
    paper = paper_by_id(workspace, "2608.14783")
    title, seq, stars = paper.title, paper.change_seq, paper.github_stars
    assert paper.ai_summary and paper.org_name
    later = date(2026, 8, 20)

    # A poorer source (no details, or empty ones) blanks nothing.
    with workspace.db.session() as session:
        upsert_records(session, [_record(paper.id, later, None, title)])
        upsert_records(session, [_record(paper.id, later, PaperDetails(), title)])
    again = paper_by_id(workspace, paper.id)
    assert (again.ai_summary, again.org_name, again.ai_keywords) == (
        paper.ai_summary,
        paper.org_name,
        paper.ai_keywords,
    )

    # A newer listing with more stars and a cached thumbnail changes just those.
    thumb = "b" * 64 + ".png"
    newer = PaperDetails(github_stars=(stars or 0) + 50, thumbnail=thumb)
    with workspace.db.session() as session:
        before = changes.current(session)
        report = upsert_records(session, [_record(paper.id, later, newer, title)])
    assert report.updated == 1 and report.problems == []
    changed = paper_by_id(workspace, paper.id)
    assert changed.github_stars == (stars or 0) + 50
    assert changed.thumbnail == thumb
    assert changed.ai_summary == paper.ai_summary
    with workspace.db.session() as session:
        assert changes.current(session) > before  # pages see the change ...
        assert session.scalar(select(func.count()).select_from(EmbedQueue)) == 0
    assert changed.change_seq == seq  # ... but nothing searched or embedded changed

    # An older listing only fills gaps: it does not take the stars back.
    older = PaperDetails(github_stars=1, project_page="https://example.org/p")
    with workspace.db.session() as session:
        upsert_records(session, [_record(paper.id, date(2026, 8, 1), older, title)])
    last = paper_by_id(workspace, paper.id)
    assert last.github_stars == (stars or 0) + 50
    assert last.project_page == (paper.project_page or "https://example.org/p")


def test_export_carries_the_details_but_not_the_local_image_names(
    workspace: Workspace, tmp_path: Path
) -> None:
    from paperfeed.catalog.export import export_jsonl

    ingest_files(workspace.db, get_format("hf-daily"), [DAY])
    with workspace.db.session() as session:
        paper = session.scalars(select(Paper).where(Paper.ai_summary.is_not(None))).first()
        assert paper is not None
        paper.thumbnail = "c" * 64 + ".png"
    path = tmp_path / "out.jsonl"
    export_jsonl(workspace, path)
    rows = {json.loads(line)["id"]: json.loads(line) for line in path.read_text().splitlines()}
    exported = rows[paper.id]["details"]
    assert exported["ai_summary"] == paper.ai_summary
    assert exported["thumbnail"] is None
    records = [r for r in get_format("jsonl").parse(path) if isinstance(r, PaperRecord)]
    back = next(r for r in records if r.arxiv_id == paper.id)
    assert back.details is not None
    assert dataclasses.replace(back.details, thumbnail=None).ai_keywords == paper.ai_keywords


def test_author_pages_use_an_index_on_postgresql(
    postgres_database: Callable[[], str], tmp_path: Path
) -> None:
    """The author filter of the people pages is answered by the GIN index of migration 0012."""
    from paperfeed.config import Settings
    from paperfeed.web.people import _has_author

    ws = Workspace.create(Settings(data_dir=tmp_path, database_url=postgres_database()))
    ingest_files(ws.db, get_format("hf-daily"), [DAY])
    with ws.db.session() as session:
        author = paper_by_id(ws, "2608.14783").authors[0]
        session.execute(text("SET LOCAL enable_seqscan = off"))  # 29 rows: force the choice
        query = select(Paper.id).where(_has_author(session, author))
        sql = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.connection().exec_driver_sql(f"EXPLAIN {sql}").scalars())
        found = session.scalars(query).all()
    assert "ix_papers_authors_jsonb" in plan
    assert "2608.14783" in found
    ws.db.engine.dispose()
