"""Ingest: upsert parsed records into the database, in checkpointed batches.

An upsert is keyed on the stable id (arXiv id, else normalised-title hash), so running an
import twice changes nothing. Each batch commits together with its file checkpoint: a crash or
Ctrl-C loses at most the batch in flight, and a re-run resumes after the last committed batch.

A batch's records are applied in order, each by the same merge rules. Papers already stored
are loaded and changed through the ORM; papers new to the database (most of a first import)
are built as plain objects and written with one Core ``INSERT ... ON CONFLICT DO NOTHING``
per batch (``_insert_new_papers``): a first import of the Kaggle snapshot takes 0.6 times
the CPU time (``bench/bench_ingest.py --kaggle``). A new paper that another process stores
meanwhile is then updated, not lost.

Nothing is stored unchecked: every record, from a file, a live source or a submission, goes
through ``validate.check_record`` first (dates the indexes can hold, http(s) links only,
printable text, bounded sizes), so one hostile record is a reported problem, never a stored
link that runs script or a date that breaks every later search and ingest.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, selectinload

from paperfeed.catalog.records import (
    DETAIL_FIELDS,
    ListingRecord,
    PaperDetails,
    PaperRecord,
    ParseProblem,
    title_key,
)
from paperfeed.catalog.validate import check_record
from paperfeed.db import Base, Database, IngestCheckpoint, IngestRun, Listing, Paper, changes
from paperfeed.errors import SourceError
from paperfeed.formats import Format
from paperfeed.progress import Progress

# Fields copied from a record onto a paper when the record has a value for them.
_FIELDS = (
    "title",
    "abstract",
    "authors",
    "categories",
    "published",
    "updated",
    "doi",
    "journal_ref",
    "comments",
    "abs_url",
    "pdf_url",
    "code_url",
)
ANALYZE_AFTER = 1000  # papers added or changed by one ingest that refresh the planner statistics

_PAPERS: Table = Base.metadata.tables[Paper.__tablename__]
_LISTINGS: Table = Base.metadata.tables[Listing.__tablename__]


@dataclass
class IngestReport:
    """What one ingest did; ``problems`` are the skipped records with file, line and reason."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    resumed_items: int = 0
    problems: list[ParseProblem] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.added + self.updated + self.unchanged

    @property
    def skipped(self) -> int:
        """Records not stored; the other problems name parts dropped from stored records."""
        return sum(1 for problem in self.problems if not problem.kept)


