"""Kaggle's arXiv metadata snapshot (``arxiv-metadata-oai-snapshot.json``), one JSON per line.

The full snapshot is several GB, so it is read strictly line by line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from paperfeed.catalog.records import PaperRecord, ParseProblem, split_arxiv_version
from paperfeed.formats.common import (
    RECORD_ERRORS,
    abs_url,
    clean_optional,
    clean_text,
    iter_json_lines,
    pdf_url,
    split_author_string,
    to_utc,
    unique,
)

NAME = "kaggle"
DESCRIPTION = "arXiv metadata snapshot from Kaggle (JSON lines, .gz ok)"

_VERSION_LABEL = re.compile(r"v?(\d+)")
# How every ``created`` of the snapshot is written ("Mon, 2 Apr 2007 19:18:42 GMT"). Read
# directly in a fifth of ``parsedate_to_datetime``'s time, which still reads anything else.
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_CREATED = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{{1,2}}) ({'|'.join(_MONTHS)}) ([1-9]\d{{3}}) "
    r"(\d\d):(\d\d):(\d\d) GMT"
)


class _BadRecord(ValueError):
    """A record that is JSON but not a usable paper; the message becomes the problem reason."""


def parse(path: Path) -> Iterator[PaperRecord | ParseProblem]:
    """Records of a Kaggle snapshot; a bad line is a ``ParseProblem`` (line = file line)."""
    for number, item in iter_json_lines(path):
        if isinstance(item, ParseProblem):
            yield item
            continue
        try:
            record = _record(item)
        except RECORD_ERRORS as error:  # _BadRecord is a ValueError
            yield ParseProblem(str(path), number, f"line {number}: {error}")
            continue
        record.line = number
        yield record


def _record(obj: dict[str, Any]) -> PaperRecord:
    raw_id = obj.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise _BadRecord("missing 'id'")
    arxiv_id, id_version = split_arxiv_version(raw_id.strip())
    title = clean_text(obj.get("title"))
    if not title:
        raise _BadRecord(f"{arxiv_id}: missing 'title'")
    versions = _versions(_list(obj, "versions"))
    published = versions[0][1] if versions else None
    updated = versions[-1][1] if versions else None
    return PaperRecord(
        title=title,
        source=NAME,
        abstract=clean_text(obj.get("abstract")),
        arxiv_id=arxiv_id,
        version=versions[-1][0] if versions else id_version,
        authors=_authors(obj),
        categories=unique(_text(obj, "categories").split()),
        published=published,
        updated=updated,
        doi=clean_optional(obj.get("doi")),
        journal_ref=clean_optional(obj.get("journal-ref")),
        comments=clean_optional(obj.get("comments")),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
    )


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _BadRecord(f"'{key}' is {type(value).__name__}, not a list")
    return value


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _BadRecord(f"'{key}' is {type(value).__name__}, not text")
    return value


def _versions(raw: list[Any]) -> list[tuple[int, datetime]]:
    """(number, created) sorted by number: v1 gives ``published``, the last one ``updated``."""
    result = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise _BadRecord(f"a 'versions' entry is {type(entry).__name__}, not an object")
        label = _VERSION_LABEL.fullmatch(str(entry.get("version", "")).strip())
        if not label:
            raise _BadRecord(f"bad version label {entry.get('version')!r}")
        result.append((int(label.group(1)), _created(str(entry.get("created", "")))))
    return sorted(result)


def _created(text: str) -> datetime:
    """An RFC 2822 date as aware UTC, as ``to_utc(parsedate_to_datetime(text))`` gives it."""
    match = _CREATED.fullmatch(text)
    if match is not None:
        day, month, year, hour, minute, second = match.groups()
        try:
            return datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
        except ValueError:
            pass  # 31 Feb, 25:00: parsedate_to_datetime raises its own error
    return to_utc(parsedate_to_datetime(text))


def _authors(obj: dict[str, Any]) -> list[str]:
    """Names as "First Last Suffix" from ``authors_parsed`` ([last, first, suffix, affil?]).

    Not de-duplicated: two co-authors can share a name.

    ``authors_parsed`` has LaTeX accents already decoded, so it beats the raw string; the raw
    string is only split when the parsed form is missing.
    """
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if not isinstance(parts, list):
                raise _BadRecord(f"an 'authors_parsed' entry is {type(parts).__name__}")
            last, first, suffix = [*parts, "", "", ""][:3]
            name = _name(first, last, suffix)
            if name:
                names.append(name)
        return names
    return split_author_string(_text(obj, "authors"))


def _name(*parts: object) -> str:
    """The cleaned parts joined by one space, as
    ``clean_text(" ".join(clean_text(p) for p in parts if p))`` gives them."""
    words = [word for part in parts if isinstance(part, str) for word in part.split()]
    name = " ".join(words)
    if name.isprintable():  # the usual name: nothing for clean_text to remove
        return name
    return clean_text(" ".join(clean_text(p) for p in parts if p))
