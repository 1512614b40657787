"""Helpers shared by the format parsers: text clean-up, dates, ids and safe file reading.

Public: the live connectors in ``paperfeed.live`` use them too. Every parser must turn
low-level failures (a truncated gzip, bytes that are not UTF-8) into a ``SourceError`` naming
the file, so the helpers that touch files translate them in one place.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from paperfeed import bounds
from paperfeed.catalog.records import ParseProblem
from paperfeed.catalog.records import looks_like_arxiv_id as looks_like_arxiv_id  # its old home
from paperfeed.errors import SourceError
from paperfeed.formats._io import loads_json, open_text

_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
_PARENTHESISED = re.compile(r"\([^()]*\)")
_AUTHOR_SEPARATOR = re.compile(r",|\band\b")

# Errors raised while *reading* a file (not while interpreting a record).
_READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)
# What interpreting one hostile record can raise: wrong types (a number for a string, a list
# for an object), values out of range (a year the calendar lacks, a 5,000-digit integer, a
# date that overflows when moved to UTC), JSON nested deeper than Python recurses. Parsers
# turn these into a ParseProblem for that record and go on with the next.
RECORD_ERRORS = (
    TypeError,
    ValueError,
    AttributeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
)


def clean_text(value: object) -> str:
    """Collapse hard line breaks and runs of whitespace into single spaces, without the
    characters no page or feed can carry (``bounds.clean_text``); '' for non-text."""
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    if not text.isprintable():  # rare; isprintable() is twice as fast as the regex
        text = " ".join(bounds.clean_text(text).split())
    return text


def clean_optional(value: object) -> str | None:
    """Like ``clean_text`` but None when nothing is left, so absent fields stay absent."""
    return clean_text(value) or None


def unique(items: Iterable[str]) -> list[str]:
    """Cleaned, non-empty items in first-seen order (keeps the primary category first)."""
    seen: dict[str, None] = {}
    for item in items:
        text = clean_text(item)
        if text:
            seen.setdefault(text, None)
    return list(seen)


def split_author_string(text: str) -> list[str]:
    """'A. One (Inst), B. Two and C. Three' -> names, dropping affiliations and 'et al'."""
    previous = None
    while previous != text:
        previous, text = text, _PARENTHESISED.sub(" ", text)
    names = [clean_text(part) for part in _AUTHOR_SEPARATOR.split(text)]
    return [n for n in names if n.casefold().rstrip(".") not in {"", "et al"}]


def to_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken to be UTC already (all our sources use UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_iso_datetime(value: object) -> datetime | None:
    """ISO-8601 text (``...Z`` and ``...000Z`` included) to aware UTC; None if absent.

    Raises ``ValueError`` (``TypeError`` for non-text) when present but not a date, so callers
    can report it.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 date string, got {type(value).__name__}")
    try:
        return to_utc(datetime.fromisoformat(value.strip()))
    except OverflowError as error:  # 0001-01-01T00:00+01:00 has no UTC form
        raise ValueError(f"date {value.strip()[:40]!r} is out of range") from error


