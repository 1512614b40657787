"""The check every record passes before ingest stores it, whatever format or service it came from.

Parsers turn bytes into ``PaperRecord``s; this step decides what of a record may be stored,
holding it to ``paperfeed.bounds`` and to what the columns can hold. Ingest calls it on every
record (files, live sources, submissions), and the live services' parsers call it too so
their pages report the problems. Checking a checked record changes nothing.

What happens to a record that breaks a rule:

* **Skipped** (one problem): no title; a title, abstract or id over its limit; an id that is
  not an arXiv id (``arxiv_id``) or not one printable word (``doc_id``); a ``published`` date
  outside ``bounds.EARLIEST_DATE..LATEST_DATE`` (the date the feeds, search filters and the
  index order by: a paper without a believable one is not worth guessing about).
* **Kept without the bad part** (a problem with ``kept=True``): a link that is not http(s)
  (``javascript:``, ``data:``) or too long; an ``updated`` date out of range (``published``
  still dates the paper); a listing whose day is out of range (the paper stays, it just
  joins no day's feed); a count or version that is negative or beyond a 32-bit INTEGER
  column; an over-long DOI, journal reference or comment; author names or categories over
  their limit, and authors or categories beyond the first ``MAX_AUTHORS``/``MAX_CATEGORIES``.
  Hugging Face details (``PaperDetails``) are held to the same rules part by part: links
  http(s) only, star counts whole and not negative, names and summaries within
  ``bounds``, cached media names exactly ``bounds.MEDIA_NAME``.
* **Cleaned silently**: characters XML and terminals choke on (``bounds.clean_text``) are
  removed from every text field; that loses nothing a reader could see.

Limits carry the real maxima they were chosen from: 47k arXiv cs listings (2026), the
Kaggle snapshot sample, 84 days of Hugging Face daily papers, SciFact and an S2ORC sample.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from typing import Any, TypeGuard

from paperfeed import bounds
from paperfeed.catalog.records import (
    ListingRecord,
    PaperDetails,
    PaperRecord,
    ParseProblem,
    looks_like_arxiv_id,
    split_arxiv_version,
)

# Column sizes (paperfeed/db/models.py); PostgreSQL rejects a longer value, failing the batch.
MAX_ID_CHARS = 64  # papers.id VARCHAR(64); real ids are at most 16 (hep-th/9901001v2 style)
MAX_SOURCE_CHARS = 32  # papers.source, listings.source VARCHAR(32)
MAX_CATEGORY_CHARS = 64  # papers.primary_category VARCHAR(64); real maximum 18
# version, listings.upvotes and listings.comments are INTEGER: 32-bit on PostgreSQL.
MAX_INT = 2**31 - 1
# Text. Real maxima: titles 300 (SciFact, S2ORC), abstracts 10,000 (SciFact; arXiv caps new
# abstracts at 1,920), author names 155, comments 414, journal refs 175, DOIs 55, links 91.
MAX_TITLE_CHARS = 2_000
MAX_ABSTRACT_CHARS = 50_000
MAX_AUTHOR_CHARS = 500
MAX_NOTE_CHARS = 5_000  # doi, journal_ref, comments
MAX_URL_CHARS = 2_000  # what browsers and proxies reliably pass on
# Lists. Real maxima: 574 authors (one cs paper), 7 categories. The longest author lists in
# physics (ATLAS + CMS, arXiv:1503.07589) have about 5,100 names.
MAX_AUTHORS = 10_000
MAX_CATEGORIES = 50

_URL_FIELDS = ("abs_url", "pdf_url", "code_url")
_NOTE_FIELDS = ("doi", "journal_ref", "comments")
# Links every parser builds (https://arxiv.org/abs/..., GitHub repos): plain ASCII http(s)
# with a host, which ``bounds.safe_url`` returns unchanged; checked by this pattern at a
# tenth of safe_url's cost. Everything else goes through safe_url itself.
PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]*[A-Za-z0-9](?::[0-9]{1,5})?(?:[/?#][!-~]*)?")


class _Skip(Exception):
    """The record cannot be stored; the message is the problem's reason."""


