"""Run a live source: fetch its pages, store them with their checkpoints, index, record the run.

The guarantees, and how they are kept:

* **Resumable, never doubled.** Each page is ONE transaction: its papers are upserted and the
  connector's cursor for the next page is stored together. A run killed at any point leaves
  the database at the end of some page, with the checkpoint saying where the next run starts.
  A page fetched twice (after a crash, or when an expired OAI token restarts its window)
  changes nothing the second time: upserts are keyed on the arXiv id.
* **Recorded.** Every run is a ``source_runs`` row (window, pages, counts, error, notes),
  updated in each page's transaction, so even a killed run shows how far it got; the next run
  on the same host marks it ``crashed`` when its process is gone.
* **Searchable when it ends.** The indexes are synced every ``sync_every`` pages and at the
  end (after a failure too: what was committed is searchable). Embedding or indexing may
  fail; the papers are already committed, the failure is noted on the run, and the next
  sync (next run, `paperfeed reindex`) picks them up.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.catalog.ingest import process_alive, upsert_records
from paperfeed.catalog.records import ParseProblem
from paperfeed.db import LiveSource, SourceCheckpoint, SourceRun
from paperfeed.errors import ConflictError, PaperfeedError
from paperfeed.live.connector import Page
from paperfeed.live.http import PoliteClient
from paperfeed.live.registry import KINDS, get_source_row, make_client, spec_of
from paperfeed.progress import Progress
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

SYNC_EVERY = 20  # pages between index syncs in a long harvest

# (source name, pages so far, records so far) after each committed page.


@dataclass
class RunReport:
    """What one run did (the ``source_runs`` row, as the caller sees it)."""

    source: str
    kind: str
    status: str = "running"  # then ok / failed
    window_from: str | None = None
    window_until: str | None = None
    pages: int = 0
    added: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = None
    index_error: str | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    resumed: bool = False  # started from a checkpoint in the middle of a window
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Harvested and indexed without error."""
        return self.status == "ok" and self.index_error is None

    @property
    def records(self) -> int:
        return self.added + self.updated + self.skipped

    def summary(self) -> str:
        """One line for the terminal and logs."""
        counts = (
            f"{self.added} new, {self.updated} updated, {self.skipped} skipped, "
            f"{self.failed} failed"
        )
        line = f"{self.source}: {self.status}"
        if self.window_from or self.window_until:
            line += f" · {self.window_from or 'start'} → {self.window_until or '…'}"
        pages = f"{self.pages} page" + ("" if self.pages == 1 else "s")
        line += f" · {pages} · {counts} · {self.seconds:.1f} s"
        if self.resumed:
            line += " · resumed from checkpoint"
        if self.error:
            line += f" · error: {self.error}"
        if self.index_error:
            line += f" · search index not updated: {self.index_error}"
        return line


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A recorded run, for listings."""

    status: str
    started_at: datetime
    finished_at: datetime | None
    window_from: str | None
    window_until: str | None
    pages: int
    added: int
    updated: int
    skipped: int
    failed: int
    error: str | None
    notes: str | None

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "seconds": self.seconds,
            "window_from": self.window_from,
            "window_until": self.window_until,
            "pages": self.pages,
            "added": self.added,
            "updated": self.updated,
            "skipped": self.skipped,
            "failed": self.failed,
            "error": self.error,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A configured source with its checkpoint and last run (for CLI, API and admin page)."""

    name: str
    kind: str
    params: dict[str, Any]
    base_url: str
    enabled: bool
    created_at: datetime
    cursor: dict[str, Any] | None
    last_run: RunSummary | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "params": self.params,
            "base_url": self.base_url,
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat(),
            "cursor": self.cursor,
            "last_run": self.last_run.as_dict() if self.last_run else None,
        }


def run_source(
    workspace: Workspace,
    source_name: str,
    progress: Progress | None = None,
    *,
    client: PoliteClient | None = None,
    index: bool = True,
    sync_every: int = SYNC_EVERY,
    index_progress: Progress | None = None,
) -> RunReport:
    """Harvest ``source_name`` from its checkpoint on; see the module docstring.

    ``client`` lets several runs share one polite client (and its per-host spacing); without
    one, a client is made from the settings. ``index=False`` leaves embedding and indexing
    to a later sync; ``index_progress`` is handed to ``Indexes.sync``. A failed harvest is
    reported (``status == "failed"``), not raised; ``ConflictError`` is raised when the
    source is being harvested by a live process.
    """
    db = workspace.db
    started = time.monotonic()
    with db.session() as session:
        row = get_source_row(session, source_name)
        _close_dead_runs(session, row)
        spec = spec_of(row, workspace.settings)
        checkpoint = session.get(SourceCheckpoint, row.pk)
        cursor: dict[str, Any] = dict(checkpoint.cursor) if checkpoint else {}
        run = SourceRun(source_pk=row.pk, host=socket.gethostname(), pid=os.getpid())
        session.add(run)
        session.flush()
        source_pk, run_pk = row.pk, run.pk
    report = RunReport(source=spec.name, kind=spec.kind, resumed=_mid_window(cursor))
    own_client = client is None
    http = make_client(workspace.settings, [spec]) if client is None else client
    try:
        for page in KINDS[spec.kind].connector(http, spec, cursor):
            _commit_page(workspace, source_pk, run_pk, page, report)
            if progress:
                progress(spec.name, report.pages, report.records + report.failed)
            if index and report.pages % sync_every == 0:
                _sync(workspace, report, index_progress)
        report.status = "ok"
    except PaperfeedError as error:  # the service or its answer: recorded, not raised
        report.status, report.error = "failed", str(error)
    except KeyboardInterrupt:
        report.status = "failed"
        report.error = "interrupted; the next run resumes after the last stored page"
        _finish(workspace, run_pk, report, started)
        raise
    except Exception as error:  # a bug: recorded for `sources list`, then shown in full
        report.status, report.error = "failed", f"{type(error).__name__}: {error}"
        _finish(workspace, run_pk, report, started)
        raise
    finally:
        if own_client:
            http.close()
    if index:
        _sync(workspace, report, index_progress)
    _finish(workspace, run_pk, report, started)
    return report


