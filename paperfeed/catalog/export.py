"""Export the database as our JSON-lines format (read back by the ``jsonl`` source)."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from paperfeed.catalog.records import DETAIL_FIELDS, ListingRecord, PaperDetails, PaperRecord
from paperfeed.db import Paper
from paperfeed.formats.jsonl import record_to_json
from paperfeed.workspace import Workspace


def paper_to_record(paper: Paper) -> PaperRecord:
    own_id = None if paper.id.startswith("title:") else paper.id
    is_arxiv = own_id is not None and ":" not in own_id  # other sources namespace theirs
    return PaperRecord(
        title=paper.title,
        source=paper.source,
        abstract=paper.abstract,
        arxiv_id=own_id if is_arxiv else None,
        doc_id=own_id if not is_arxiv else None,
        version=paper.version,
        authors=list(paper.authors),
        categories=list(paper.categories),
        published=paper.published,
        updated=paper.updated,
        doi=paper.doi,
        journal_ref=paper.journal_ref,
        comments=paper.comments,
        abs_url=paper.abs_url,
        pdf_url=paper.pdf_url,
        code_url=paper.code_url,
        listings=[ListingRecord(x.source, x.day, x.upvotes, x.comments) for x in paper.listings],
        details=_details(paper),
    )


# Names of files cached in this deployment's data directory: meaningless to another one.
_LOCAL_DETAILS = frozenset({"thumbnail", "media"})


def _details(paper: Paper) -> PaperDetails | None:
    """The paper's HF details, without the names of its locally cached images."""
    values: dict[str, Any] = {}
    for name in DETAIL_FIELDS:
        value = getattr(paper, name)
        if name not in _LOCAL_DETAILS:
            values[name] = list(value) if isinstance(value, list) else value
    details = PaperDetails(**values)
    return None if details == PaperDetails() else details


def export_jsonl(workspace: Workspace, path: Path) -> int:
    """Write every paper, oldest first; ``-`` writes to stdout. Returns the count."""
    count = 0
    with _output(path) as stream, workspace.db.session() as session:
        query = select(Paper).order_by(Paper.pk).options(selectinload(Paper.listings))
        for paper in session.scalars(query.execution_options(yield_per=1000)):
            stream.write(json.dumps(record_to_json(paper_to_record(paper)), ensure_ascii=False))
            stream.write("\n")
            count += 1
    return count


@contextmanager
def _output(path: Path) -> Iterator[IO[str]]:
    if str(path) == "-":
        yield sys.stdout
    elif path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as stream:
            yield stream
    else:
        with open(path, "w", encoding="utf-8") as stream:
            yield stream
