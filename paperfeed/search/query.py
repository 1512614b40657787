"""The search query language, shared by CLI, web, API and digests.

    free text            scored by BM25 and by meaning
    "a quoted phrase"    must appear (in title or abstract)
    -word  -"a phrase"   must not appear
    author:lecun  author:"Yann LeCun"
    cat:cs.CL            category (any of several cat: terms)
    since:2024-01-01  until:2024-06  since:2023     published date bounds (inclusive)

Unknown ``field:value`` pairs are kept as plain words, so a title like "BERT: pre-training"
still searches as typed.

Every string either parses or raises ``QueryError``: control characters and lone surrogates
are dropped before parsing (``bounds.clean_text``), dates outside ``bounds``' range are
refused (tantivy and numpy cannot represent some of them), and the output holds only words
the lexical index turns into plain term, phrase and range queries.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from paperfeed.bounds import MAX_QUERY_LENGTH, clean_text, date_in_range, date_range_text
from paperfeed.errors import QueryError

__all__ = ["MAX_QUERY_LENGTH", "ParsedQuery", "parse_query"]

_TOKEN = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"?|(\S+))')
_FIELDS = {"author", "cat", "category", "since", "until"}
_DATE = re.compile(r"\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?")
_WORDLIKE = re.compile(r"\w")
# The instants the lexical index can compare dates with: tantivy keeps them as nanoseconds
# since 1970 in an i64, like numpy's datetime64[ns] (1677-09-21T00:12:43 to 2262-04-11).
# ``bounds`` keeps query dates inside these; the clamp guards the index if the bounds move.
_INDEX_EARLIEST = datetime(1677, 9, 22, tzinfo=UTC)
_INDEX_LATEST = datetime(2262, 4, 10, tzinfo=UTC)


@dataclass
class ParsedQuery:
    terms: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    since: date | None = None
    until: date | None = None

    @property
    def text(self) -> str:
        """The words that carry meaning, for the embedding model."""
        return " ".join([*self.terms, *self.phrases]).strip()

    @property
    def has_filters(self) -> bool:
        return bool(
            self.phrases
            or self.excluded
            or self.authors
            or self.categories
            or self.since
            or self.until
        )

    @property
    def since_datetime(self) -> datetime | None:
        """The first instant of ``since``, as the index can compare it (see _INDEX_EARLIEST)."""
        if self.since is None:
            return None
        return min(max(datetime.combine(self.since, time.min, UTC), _INDEX_EARLIEST), _INDEX_LATEST)

    @property
    def until_datetime(self) -> datetime | None:
        """The last instant of ``until``, as the index can compare it."""
        if self.until is None:
            return None
        return max(min(datetime.combine(self.until, time.max, UTC), _INDEX_LATEST), _INDEX_EARLIEST)


def parse_query(raw: str) -> ParsedQuery:
    """Parse the query language above; raise ``QueryError`` with a fix-it message."""
    if len(raw) > MAX_QUERY_LENGTH:
        raise QueryError(f"query is too long ({len(raw)} characters; at most {MAX_QUERY_LENGTH})")
    parsed = ParsedQuery()
    for match in _TOKEN.finditer(clean_text(raw)):
        negated, name, quoted, bare = match.groups()
        value = (quoted if quoted is not None else bare or "").strip()
        name = name.lower() if name else None
        if name and name not in _FIELDS:
            value, name = f"{match.group(2)}:{value}", None  # not ours: a plain word
        if not _WORDLIKE.search(value):
            continue  # bare punctuation carries no meaning and would match nothing
        if name is None:
            if negated:
                parsed.excluded.append(value)
            elif quoted is not None:
                parsed.phrases.append(value)
            else:
                parsed.terms.append(value)
        elif negated:
            raise QueryError(f"'-{name}:' is not supported; use it without the minus")
        elif name == "author":
            parsed.authors.append(value)
        elif name in ("cat", "category"):
            parsed.categories.append(value)
        elif name == "since":
            parsed.since = _parse_date(value, name, end=False)
        else:
            parsed.until = _parse_date(value, name, end=True)
    if parsed.since and parsed.until and parsed.since > parsed.until:
        raise QueryError(f"since:{parsed.since} is after until:{parsed.until}")
    return parsed


def _parse_date(value: str, name: str, *, end: bool) -> date:
    """YYYY, YYYY-MM or YYYY-MM-DD; a partial date means its first (since) or last (until) day.

    Only dates in ``bounds``' range: beyond it the index's date range query fails (tantivy
    stores dates as nanoseconds, so 2300 overflows), and no paper carries such a date.
    """
    day = _date_of(value, end=end)
    if day is None:
        raise QueryError(f"{name}:{value} is not a date; use YYYY, YYYY-MM or YYYY-MM-DD")
    if not date_in_range(day):
        raise QueryError(f"{name}:{value} is outside the dates papers have ({date_range_text()})")
    return day


def _date_of(value: str, *, end: bool) -> date | None:
    if not _DATE.fullmatch(value):
        return None
    try:
        parts = [int(p) for p in value.split("-")]
        if len(parts) == 1:
            return date(parts[0], 12, 31) if end else date(parts[0], 1, 1)
        if len(parts) == 2:
            last = calendar.monthrange(parts[0], parts[1])[1]
            return date(parts[0], parts[1], last if end else 1)
        return date(parts[0], parts[1], parts[2])
    except ValueError:  # month 13, February 30th, year 0 (calendar's errors are ValueErrors)
        return None
