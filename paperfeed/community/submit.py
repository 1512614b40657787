"""Submitting a paper by arXiv id or URL: fetch it if we lack it, list it today, index it.

Only one process asks arXiv: when a worker holds the lease, web nodes queue the papers they
lack (``SubmissionRequest``) and the worker fetches them (``process_submissions``), keeping
arXiv's spacing across every node; without a worker, the web process fetches them itself.

A submission is a listing of source ``submitted`` on the day it was made, so the paper joins
that day's feed (as on Hugging Face Daily Papers); who submitted it first is kept. The same
paper submitted twice at once ends as one paper and one listing: the second store of the
fetched paper finds the first one's, and the listing is inserted with ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.catalog.ingest import upsert_records
from paperfeed.catalog.records import ListingRecord, PaperRecord
from paperfeed.db import Listing, Paper
from paperfeed.db.changes import insert_for
from paperfeed.db.lease import worker_holder
from paperfeed.db.models import SubmissionRequest, utcnow
from paperfeed.errors import NotFoundError, SourceError
from paperfeed.live.arxiv_api import ArxivApi, parse_arxiv_ref
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

SUBMITTED = "submitted"
QUEUED, DONE, FAILED = "queued", "done", "failed"
_INDEX_LOCK = threading.Lock()  # one index writer per process
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submitted:
    """What became of a submission: listed now (``paper_id``), or queued for the worker
    (``request_pk``, a ``SubmissionRequest``)."""

    arxiv_id: str
    paper_id: str | None = None
    request_pk: int | None = None


def submit_paper(
    workspace: Workspace, ref: str, user_pk: int | None, api: ArxivApi | None = None
) -> Submitted:
    """Add the paper ``ref`` names to today's feed.

    A paper we have is listed at once. One we lack must be fetched from arXiv: when a worker
    holds the lease, the request is queued for it (``process_submissions``), so arXiv's
    spacing holds across every web node; with no worker running (one machine, `serve`
    alone) it is fetched here and now, through ``api`` or the process's own client.

    Raises ``QueryError`` for something that is not an arXiv id or URL; fetching here,
    ``NotFoundError`` if arXiv has no such paper, ``SourceError`` if it cannot be reached.
    """
    arxiv_id = parse_arxiv_ref(ref)
    with workspace.db.session() as session:
        known = session.scalar(select(Paper.pk).where(Paper.id == arxiv_id)) is not None
    if not known:
        if api is None and worker_holder(workspace.db, workspace.settings.worker_lease) is not None:
            return Submitted(arxiv_id, request_pk=_queue(workspace, arxiv_id, user_pk))
        _store((api or workspace.arxiv_api).fetch_one(arxiv_id), workspace)
        _sync_soft(workspace)
    return Submitted(arxiv_id, paper_id=_list(workspace, arxiv_id, user_pk))


def _store(record: PaperRecord, workspace: Workspace) -> None:
    record.listings.append(ListingRecord(source=SUBMITTED, day=datetime.now(UTC).date()))
    try:
        with workspace.db.session() as session:
            upsert_records(session, [record])
            session.flush()
    except IntegrityError:  # stored meanwhile by a submission of the same paper
        log.info("paper %s was stored by a concurrent submission", record.key)


def _list(workspace: Workspace, arxiv_id: str, user_pk: int | None) -> str:
    """List the stored paper today under ``submitted`` (once), crediting its first submitter."""
    with workspace.db.session() as session:
        paper = session.scalar(select(Paper).where(Paper.id == arxiv_id))
        assert paper is not None, "the paper was stored before it is listed"
        if paper.submitted_by_pk is None:
            paper.submitted_by_pk = user_pk
        session.execute(
            insert_for(session)(Listing)
            .values(paper_pk=paper.pk, source=SUBMITTED, day=datetime.now(UTC).date())
            .on_conflict_do_nothing(index_elements=["paper_pk", "source", "day"])
        )
        session.flush()
        return paper.id


def _queue(workspace: Workspace, arxiv_id: str, user_pk: int | None) -> int:
    """A queued request for ``arxiv_id``: the one already waiting, else a new one."""
    with workspace.db.session() as session:
        waiting = session.scalar(
            select(SubmissionRequest.pk).where(
                SubmissionRequest.arxiv_id == arxiv_id, SubmissionRequest.status == QUEUED
            )
        )
        if waiting is not None:
            return waiting
        request = SubmissionRequest(arxiv_id=arxiv_id, user_pk=user_pk, status=QUEUED)
        session.add(request)
        session.flush()
        return request.pk


def submission(workspace: Workspace, request_pk: int) -> SubmissionRequest:
    """A submission request by its number (``NotFoundError`` if there is none)."""
    with workspace.db.session() as session:
        request = session.get(SubmissionRequest, request_pk)
    if request is None:
        raise NotFoundError(f"no submission request {request_pk}")
    return request


@dataclass
class SubmissionsReport:
    done: int = 0
    failed: int = 0
    waiting: int = 0  # left queued (arXiv unreachable, or more than one run takes)

    def summary(self) -> str:
        return f"{self.done} fetched, {self.failed} failed, {self.waiting} waiting"


def process_submissions(
    workspace: Workspace, api: ArxivApi | None = None, most: int = 20
) -> SubmissionsReport:
    """Fetch queued submissions from arXiv, oldest first, list them, index them.

    Run by the worker holding the lease (its arXiv client keeps the spacing). A paper arXiv
    does not have fails its request with arXiv's answer; arXiv unreachable leaves the rest
    queued for the next run.
    """
    api = api or workspace.arxiv_api
    report = SubmissionsReport()
    with workspace.db.session() as session:
        queued = list(
            session.scalars(
                select(SubmissionRequest)
                .where(SubmissionRequest.status == QUEUED)
                .order_by(SubmissionRequest.pk)
                .limit(most)
            )
        )
    for request in queued:
        try:
            _store(api.fetch_one(request.arxiv_id), workspace)
            paper_id, status, error = (
                _list(workspace, request.arxiv_id, request.user_pk),
                DONE,
                None,
            )
        except NotFoundError as exc:
            paper_id, status, error = None, FAILED, str(exc)
        except SourceError as exc:
            log.warning("submissions: arXiv unreachable (%s); retrying next run", exc)
            break
        with workspace.db.session() as session:
            session.execute(
                update(SubmissionRequest)
                .where(SubmissionRequest.pk == request.pk)
                .values(status=status, paper_id=paper_id, error=error, finished_at=utcnow())
            )
        report.done += status == DONE
        report.failed += status == FAILED
    with workspace.db.session() as session:
        report.waiting = (
            session.scalar(
                select(func.count())
                .select_from(SubmissionRequest)
                .where(SubmissionRequest.status == QUEUED)
            )
            or 0
        )
    if report.done:
        _sync_soft(workspace)
    return report


def _sync_soft(workspace: Workspace) -> None:
    """Index the new paper now if the indexes are free. A sync running elsewhere (another
    web worker, ``paperfeed worker``) or a failing one is logged, not raised: the paper is
    stored and listed either way, and the next sync indexes it."""
    try:
        with _INDEX_LOCK:
            catch_up(workspace, wait=False, merge=False)
    except Exception as error:  # busy lock, embedding model, disk: all caught up next sync
        log.warning("search index not updated after a submission (%s); next sync catches up", error)
