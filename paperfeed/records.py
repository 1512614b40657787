"""The record every source produces and ingest consumes.

Sources parse their format into ``PaperRecord``s; they never touch the database. A record
that cannot be parsed becomes a ``ParseProblem`` so ingest can report it and go on.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

_ARXIV_VERSION = re.compile(r"v(\d+)$")


@dataclass(slots=True)
class Listing:
    """A paper's appearance in a dated listing (e.g. Hugging Face daily papers of a day).

    ``upvotes``/``comments`` are the listing's own (external) counts, never our users' votes.
    """

    source: str
    day: date
    upvotes: int | None = None
    comments: int | None = None


@dataclass(slots=True)
class PaperRecord:
    """One paper as read from a source. Dates are timezone-aware UTC datetimes."""

    title: str
    source: str
    abstract: str = ""
    arxiv_id: str | None = None  # without version: "2404.12345", "hep-th/9901001"
    version: int | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # primary category first
    published: datetime | None = None
    updated: datetime | None = None
    doi: str | None = None
    journal_ref: str | None = None
    comments: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    listings: list[Listing] = field(default_factory=list)
    # The source's own stable id for papers without an arXiv id, namespaced: "beir:4983".
    doc_id: str | None = None

    @property
    def key(self) -> str:
        """The stable id: the arXiv id, else the source's own id, else a normalised-title hash."""
        return self.arxiv_id or self.doc_id or title_key(self.title)

    @property
    def has_own_id(self) -> bool:
        return bool(self.arxiv_id or self.doc_id)

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None


@dataclass(slots=True)
class ParseProblem:
    """A record that was skipped, with where it was and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def normalize_title(title: str) -> str:
    """Case-, accent-width- and punctuation-insensitive form of a title, for de-duplication."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return re.sub(r"[\W_]+", " ", text).strip()


def title_key(title: str) -> str:
    """Stable id for a paper known only by its title."""
    digest = hashlib.sha1(normalize_title(title).encode()).hexdigest()[:16]
    return f"title:{digest}"


def split_arxiv_version(raw_id: str) -> tuple[str, int | None]:
    """'2404.12345v3' -> ('2404.12345', 3); ids without a version give None."""
    match = _ARXIV_VERSION.search(raw_id)
    if not match:
        return raw_id, None
    return raw_id[: match.start()], int(match.group(1))
