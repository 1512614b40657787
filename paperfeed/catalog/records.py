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
# New-style (0704.0001, 2404.12345) and old-style (hep-th/9901001, math.AG/0601001) ids,
# each with an optional version suffix.
ARXIV_ID = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")


@dataclass(slots=True)
class ListingRecord:
    """A paper's appearance in a dated listing (e.g. Hugging Face daily papers of a day).

    ``upvotes``/``comments`` are the listing's own (external) counts, never our users' votes.
    """

    source: str
    day: date
    upvotes: int | None = None
    comments: int | None = None


@dataclass(slots=True)
class PaperDetails:
    """What Hugging Face Daily Papers says about a paper beyond its metadata.

    None of it is part of the text a paper is found or embedded by. ``thumbnail_url`` and
    ``media_urls`` are where the source has its images; ``thumbnail`` and ``media`` are the
    names of the copies we fetched into the data directory (``paperfeed.live.media``): pages
    show only those, never a remote image.
    """

    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    org_name: str | None = None  # the HF organisation's name (its URL slug)
    org_fullname: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    submitter: str | None = None  # the HF user who submitted it to Daily Papers
    thumbnail_url: str | None = None
    media_urls: list[str] = field(default_factory=list)
    thumbnail: str | None = None
    media: list[str] = field(default_factory=list)


# The details' names, which are also the names of their ``papers`` columns.
DETAIL_FIELDS = (
    "ai_summary",
    "ai_keywords",
    "org_name",
    "org_fullname",
    "github_stars",
    "project_page",
    "submitter",
    "thumbnail_url",
    "media_urls",
    "thumbnail",
    "media",
)


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
    listings: list[ListingRecord] = field(default_factory=list)
    details: PaperDetails | None = None  # Hugging Face's extras (summary, stars, media)
    # The source's own stable id for papers without an arXiv id, namespaced: "beir:4983".
    doc_id: str | None = None
    # Where the parser read it (file line, or 1-based entry index of a response), so a problem
    # found later, at ingest, names the same place. Not part of the paper.
    line: int | None = field(default=None, compare=False, repr=False)

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
    """A record that was skipped, or a part of one that was dropped, with where and why.

    ``kept`` is true when the record itself was stored without the part named in ``reason``
    (an unsafe link, an out-of-range ``updated``): reported, but not a skipped record.
    """

    path: str
    line: int
    reason: str
    kept: bool = False

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


def looks_like_arxiv_id(value: str) -> bool:
    """True for an arXiv id with or without version, new or old style."""
    return ARXIV_ID.fullmatch(value) is not None


def split_arxiv_version(raw_id: str) -> tuple[str, int | None]:
    """'2404.12345v3' -> ('2404.12345', 3); ids without a version give None."""
    match = _ARXIV_VERSION.search(raw_id)
    if not match:
        return raw_id, None
    return raw_id[: match.start()], int(match.group(1))
