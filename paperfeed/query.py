"""The search query language, shared by CLI, web, API and digests.

    free text            scored by BM25 and by meaning
    "a quoted phrase"    must appear (in title or abstract)
    -word  -"a phrase"   must not appear
    author:lecun  author:"Yann LeCun"
    cat:cs.CL            category (any of several cat: terms)
    since:2024-01-01  until:2024-06  since:2023     published date bounds (inclusive)

Unknown ``field:value`` pairs are kept as plain words, so a title like "BERT: pre-training"
still searches as typed.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from paperfeed.errors import QueryError

_TOKEN = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"?|(\S+))')
_FIELDS = {"author", "cat", "category", "since", "until"}
_DATE = re.compile(r"\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?")
_WORDLIKE = re.compile(r"\w")
MAX_QUERY_LENGTH = 1000


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
        return datetime.combine(self.since, time.min, UTC) if self.since else None

    @property
    def until_datetime(self) -> datetime | None:
        return datetime.combine(self.until, time.max, UTC) if self.until else None


def parse_query(raw: str) -> ParsedQuery:
    """Parse the query language above; raise ``QueryError`` with a fix-it message."""
    if len(raw) > MAX_QUERY_LENGTH:
        raise QueryError(f"query is too long ({len(raw)} characters; at most {MAX_QUERY_LENGTH})")
    parsed = ParsedQuery()
    for match in _TOKEN.finditer(raw):
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
    """YYYY, YYYY-MM or YYYY-MM-DD; a partial date means its first (since) or last (until) day."""
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        parts = [int(p) for p in value.split("-")]
        if len(parts) == 1:
            return date(parts[0], 12, 31) if end else date(parts[0], 1, 1)
        if len(parts) == 2:
            last = calendar.monthrange(parts[0], parts[1])[1]
            return date(parts[0], parts[1], last if end else 1)
        if len(parts) == 3:
            return date(parts[0], parts[1], parts[2])
    except ValueError:
        pass
    raise QueryError(f"{name}:{value} is not a date; use YYYY, YYYY-MM or YYYY-MM-DD")
