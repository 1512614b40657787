"""Our own export format: one JSON object per line holding every ``PaperRecord`` field.

``record_to_json`` / ``record_from_json`` are the single definition of that format, used by
``paperfeed export`` to write and by ``parse`` to read, so an export re-imports unchanged.
``"id"`` (the record's key) is written for readers of the file and ignored on input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from paperfeed.catalog.records import ListingRecord, PaperDetails, PaperRecord, ParseProblem
from paperfeed.formats.common import RECORD_ERRORS, iter_json_lines, parse_iso_datetime

NAME = "jsonl"
DESCRIPTION = "paperfeed's own JSON-lines export (one record per line, .gz ok)"

_LIST_FIELDS = {"authors", "categories"}
_DATETIME_FIELDS = {"published", "updated"}
_INT_FIELDS = {"version"}
_NOT_STORED = {"line"}  # where a record was read is not part of the paper
_TEXT_FIELDS = {f.name for f in fields(PaperRecord)} - (
    _LIST_FIELDS | _DATETIME_FIELDS | _INT_FIELDS | _NOT_STORED | {"listings", "details"}
)
_DETAIL_NAMES = {f.name for f in fields(PaperDetails)}


def parse(path: Path) -> Iterator[PaperRecord | ParseProblem]:
    """Records of an export; ``ParseProblem.line`` is the file line."""
    for number, item in iter_json_lines(path):
        if isinstance(item, ParseProblem):
            yield item
            continue
        try:
            record = record_from_json(item)
        except RECORD_ERRORS as error:
            yield ParseProblem(str(path), number, f"line {number}: {error}")
            continue
        record.line = number
        yield record


def record_to_json(record: PaperRecord) -> dict[str, Any]:
    """A JSON-ready dict: ``id`` first, then every field by name, dates as ISO-8601."""
    obj: dict[str, Any] = {"id": record.key}
    for f in fields(PaperRecord):
        if f.name in _NOT_STORED:
            continue
        value = getattr(record, f.name)
        if f.name == "listings":
            value = [_listing_to_json(listing) for listing in value]
        elif f.name == "details":
            value = None if value is None else asdict(value)
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, list):
            value = list(value)
        obj[f.name] = value
    return obj


def record_from_json(obj: dict[str, Any]) -> PaperRecord:
    """The record ``record_to_json`` wrote. Unknown keys are ignored; missing fields take
    their defaults; a missing title raises ``ValueError``, a wrongly typed field ``TypeError``."""
    title = obj.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("missing 'title'")
    source = obj.get("source")
    if not isinstance(source, str) or not source:
        raise ValueError("missing 'source'")
    values: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        if obj.get(name) is not None:
            values[name] = _typed(obj, name, str)
    for name in _LIST_FIELDS:
        if obj.get(name) is not None:
            items = _typed(obj, name, list)
            if not all(isinstance(item, str) for item in items):
                raise ValueError(f"'{name}' must be a list of strings")
            values[name] = list(items)
    for name in _DATETIME_FIELDS:
        values[name] = parse_iso_datetime(obj.get(name))
    if obj.get("version") is not None:
        version = _typed(obj, "version", int)
        if isinstance(version, bool):
            raise ValueError("'version' must be an integer")
        values["version"] = version
    values["listings"] = [_listing_from_json(item) for item in _typed(obj, "listings", list, [])]
    details = _typed(obj, "details", dict)
    if details is not None:  # its values are checked with the record's (catalog.validate)
        values["details"] = PaperDetails(
            **{k: v for k, v in details.items() if k in _DETAIL_NAMES and v is not None}
        )
    return PaperRecord(**values)


def _listing_to_json(listing: ListingRecord) -> dict[str, Any]:
    return {
        "source": listing.source,
        "day": listing.day.isoformat(),
        "upvotes": listing.upvotes,
        "comments": listing.comments,
    }


def _listing_from_json(item: Any) -> ListingRecord:
    if not isinstance(item, dict):
        raise TypeError("each listing must be an object")
    source, day = item.get("source"), item.get("day")
    if not isinstance(source, str) or not isinstance(day, str):
        raise TypeError("a listing needs 'source' and 'day'")
    counts = {}
    for name in ("upvotes", "comments"):
        value = item.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"listing '{name}' must be an integer")
        counts[name] = value
    return ListingRecord(source=source, day=date.fromisoformat(day), **counts)


def _typed(obj: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = obj.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise TypeError(f"'{name}' must be {kind.__name__}, got {type(value).__name__}")
    return value