def date_from_name(path: Path) -> date | None:
    """The ``YYYY-MM-DD`` in a file name (listing files are named after their day), if any."""
    match = _DATE_IN_NAME.search(path.name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/pdf/{arxiv_id}"


def read_error(path: Path, error: BaseException) -> SourceError:
    """One-line ``SourceError`` for a file that broke while being read."""
    if isinstance(error, UnicodeDecodeError):
        reason = "not UTF-8 text"
    elif isinstance(error, EOFError):
        reason = "compressed file is truncated"
    else:
        reason = str(error) or type(error).__name__
    return SourceError(f"{path}: cannot read file: {reason}")


def read_text(path: Path) -> str:
    """The whole file as text, for formats that cannot be streamed (JSON arrays, XML pages)."""
    try:
        with open_text(path) as handle:
            return handle.read().removeprefix("\ufeff")
    except _READ_ERRORS as error:
        raise read_error(path, error) from error


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) pairs, streaming; read failures become ``SourceError``."""
    try:
        with open_text(path) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, (line.removeprefix("\ufeff") if number == 1 else line)
    except _READ_ERRORS as error:
        raise read_error(path, error) from error


_START_TAG = re.compile(r"<(?![?!])(?P<name>[^\s/>]+)[^>]*>")

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def xml_items(
    text: str, path: str, tag: str
) -> tuple[ET.Element, list[ET.Element | ET.ParseError]]:
    """The document's root and its repeated items (``path`` from the root, e.g. ``channel/item``;
    ``tag`` is the items' local name as written, e.g. ``item``).

    One item with a stray control character or a broken tag makes the whole document
    ill-formed, which would lose every good item beside it. So when the document does not
    parse, each ``<tag>...</tag>`` is parsed on its own inside a copy of the root's start
    tag (keeping its namespace declarations), and a broken item is its ``ParseError`` in the
    list. Raises ``ParseError`` when the rest of the document is broken too.
    """
    # Lone surrogates (only a str handed in directly can hold them) cannot be encoded for the
    # parser; they become U+FFFD, which the clean-up of the fields then keeps or drops.
    text = _LONE_SURROGATE.sub("\ufffd", text)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as whole:
        return _salvage_items(text, tag, whole)
    return root, list(root.iterfind(path))


def _salvage_items(
    text: str, tag: str, whole: ET.ParseError
) -> tuple[ET.Element, list[ET.Element | ET.ParseError]]:
    item = re.compile(
        rf"<(?:[\w.-]+:)?{re.escape(tag)}[\s>].*?</(?:[\w.-]+:)?{re.escape(tag)}\s*>", re.DOTALL
    )
    start = _START_TAG.search(text)
    chunks = item.findall(text)
    if start is None or not chunks:
        raise whole
    stray_end = re.compile(rf"</(?:[\w.-]+:)?{re.escape(tag)}\s*>")  # of an item cut short
    try:
        root = ET.fromstring(stray_end.sub("", item.sub("", text)))
    except ET.ParseError:
        raise whole from None
    opening, closing = start.group(0), f"</{start.group('name')}>"
    items: list[ET.Element | ET.ParseError] = []
    for chunk in chunks:
        try:
            wrapper = ET.fromstring(f"{opening}{chunk}{closing}")
        except ET.ParseError as broken:
            items.append(broken)
            continue
        items.append(wrapper[0])
    return root, items


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | ParseProblem]]:
    """Objects of a JSON-lines file with their line numbers; bad lines become ``ParseProblem``s.

    Bad includes hostile: nesting deeper than Python recurses (``RecursionError``) and
    integers longer than Python converts (``ValueError``) are a problem for that line only.

    A file whose first non-blank line is not even the start of a JSON object is some other
    format altogether (a JSON array, XML, a text page), so that raises ``SourceError`` instead
    of producing one problem per line.
    """
    seen_content = False
    for number, line in iter_lines(path):
        text = line.strip()
        if not text:
            continue
        if not seen_content:
            seen_content = True
            if not text.startswith("{"):
                raise SourceError(
                    f"{path}: not JSON lines (line {number} does not start with '{{')"
                )
        try:
            obj = loads_json(text)
        except json.JSONDecodeError as error:
            yield number, ParseProblem(str(path), number, f"line {number}: invalid JSON: {error}")
            continue
        except RecursionError:
            reason = f"line {number}: invalid JSON: nested too deeply"
            yield number, ParseProblem(str(path), number, reason)
            continue
        except ValueError as error:  # e.g. an integer of more than 4,300 digits
            yield number, ParseProblem(str(path), number, f"line {number}: invalid JSON: {error}")
            continue
        if not isinstance(obj, dict):
            reason = f"line {number}: expected a JSON object, got {type(obj).__name__}"
            yield number, ParseProblem(str(path), number, reason)
            continue
        yield number, obj