def check_record(record: PaperRecord, origin: str) -> tuple[PaperRecord | None, list[ParseProblem]]:
    """The record as it may be stored (None: skip it) and the problems found.

    ``origin`` (file name or URL) and ``record.line`` locate the problems. A skipped record
    has one problem, the reason it was skipped (not also the parts it would have lost).
    """
    check = _Check(origin, record.line or 0, _label(record))
    try:
        return check.record(record), check.problems
    except _Skip as skip:
        return None, [check.problem(f"{skip}; record skipped", kept=False)]


def check_items(
    items: list[PaperRecord | ParseProblem], origin: str
) -> list[PaperRecord | ParseProblem]:
    """A parsed page with every record checked: each record's problems, then the record."""
    checked: list[PaperRecord | ParseProblem] = []
    for item in items:
        if isinstance(item, ParseProblem):
            checked.append(item)
            continue
        record, problems = check_record(item, origin)
        checked.extend(problems)
        if record is not None:
            checked.append(record)
    return checked


def _label(record: PaperRecord) -> str:
    """How problems name the record: its id if it looks sane, else nothing."""
    for value in (record.arxiv_id, record.doc_id):
        if isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS:
            text = _clean(value)
            if text and not any(c.isspace() for c in text):
                return f"{text}: "
    return ""


