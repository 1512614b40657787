"""Helpers shared by the source adapters: text clean-up, dates, ids and safe file reading.

Every adapter must turn low-level failures (a truncated gzip, bytes that are not UTF-8) into a
``SourceError`` naming the file, so the helpers that touch files translate them in one place.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from paperfeed.errors import SourceError
from paperfeed.records import ParseProblem
from paperfeed.sources._io import open_text

# New-style (0704.0001, 2404.12345) and old-style (hep-th/9901001, math.AG/0601001) ids,
# each with an optional version suffix.
ARXIV_ID = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
_PARENTHESISED = re.compile(r"\([^()]*\)")
_AUTHOR_SEPARATOR = re.compile(r",|\band\b")

# Errors raised while *reading* a file (not while interpreting a record).
_READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


def clean_text(value: object) -> str:
    """Collapse hard line breaks and runs of whitespace into single spaces; '' for non-text."""
    if not isinstance(value, str):
        return ""
    return " ".join(value.split())


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
        raise TypeError(f"expected an ISO-8601 date string, got {value!r}")
    return to_utc(datetime.fromisoformat(value.strip()))


def date_from_name(path: Path) -> date | None:
    """The ``YYYY-MM-DD`` in a file name (listing files are named after their day), if any."""
    match = _DATE_IN_NAME.search(path.name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def looks_like_arxiv_id(value: str) -> bool:
    """True for an arXiv id with or without version, new or old style."""
    return ARXIV_ID.fullmatch(value) is not None


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


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | ParseProblem]]:
    """Objects of a JSON-lines file with their line numbers; bad lines become ``ParseProblem``s.

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
            obj = json.loads(text)
        except json.JSONDecodeError as error:
            yield number, ParseProblem(str(path), number, f"line {number}: invalid JSON: {error}")
            continue
        if not isinstance(obj, dict):
            reason = f"line {number}: expected a JSON object, got {type(obj).__name__}"
            yield number, ParseProblem(str(path), number, reason)
            continue
        yield number, obj
