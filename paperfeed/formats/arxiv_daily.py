"""Daily arXiv listing files (``YYYY-MM-DD.jsonl[.gz]``): one announced paper per line.

Schema ``{"id","pdf","abs","authors":[...],"title","categories":[...],"comment","summary"}``.
The file name is the announcement day; the records carry no dates of their own, and an id
gives only year and month, so ``published`` stays None rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from paperfeed.catalog.records import ListingRecord, PaperRecord, ParseProblem, split_arxiv_version
from paperfeed.formats.common import (
    RECORD_ERRORS,
    abs_url,
    clean_optional,
    clean_text,
    date_from_name,
    iter_json_lines,
    looks_like_arxiv_id,
    pdf_url,
    unique,
)

NAME = "arxiv-daily"
DESCRIPTION = "daily arXiv listing, JSON lines named YYYY-MM-DD.jsonl[.gz]"


def parse(path: Path) -> Iterator[PaperRecord | ParseProblem]:
    """Records of one day's listing; ``ParseProblem.line`` is the file line."""
    day = date_from_name(path)
    for number, item in iter_json_lines(path):
        if isinstance(item, ParseProblem):
            yield item
            continue
        try:
            record = _record(item, day)
        except RECORD_ERRORS as error:
            yield ParseProblem(str(path), number, f"line {number}: {error}")
            continue
        record.line = number
        yield record


def _record(obj: dict[str, Any], day: date | None) -> PaperRecord:
    raw_id = clean_text(obj.get("id"))
    if not looks_like_arxiv_id(raw_id):
        raise ValueError(f"'id' {obj.get('id')!r} is not an arXiv id")
    arxiv_id, version = split_arxiv_version(raw_id)
    title = clean_text(obj.get("title"))
    if not title:
        raise ValueError(f"{arxiv_id}: missing 'title'")
    return PaperRecord(
        title=title,
        source=NAME,
        abstract=clean_text(obj.get("summary")),
        arxiv_id=arxiv_id,
        version=version,
        authors=[name for name in map(clean_text, _list(obj, "authors")) if name],
        categories=unique(_list(obj, "categories")),
        comments=clean_optional(obj.get("comment")),
        abs_url=clean_optional(obj.get("abs")) or abs_url(arxiv_id),
        pdf_url=clean_optional(obj.get("pdf")) or pdf_url(arxiv_id),
        listings=[ListingRecord(source=NAME, day=day)] if day else [],
    )


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"'{key}' is not a list")
    return value
