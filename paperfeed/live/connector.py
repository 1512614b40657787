"""What every live-source connector yields: pages of records, each with the cursor after it.

A connector is a generator ``pages(client, source, cursor) -> Iterator[Page]``. It fetches
one page at a time through the polite client and yields the page's records together with
``next_cursor``: where the harvest continues if it stops right after this page. The runner
stores that cursor in the same transaction as the page's papers, so a harvest killed at any
point resumes from the last committed page. Connectors never touch the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paperfeed.catalog.records import PaperRecord, ParseProblem
from paperfeed.live.http import PoliteClient

Cursor = dict[str, Any]  # JSON-able: stored as is in ``source_checkpoints.cursor``


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A configured source as a connector needs it: its kind's options and the URL to ask."""

    name: str
    kind: str
    params: Mapping[str, Any]
    base_url: str
    # The deployment's data directory, where a source may cache what pages show (images).
    data_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One fetched page.

    ``window`` is the harvest window the page belongs to, as ``(from, until)`` in the
    service's own terms (dates, datestamps); ``skipped`` counts records received but left out
    (outside the source's categories, deleted upstream); ``note`` says something worth
    recording about how the page was got (e.g. an expired resumption token).
    """

    records: list[PaperRecord]
    next_cursor: Cursor
    window: tuple[str | None, str | None]
    url: str
    problems: list[ParseProblem] = field(default_factory=list)
    skipped: int = 0
    note: str | None = None


Connector = Callable[[PoliteClient, SourceSpec, Mapping[str, Any]], Iterator[Page]]


def split_items(
    items: list[PaperRecord | ParseProblem],
) -> tuple[list[PaperRecord], list[ParseProblem]]:
    """Records and problems of a parsed page, apart."""
    records = [item for item in items if isinstance(item, PaperRecord)]
    problems = [item for item in items if isinstance(item, ParseProblem)]
    return records, problems
