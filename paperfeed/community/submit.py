"""Submitting a paper by arXiv id or URL: fetch it if we lack it, list it today, index it.

A submission is a listing of source ``submitted`` on the day it was made, so the paper joins
that day's feed (as on Hugging Face Daily Papers); who submitted it first is kept. The same
paper submitted twice at once ends as one paper and one listing: the second store of the
fetched paper finds the first one's, and the listing is inserted with ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from paperfeed.catalog.ingest import upsert_records
from paperfeed.catalog.records import ListingRecord
from paperfeed.db import Listing, Paper
from paperfeed.live.arxiv_api import ArxivApi, parse_arxiv_ref
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

SUBMITTED = "submitted"
_INDEX_LOCK = threading.Lock()  # one index writer per process
log = logging.getLogger(__name__)


def submit_paper(
    workspace: Workspace, ref: str, user_pk: int | None, api: ArxivApi | None = None
) -> str:
    """Add the paper ``ref`` names to today's feed; returns its public id.

    Raises ``QueryError`` for something that is not an arXiv id or URL, ``NotFoundError`` if
    arXiv has no such paper, ``SourceError`` if arXiv cannot be reached.
    """
    arxiv_id = parse_arxiv_ref(ref)
    today = datetime.now(UTC).date()
    with workspace.db.session() as session:
        paper = session.scalar(select(Paper).where(Paper.id == arxiv_id))
    if paper is None:
        record = (api or workspace.arxiv_api).fetch_one(arxiv_id)
        record.listings.append(ListingRecord(source=SUBMITTED, day=today))
        try:
            with workspace.db.session() as session:
                upsert_records(session, [record])
                session.flush()
        except IntegrityError:  # stored meanwhile by a submission of the same paper
            log.info("paper %s was stored by a concurrent submission", arxiv_id)
        _sync_soft(workspace)
    with workspace.db.session() as session:
        paper = session.scalar(select(Paper).where(Paper.id == arxiv_id))
        assert paper is not None, "upsert_records stores the fetched paper"
        if paper.submitted_by_pk is None:
            paper.submitted_by_pk = user_pk
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(
            insert(Listing)
            .values(paper_pk=paper.pk, source=SUBMITTED, day=today)
            .on_conflict_do_nothing(index_elements=["paper_pk", "source", "day"])
        )
        session.flush()
        return paper.id


def _sync_soft(workspace: Workspace) -> None:
    """Index the new paper now if the indexes are free. A sync running elsewhere (another
    web worker, ``paperfeed worker``) or a failing one is logged, not raised: the paper is
    stored and listed either way, and the next sync indexes it."""
    try:
        with _INDEX_LOCK:
            catch_up(workspace, wait=False)
    except Exception as error:  # busy lock, embedding model, disk: all caught up next sync
        log.warning("search index not updated after a submission (%s); next sync catches up", error)