class _Check:
    def __init__(self, origin: str, line: int, label: str) -> None:
        self.origin, self.line, self.label = origin, line, label
        self.problems: list[ParseProblem] = []

    def problem(self, reason: str, *, kept: bool) -> ParseProblem:
        return ParseProblem(self.origin, self.line, f"{self.label}{reason}", kept=kept)

    def drop(self, reason: str) -> None:
        self.problems.append(self.problem(f"{reason}; dropped it, kept the paper", kept=True))

    def record(self, record: PaperRecord) -> PaperRecord:
        changes: dict[str, Any] = {}
        changes["source"] = _source(record.source, "source")
        changes["title"] = self.title(record.title)
        changes["abstract"] = self.abstract(record.abstract)
        changes["arxiv_id"], changes["version"] = self.arxiv_id(record.arxiv_id, record.version)
        changes["doc_id"] = self.doc_id(record.doc_id)
        changes["published"] = self.published(record.published)
        changes["updated"] = self.updated(record.updated)
        changes["authors"] = self.authors(record.authors)
        changes["categories"] = self.categories(record.categories)
        for name in _NOTE_FIELDS:
            changes[name] = self.note(name, getattr(record, name))
        for name in _URL_FIELDS:
            changes[name] = self.url(name, getattr(record, name))
        changes["listings"] = self.listings(record.listings)
        changes["details"] = self.details(record.details)
        return dataclasses.replace(record, **changes)

    # -- identity and content: skip the record when wrong --------------------------------
    def title(self, value: object) -> str:
        title = _text(value, "title").strip()
        if not title:
            raise _Skip("no title")
        if len(title) > MAX_TITLE_CHARS:
            raise _Skip(f"title of {len(title):,} characters (limit {MAX_TITLE_CHARS:,})")
        return title

    def abstract(self, value: object) -> str:
        abstract = _text(value or "", "abstract")
        if len(abstract) > MAX_ABSTRACT_CHARS:
            raise _Skip(f"abstract of {len(abstract):,} characters (limit {MAX_ABSTRACT_CHARS:,})")
        return abstract

    def arxiv_id(self, value: object, version: object) -> tuple[str | None, int | None]:
        checked_version = self.integer("version", version, low=1)
        if value is None:
            return None, checked_version
        text = _text(value, "arxiv_id").strip()
        if not looks_like_arxiv_id(text):
            raise _Skip(f"arxiv_id {_shown(value)} is not an arXiv id")
        arxiv_id, id_version = split_arxiv_version(text)
        return arxiv_id, checked_version if checked_version is not None else id_version

    def doc_id(self, value: object) -> str | None:
        if value is None:
            return None
        text = _text(value, "doc_id").strip()
        if not text or any(c.isspace() for c in text) or len(text) > MAX_ID_CHARS:
            raise _Skip(
                f"doc_id {_shown(value)} is not one word of at most {MAX_ID_CHARS} characters"
            )
        return text

    def published(self, value: object) -> datetime | None:
        moment = _moment(value, "published")
        if moment is not None and not bounds.date_in_range(moment):
            raise _Skip(f"published {moment.date()} is outside {bounds.date_range_text()}")
        return moment

    # -- details: drop the part, keep the paper -----------------------------------------
    def updated(self, value: object) -> datetime | None:
        try:
            moment = _moment(value, "updated")
        except _Skip as wrong:
            self.drop(str(wrong))
            return None
        if moment is not None and not bounds.date_in_range(moment):
            self.drop(f"updated {moment.date()} is outside {bounds.date_range_text()}")
            return None
        return moment

    def authors(self, value: object) -> list[str]:
        names = self.texts("authors", value, MAX_AUTHOR_CHARS, "author name")
        if len(names) > MAX_AUTHORS:
            self.drop(f"{len(names):,} authors (limit {MAX_AUTHORS:,}): the rest after the first")
            names = names[:MAX_AUTHORS]
        return names

    def categories(self, value: object) -> list[str]:
        items = self.texts("categories", value, MAX_CATEGORY_CHARS, "category")
        names = [name for name in items if not any(c.isspace() for c in name)]
        if len(names) < len(items):
            self.drop("a category with a space in it")
        names = list(dict.fromkeys(names))
        if len(names) > MAX_CATEGORIES:
            self.drop(f"{len(names)} categories (limit {MAX_CATEGORIES}): the rest")
            names = names[:MAX_CATEGORIES]
        return names

    def texts(self, name: str, value: object, limit: int, what: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise _Skip(f"{name} is {type(value).__name__}, not a list")
        kept: list[str] = []
        too_long = wrong = 0
        for item in value:
            if not isinstance(item, str):
                wrong += 1
                continue
            text = _clean(item).strip()
            if len(text) > limit:
                too_long += 1
            elif text:
                kept.append(text)
        if wrong:
            self.drop(f"{wrong} {what}(s) that are not text")
        if too_long:
            self.drop(f"{too_long} {what}(s) over {limit} characters")
        return kept

    def note(self, name: str, value: object) -> str | None:
        return self.limited(name, value, MAX_NOTE_CHARS)

    def url(self, name: str, value: object) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.drop(f"{name} is {type(value).__name__}, not a link")
            return None
        if len(value) > MAX_URL_CHARS:
            self.drop(f"{name} of {len(value):,} characters (limit {MAX_URL_CHARS:,})")
            return None
        if PLAIN_URL.fullmatch(value):
            return value
        url = bounds.safe_url(value)
        if url is None:
            self.drop(f"{name} {_shown(value)} is not an http(s) link")
        return url

    def integer(self, name: str, value: object, *, low: int = 0) -> int | None:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.drop(f"{name} is {type(value).__name__}, not an integer")
            return None
        if not low <= value <= MAX_INT:
            self.drop(f"{name} {_shown(value)} is outside {low}..{MAX_INT}")
            return None
        return value

    def listings(self, value: object) -> list[ListingRecord]:
        if not isinstance(value, list):
            raise _Skip(f"listings is {type(value).__name__}, not a list")
        kept: list[ListingRecord] = []
        for listing in value:
            if not isinstance(listing, ListingRecord):
                self.drop(f"a listing that is {type(listing).__name__}")
                continue
            try:
                source = _source(listing.source, "listing source")
            except _Skip as wrong:
                self.drop(f"a listing whose {wrong}")
                continue
            day = listing.day
            if isinstance(day, datetime):
                day = day.date()
            if not isinstance(day, date):
                self.drop(f"a {source} listing whose day is {type(day).__name__}")
                continue
            if not bounds.date_in_range(day):
                self.drop(f"a {source} listing of {day}, outside {bounds.date_range_text()}")
                continue
            kept.append(
                ListingRecord(
                    source=source,
                    day=day,
                    upvotes=self.integer(f"{source} upvotes", listing.upvotes),
                    comments=self.integer(f"{source} comments", listing.comments),
                )
            )
        return kept

    # -- Hugging Face details: each part is dropped alone ---------------------------------
    def details(self, value: object) -> PaperDetails | None:
        if value is None:
            return None
        if not isinstance(value, PaperDetails):
            self.drop(f"details that are {type(value).__name__}")
            return None
        raw_keywords = self.items("ai_keywords", value.ai_keywords, bounds.MAX_KEYWORDS)
        keywords = self.texts("ai_keywords", raw_keywords, bounds.MAX_KEYWORD_CHARS, "keyword")
        keywords = list(dict.fromkeys(keywords))
        links = (self.url("media url", item) for item in self.items("media_urls", value.media_urls))
        media_urls = [url for url in links if url is not None]
        media = [name for name in self.items("media", value.media) if self.media_name(name)]
        return PaperDetails(
            ai_summary=self.limited("ai_summary", value.ai_summary, bounds.MAX_SUMMARY_CHARS),
            ai_keywords=keywords,
            org_name=self.handle("organization name", value.org_name),
            org_fullname=self.limited(
                "organization full name", value.org_fullname, bounds.MAX_FULLNAME_CHARS
            ),
            github_stars=self.integer("githubStars", value.github_stars),
            project_page=self.url("project_page", value.project_page),
            submitter=self.handle("submitter", value.submitter),
            thumbnail_url=self.url("thumbnail_url", value.thumbnail_url),
            media_urls=media_urls[: bounds.MAX_MEDIA],
            thumbnail=value.thumbnail if self.media_name(value.thumbnail) else None,
            media=media[: bounds.MAX_MEDIA],
        )

    def items(self, name: str, value: object, limit: int = bounds.MAX_MEDIA) -> list[object]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.drop(f"{name} is {type(value).__name__}, not a list")
            return []
        if len(value) > limit:
            self.drop(f"{len(value)} {name} (limit {limit}): the rest")
        return value[:limit]

    def limited(self, name: str, value: object, limit: int) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.drop(f"{name} is {type(value).__name__}, not text")
            return None
        text = _clean(value).strip()
        if len(text) > limit:
            self.drop(f"{name} of {len(text):,} characters (limit {limit:,})")
            return None
        return text or None

    def handle(self, name: str, value: object) -> str | None:
        """An HF user or organisation name: one word, as in their URLs."""
        text = self.limited(name, value, bounds.MAX_HANDLE_CHARS)
        if text is not None and (any(c.isspace() for c in text) or "/" in text):
            self.drop(f"{name} {_shown(value)} is not one word")
            return None
        return text

    def media_name(self, value: object) -> TypeGuard[str]:
        """Whether ``value`` names a cached media file (no path, no other name gets through)."""
        if value is None:
            return False
        if isinstance(value, str) and bounds.MEDIA_NAME.fullmatch(value):
            return True
        self.drop(f"media file name {_shown(value)}")
        return False


def _clean(text: str) -> str:
    """``bounds.clean_text``, skipping its regex for the usual text that has nothing to strip
    (``str.isprintable`` is false for every character it removes, and twice as fast)."""
    return text if text.isprintable() else bounds.clean_text(text)


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise _Skip(f"{name} is {type(value).__name__}, not text")
    return _clean(value)


def _source(value: object, name: str) -> str:
    text = _text(value, name).strip()
    if not text or len(text) > MAX_SOURCE_CHARS:
        raise _Skip(f"{name} {_shown(value)} is not a name of 1 to {MAX_SOURCE_CHARS} characters")
    return text


def _moment(value: object, name: str) -> datetime | None:
    """An aware UTC datetime; naive ones are UTC already (every parser works in UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise _Skip(f"{name} is {type(value).__name__}, not a date and time")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise _Skip(f"{name} {value.isoformat()} is outside {bounds.date_range_text()}") from error


def _shown(value: object) -> str:
    """A value quoted for a one-line problem: escaped, and cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