def ingest_files(
    db: Database,
    source: Format,
    paths: Sequence[Path],
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
    bulk: bool = True,
) -> IngestReport:
    """Import ``paths`` with ``source``; see the module docstring for the guarantees.

    ``bulk=False`` stores each new paper as its own ORM object, the slower path every paper
    took before new ones were inserted in bulk: the reference the bulk path is tested and
    benchmarked against. Both store the same rows.
    """
    for path in paths:
        if not path.is_file():
            raise SourceError(f"{path}: no such file")
    report = IngestReport()
    with db.session() as session:
        _close_dead_runs(session)
        run = IngestRun(
            source=source.name,
            paths=[str(p) for p in paths],
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        session.add(run)
    try:
        for path in paths:
            _ingest_file(db, source, path, batch_size, report, progress, bulk)
    except BaseException as exc:
        _finish_run(
            db,
            run,
            report,
            "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
            str(exc) or type(exc).__name__,
        )
        raise
    _finish_run(db, run, report, "done", None)
    if report.added + report.updated >= ANALYZE_AFTER:
        db.analyze()
    return report


def _close_dead_runs(session: Session) -> None:
    """Mark 'running' runs of this host whose process is gone (killed, crashed) as crashed."""
    host = socket.gethostname()
    for run in session.scalars(
        select(IngestRun).where(IngestRun.status == "running", IngestRun.host == host)
    ):
        if not process_alive(run.pid):
            run.status = "crashed"
            run.error = f"process {run.pid} ended without finishing; a re-run resumes"


def process_alive(pid: int | None) -> bool:
    """Whether a process with this pid runs on this host (None: no process recorded)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _finish_run(
    db: Database, run: IngestRun, report: IngestReport, status: str, error: str | None
) -> None:
    with db.session() as session:
        row = session.get(IngestRun, run.pk)
        assert row is not None
        row.status = status
        row.error = error
        row.finished_at = datetime.now(UTC)
        row.added, row.updated, row.unchanged = report.added, report.updated, report.unchanged
        row.problems = len(report.problems)


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _ingest_file(
    db: Database,
    source: Format,
    path: Path,
    batch_size: int,
    report: IngestReport,
    progress: Progress | None,
    bulk: bool,
) -> None:
    key = str(path.resolve())
    fingerprint = _fingerprint(path)
    with db.session() as session:
        checkpoint = session.get(IngestCheckpoint, (source.name, key))
        if checkpoint is None:
            checkpoint = IngestCheckpoint(
                source=source.name, path=key, fingerprint=fingerprint, items_done=0, complete=False
            )
            session.add(checkpoint)
        elif checkpoint.fingerprint != fingerprint or checkpoint.complete:
            checkpoint.fingerprint, checkpoint.items_done, checkpoint.complete = (
                fingerprint,
                0,
                False,
            )
        skip = checkpoint.items_done
    report.resumed_items += skip

    done = 0
    for batch in _batches(source.parse(path), batch_size):
        if done + len(batch) <= skip:  # committed by an earlier, interrupted run
            done += len(batch)
            continue
        fresh = batch[max(0, skip - done) :]
        records, problems = _checked(fresh, str(path))
        with db.session() as session:
            _upsert(session, records, report, bulk=bulk)
            done += len(batch)
            _save_checkpoint(session, source.name, key, done, complete=False)
        report.problems.extend(problems)
        if progress:
            progress(f"ingest {path.name}", len(fresh), 0)
    with db.session() as session:
        _save_checkpoint(session, source.name, key, done, complete=True)


def _save_checkpoint(session: Session, source: str, path: str, done: int, complete: bool) -> None:
    checkpoint = session.get(IngestCheckpoint, (source, path))
    assert checkpoint is not None
    checkpoint.items_done = done
    checkpoint.complete = complete
    checkpoint.updated_at = datetime.now(UTC)


def _batches(
    items: Iterable[PaperRecord | ParseProblem], size: int
) -> Iterator[list[PaperRecord | ParseProblem]]:
    batch: list[PaperRecord | ParseProblem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _checked(
    items: Iterable[PaperRecord | ParseProblem], origin: str
) -> tuple[list[PaperRecord], list[ParseProblem]]:
    """The records that may be stored, and every problem: the parser's and the checks'."""
    records: list[PaperRecord] = []
    problems: list[ParseProblem] = []
    for item in items:
        if isinstance(item, ParseProblem):
            problems.append(item)
            continue
        record, found = check_record(item, origin)
        problems.extend(found)
        if record is not None:
            records.append(record)
    return records, problems


def upsert_records(session: Session, records: list[PaperRecord]) -> IngestReport:
    """Check and upsert records in the caller's transaction (live sources, submissions).

    Records that fail the checks are left out and reported in ``problems``, located by the
    record's source name (callers that parse pages check them first, with the page's URL).
    """
    report = IngestReport()
    checked: list[PaperRecord] = []
    for record in records:
        origin = record.source if isinstance(record.source, str) else "record"
        kept, problems = check_record(record, origin)
        report.problems.extend(problems)
        if kept is not None:
            checked.append(kept)
    _upsert(session, checked, report)
    return report


def _upsert(
    session: Session, records: list[PaperRecord], report: IngestReport, *, bulk: bool = True
) -> None:
    # Records sharing an id inside the batch are applied in order, each by the same rules
    # as across batches (``by_id`` sees the paper the earlier one created).
    if not records:
        return
    keys = [r.key for r in records]
    title_keys = [title_key(r.title) for r in records]
    with_listings = selectinload(Paper.listings)
    by_id: dict[str, Paper | _NewPaper] = {
        p.id: p
        for p in session.scalars(select(Paper).where(Paper.id.in_(keys)).options(with_listings))
    }
    by_title: dict[str, Paper | _NewPaper] = {}
    for found in session.scalars(
        select(Paper).where(Paper.title_key.in_(title_keys)).options(with_listings)
    ):
        # Prefer a paper with an arXiv id when titles collide.
        if found.title_key not in by_title or by_title[found.title_key].id.startswith("title:"):
            by_title[found.title_key] = found

    now = datetime.now(UTC)
    new: list[_NewPaper] = []
    for record, tkey in zip(records, title_keys, strict=True):
        paper = by_id.get(record.key)
        if paper is None:
            paper = _match_by_title(by_title.get(tkey), record)
        if paper is None:
            if bulk:
                paper = _NewPaper.of(record, tkey, now)
                new.append(paper)
            else:
                paper = _new_paper(record, tkey, now)
                session.add(paper)
                report.added += 1
            by_id[paper.id] = paper
            by_title.setdefault(tkey, paper)
            _merge_listings(paper, record)
            continue
        changed = _update_paper(paper, record, tkey)
        by_id.setdefault(paper.id, paper)  # a title-only paper that just learnt its arXiv id
        changed |= _merge_listings(paper, record)
        if isinstance(paper, _NewPaper):
            paper.records.append(record)
            paper.changes.append(changed)
        elif changed:
            paper.changed_at = now
            report.updated += 1
        else:
            report.unchanged += 1
    if new:
        _store_new(session, new, report, now)


@dataclass(slots=True)
class _NewPaper:
    """A paper first seen in this batch: built in memory, merged into by the batch's later
    records under the same rules as a stored paper, then inserted with the rest in bulk.

    Building and flushing ORM objects took 60 % of a first import of the Kaggle snapshot
    (2.7M records, nearly all new papers), hence this plain stand-in with ``Paper``'s
    attributes: ``_update_paper`` and ``_merge_listings`` work on either.
    """

    id: str
    title_key: str
    version: int | None
    source: str
    primary_category: str | None
    first_seen: datetime
    changed_at: datetime
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: datetime | None
    updated: datetime | None
    doi: str | None
    journal_ref: str | None
    comments: str | None
    abs_url: str | None
    pdf_url: str | None
    code_url: str | None
    # Hugging Face details (``DETAIL_FIELDS``), empty unless the record had them.
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    org_name: str | None = None
    org_fullname: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    submitter: str | None = None
    thumbnail_url: str | None = None
    media_urls: list[str] = field(default_factory=list)
    thumbnail: str | None = None
    media: list[str] = field(default_factory=list)
    listings: list[ListingRecord] = field(default_factory=list)
    # The records that made it, in order, and whether each later one changed it: counted
    # once it is stored, replayed on the stored paper if another process stored it first.
    records: list[PaperRecord] = field(default_factory=list)
    changes: list[bool] = field(default_factory=list)

    @classmethod
    def of(cls, record: PaperRecord, tkey: str, now: datetime) -> _NewPaper:
        return cls(
            **_details_of(record.details),
            id=record.key,
            title_key=tkey,
            version=record.version,
            source=record.source,
            primary_category=record.primary_category,
            first_seen=now,
            changed_at=now,
            title=record.title,
            abstract=record.abstract or "",
            authors=list(record.authors),
            categories=list(record.categories),
            published=record.published,
            updated=record.updated,
            doi=record.doi,
            journal_ref=record.journal_ref,
            comments=record.comments,
            abs_url=record.abs_url,
            pdf_url=record.pdf_url,
            code_url=record.code_url,
            records=[record],
        )

    def row(self) -> dict[str, object]:
        """The ``papers`` row, with the columns ``_new_paper`` sets (the rest take defaults)."""
        return {name: getattr(self, name) for name in _NEW_COLUMNS}


# Every column ``_new_paper`` gives a value; the others (votes, hidden, ...) keep their defaults.
_NEW_COLUMNS = (
    "id",
    "title_key",
    "version",
    "source",
    "primary_category",
    "first_seen",
    "changed_at",
    *_FIELDS,
    *DETAIL_FIELDS,
)


def _details_of(details: PaperDetails | None) -> dict[str, Any]:
    """The details as column values (copies of the lists); none for a record without."""
    if details is None:
        return {}
    values: dict[str, Any] = {}
    for name in DETAIL_FIELDS:
        value = getattr(details, name)
        values[name] = list(value) if isinstance(value, list) else value
    return values


def _store_new(session: Session, new: list[_NewPaper], report: IngestReport, now: datetime) -> None:
    """Insert the batch's new papers and their listings in two statements.

    A paper another process stored since this batch looked (its insert finds the id taken)
    is not lost: its records are applied to the stored paper by the per-record rules.
    """
    pks = _insert_new_papers(session, [paper.row() for paper in new])
    listings: list[dict[str, object]] = []
    lost: list[_NewPaper] = []
    for paper in new:
        pk = pks.get(paper.id)
        if pk is None:
            lost.append(paper)
            continue
        report.added += 1
        for changed in paper.changes:
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
        listings.extend(
            {
                "paper_pk": pk,
                "source": x.source,
                "day": x.day,
                "upvotes": x.upvotes,
                "comments": x.comments,
            }
            for x in paper.listings
        )
    if listings:
        session.execute(insert(_LISTINGS), listings)
    if lost:
        _replay(session, lost, report, now)


def _insert_new_papers(session: Session, rows: list[dict[str, object]]) -> dict[str, int]:
    """Insert ``papers`` rows in one executemany; the pk of each row inserted, by id.

    Every Core write of ``papers`` goes through here, so what each inserted row must carry
    is added in one place: the transaction's data version (``change_seq``, which the
    indexes catch up from) and a place in the embed queue (``paperfeed.db.changes``). A row
    whose id is already stored (by another process since the batch looked) is skipped, not
    an error: it is missing from the result and the caller applies it as an update.
    """
    seq = changes.stamp(session)
    statement = (
        changes.insert_for(session)(_PAPERS)
        .on_conflict_do_nothing()
        .returning(_PAPERS.c.pk, _PAPERS.c.id)
    )
    stamped = [{**row, "change_seq": seq} for row in rows]
    inserted = {paper_id: pk for pk, paper_id in session.execute(statement, stamped)}
    changes.queue_for_embedding(session, inserted.values())
    return inserted


def _replay(session: Session, lost: list[_NewPaper], report: IngestReport, now: datetime) -> None:
    """Apply the records of papers that lost the insert race to the papers that won it."""
    stored = {
        p.id: p
        for p in session.scalars(
            select(Paper)
            .where(Paper.id.in_([paper.id for paper in lost]))
            .options(selectinload(Paper.listings))
        )
    }
    for paper in lost:
        target = stored[paper.id]
        for record in paper.records:
            changed = _update_paper(target, record, title_key(record.title))
            changed |= _merge_listings(target, record)
            if changed:
                target.changed_at = now
                report.updated += 1
            else:
                report.unchanged += 1


def _match_by_title(
    candidate: Paper | _NewPaper | None, record: PaperRecord
) -> Paper | _NewPaper | None:
    """Same title: one paper, unless both sides carry different arXiv ids."""
    if candidate is None:
        return None
    if record.has_own_id and not candidate.id.startswith("title:"):
        return None  # two identified papers that happen to share a title stay two papers
    return candidate


def _new_paper(record: PaperRecord, tkey: str, now: datetime) -> Paper:
    paper = Paper(
        id=record.key,
        title_key=tkey,
        version=record.version,
        source=record.source,
        primary_category=record.primary_category,
        first_seen=now,
        changed_at=now,
    )
    for name in _FIELDS:
        setattr(paper, name, getattr(record, name))
    paper.abstract = paper.abstract or ""
    paper.authors = list(record.authors)
    paper.categories = list(record.categories)
    for name in DETAIL_FIELDS:
        setattr(paper, name, [] if name in _LIST_DETAILS else None)
    for name, value in _details_of(record.details).items():
        setattr(paper, name, value)
    return paper


_LIST_DETAILS = frozenset({"ai_keywords", "media_urls", "media"})


def _update_paper(paper: Paper | _NewPaper, record: PaperRecord, tkey: str) -> bool:
    """Apply what the record knows. An older version only fills gaps, never overwrites."""
    changed = False
    if record.has_own_id and paper.id.startswith("title:"):
        paper.id = record.key  # a title-only paper learns its real id
        changed = True
    older = _is_older(record, paper)
    details = _details_of(record.details)
    for name, new in [*((name, getattr(record, name)) for name in _FIELDS), *details.items()]:
        if new in (None, "", []):
            continue  # a poorer source never blanks out what a richer one gave
        old = getattr(paper, name)
        if old == new or (older and old not in (None, "", [])):
            continue
        setattr(paper, name, list(new) if isinstance(new, list) else new)
        changed = True
    if record.version is not None and (paper.version is None or record.version > paper.version):
        paper.version = record.version
        changed = True
    if paper.title_key != tkey and not older:
        paper.title_key = tkey
        changed = True
    if record.categories and paper.primary_category != paper.categories[0]:
        paper.primary_category = paper.categories[0]
        changed = True
    return changed


def _is_older(record: PaperRecord, paper: Paper | _NewPaper) -> bool:
    """Is the record an older state of the paper than the one stored?

    By version where both have one; else, for versionless listings (arXiv daily), by the
    latest listing day, so re-reading an older day never overwrites a newer one.
    """
    if record.version is not None and paper.version is not None:
        return record.version < paper.version
    if record.listings and paper.listings:
        return max(x.day for x in record.listings) < max(x.day for x in paper.listings)
    return False


def _merge_listings(paper: Paper | _NewPaper, record: PaperRecord) -> bool:
    changed = False
    existing = {(lst.source, lst.day): lst for lst in paper.listings}
    for listing in record.listings:
        row = existing.get((listing.source, listing.day))
        if row is None:
            row = (ListingRecord if isinstance(paper, _NewPaper) else Listing)(
                source=listing.source,
                day=listing.day,
                upvotes=listing.upvotes,
                comments=listing.comments,
            )
            paper.listings.append(row)  # type: ignore[arg-type]
            existing[(listing.source, listing.day)] = row
            changed = True
            continue
        for name in ("upvotes", "comments"):
            value = getattr(listing, name)
            if value is not None and getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
    return changed