def recent_runs(workspace: Workspace, limit: int = 50) -> list[tuple[str, RunSummary]]:
    """The latest runs of every source, newest first, as (source name, run)."""
    host = socket.gethostname()
    with workspace.db.session() as session:
        rows = session.execute(
            select(LiveSource.name, SourceRun)
            .join(SourceRun, SourceRun.source_pk == LiveSource.pk)
            .order_by(SourceRun.pk.desc())
            .limit(limit)
        ).all()
        return [(name, _summary(run, host)) for name, run in rows]


def _summary(run: SourceRun, host: str) -> RunSummary:
    status = run.status
    if status == "running" and run.host == host and not process_alive(run.pid):
        status = "crashed"
    return RunSummary(
        status=status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        window_from=run.window_from,
        window_until=run.window_until,
        pages=run.pages,
        added=run.added,
        updated=run.updated,
        skipped=run.skipped,
        failed=run.failed,
        error=run.error,
        notes=run.notes,
    )


def list_sources_with_last_run(workspace: Workspace) -> list[SourceStatus]:
    """Every configured source, by name, with its checkpoint and latest run. Read only: a
    run whose process is gone shows as ``crashed`` before the next run records it so."""
    statuses = []
    host = socket.gethostname()
    with workspace.db.session() as session:
        for row in session.scalars(select(LiveSource).order_by(LiveSource.name)):
            run = session.scalar(
                select(SourceRun)
                .where(SourceRun.source_pk == row.pk)
                .order_by(SourceRun.pk.desc())
                .limit(1)
            )
            checkpoint = session.get(SourceCheckpoint, row.pk)
            last = _summary(run, host) if run is not None else None
            spec = spec_of(row, workspace.settings)
            statuses.append(
                SourceStatus(
                    name=row.name,
                    kind=row.kind,
                    params=dict(spec.params),
                    base_url=spec.base_url,
                    enabled=row.enabled,
                    created_at=row.created_at,
                    cursor=dict(checkpoint.cursor) if checkpoint else None,
                    last_run=last,
                )
            )
    return statuses


# --- steps ---------------------------------------------------------------------------------


def _commit_page(
    workspace: Workspace, source_pk: int, run_pk: int, page: Page, report: RunReport
) -> None:
    """The page's papers, its cursor and the run's counts: one transaction."""
    with workspace.db.session() as session:
        upserted = upsert_records(session, page.records)
        checkpoint = session.get(SourceCheckpoint, source_pk)
        now = datetime.now(UTC)
        if checkpoint is None:
            session.add(SourceCheckpoint(source_pk=source_pk, cursor=page.next_cursor))
        else:
            checkpoint.cursor = page.next_cursor
            checkpoint.updated_at = now
        report.pages += 1
        report.added += upserted.added
        report.updated += upserted.updated
        report.skipped += upserted.unchanged + page.skipped
        report.failed += sum(1 for problem in page.problems if not problem.kept)
        report.problems.extend(page.problems)
        if report.window_from is None:
            report.window_from = page.window[0]
        report.window_until = page.window[1] or report.window_until
        if page.note:
            report.notes.append(page.note)
        run = session.get(SourceRun, run_pk)
        assert run is not None
        _copy(report, run)


def _sync(workspace: Workspace, report: RunReport, progress: Progress | None) -> None:
    """Bring the indexes up to date; a failure is noted, never fatal (papers are stored)."""
    try:
        catch_up(workspace, progress)
    except Exception as error:  # embedding model, disk, index lock: all retried next sync
        report.index_error = str(error) or type(error).__name__
    else:
        report.index_error = None


def _finish(workspace: Workspace, run_pk: int, report: RunReport, started: float) -> None:
    report.seconds = time.monotonic() - started
    notes = list(report.notes)
    if report.index_error:
        notes.append(
            f"search index not updated ({report.index_error}); the papers are stored and the "
            "next run or `paperfeed reindex` indexes them"
        )
    with workspace.db.session() as session:
        run = session.get(SourceRun, run_pk)
        assert run is not None
        _copy(report, run)
        run.notes = "\n".join(notes) or None
        run.status = report.status
        run.error = report.error
        run.finished_at = datetime.now(UTC)


def _copy(report: RunReport, run: SourceRun) -> None:
    run.window_from, run.window_until = report.window_from, report.window_until
    run.pages = report.pages
    run.added, run.updated = report.added, report.updated
    run.skipped, run.failed = report.skipped, report.failed
    run.notes = "\n".join(report.notes) or None


def _close_dead_runs(session: Session, source: LiveSource) -> None:
    """Mark this host's 'running' runs of ``source`` whose process is gone as crashed; refuse
    to start while one is still alive (two harvests of one source would race on its
    checkpoint)."""
    host = socket.gethostname()
    for run in session.scalars(
        select(SourceRun).where(
            SourceRun.source_pk == source.pk,
            SourceRun.status == "running",
            SourceRun.host == host,
        )
    ):
        if process_alive(run.pid):
            raise ConflictError(
                f"source {source.name!r} is being harvested by process {run.pid} on this host; "
                "wait for it to finish"
            )
        run.status = "crashed"
        run.error = f"process {run.pid} ended without finishing; the next run resumed"


def _mid_window(cursor: dict[str, Any]) -> bool:
    return bool(cursor.get("token") or cursor.get("start"))
