"""Hugging Face ``/api/daily_papers`` responses: a JSON list, one entry per listed paper.

Tolerant of both the small 2024 schema (``paper.{id,authors,publishedAt,title,summary,
upvotes}``) and the 2026 one (adds ``submittedOnDailyAt``, ``githubRepo``, AI summaries, ...):
every field except the paper's id and title is optional.

Authors flagged ``hidden: true`` are kept: the flag hides the link to the author's HF account
in the HF UI, the name is still a real author of the paper (as on arXiv).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from paperfeed.catalog.records import (
    ListingRecord,
    PaperDetails,
    PaperRecord,
    ParseProblem,
    split_arxiv_version,
)
from paperfeed.catalog.validate import check_items
from paperfeed.errors import SourceError
from paperfeed.formats.common import (
    RECORD_ERRORS,
    abs_url,
    clean_optional,
    clean_text,
    date_from_name,
    looks_like_arxiv_id,
    parse_iso_datetime,
    pdf_url,
    read_text,
)

NAME = "hf-daily"
DESCRIPTION = "Hugging Face daily papers API JSON (/api/daily_papers, .gz ok)"


def parse(path: Path) -> Iterator[PaperRecord | ParseProblem]:
    """Records of one saved response; ``ParseProblem.line`` is the 1-based entry index."""
    yield from parse_text(read_text(path), str(path), date_from_name(path))


def parse_text(text: str, origin: str, day: date | None) -> list[PaperRecord | ParseProblem]:
    """Records of one response body (a saved file, or the live API's answer for ``?date=day``).

    ``origin`` (file name or URL) names the body in errors; ``day`` is the date it was asked
    for, used when an entry does not say which day it was listed on. The body is one JSON
    document, so JSON nested too deeply anywhere makes all of it unreadable (``SourceError``);
    a bad entry is a problem for that entry, and the records come out checked.
    """
    try:
        entries = json.loads(text)
    except RecursionError as error:
        raise SourceError(f"{origin}: not JSON (nested too deeply)") from error
    except ValueError as error:  # JSONDecodeError, or an integer of more than 4,300 digits
        raise SourceError(f"{origin}: not JSON ({error})") from error
    if not isinstance(entries, list):
        raise SourceError(
            f"{origin}: expected a JSON list of daily-paper entries, got {type(entries).__name__}"
        )
    items: list[PaperRecord | ParseProblem] = []
    for index, entry in enumerate(entries, start=1):
        try:
            record = _record(entry, day)
        except RECORD_ERRORS as error:
            items.append(ParseProblem(origin, index, f"entry {index}: {error}"))
            continue
        record.line = index
        items.append(record)
    return check_items(items, origin)


def _record(entry: Any, file_day: date | None) -> PaperRecord:
    if not isinstance(entry, dict):
        raise TypeError(f"expected an object, got {type(entry).__name__}")
    paper = entry.get("paper")
    if not isinstance(paper, dict):
        raise TypeError("missing 'paper' object")
    raw_id = clean_text(paper.get("id"))
    if not looks_like_arxiv_id(raw_id):
        raise ValueError(f"paper.id {paper.get('id')!r} is not an arXiv id")
    arxiv_id, version = split_arxiv_version(raw_id)
    title = clean_text(paper.get("title")) or clean_text(entry.get("title"))
    if not title:
        raise ValueError(f"{arxiv_id}: missing title")
    listing = ListingRecord(
        source=NAME,
        day=_listing_day(paper, entry, file_day),
        upvotes=_optional_int(paper.get("upvotes")),
        comments=_optional_int(entry.get("numComments")),
    )
    return PaperRecord(
        title=title,
        source=NAME,
        abstract=clean_text(paper.get("summary")) or clean_text(entry.get("summary")),
        arxiv_id=arxiv_id,
        version=version,
        authors=_authors(paper.get("authors")),
        published=parse_iso_datetime(paper.get("publishedAt")),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
        code_url=clean_optional(paper.get("githubRepo")),
        listings=[listing],
        details=_details(paper, entry),
    )


def _details(paper: dict[str, Any], entry: dict[str, Any]) -> PaperDetails | None:
    """Hugging Face's extras, as found (``check_record`` holds them to the bounds later).

    ``organization`` and ``mediaUrls`` appear on the entry and on its paper alike; the
    submitter is the entry's ``submittedBy`` (else the paper's ``submittedOnDailyBy``).
    Values of a wrong type are passed on as they are, for the check to report.
    """
    org = _first_object(entry.get("organization"), paper.get("organization"))
    submitter = _first_object(entry.get("submittedBy"), paper.get("submittedOnDailyBy"))
    media_urls = entry.get("mediaUrls")
    if media_urls is None:
        media_urls = paper.get("mediaUrls")
    details = PaperDetails(
        ai_summary=_text_or_raw(paper.get("ai_summary")),
        ai_keywords=paper.get("ai_keywords") or [],
        org_name=_text_or_raw(org.get("name")),
        org_fullname=_text_or_raw(org.get("fullname")),
        github_stars=paper.get("githubStars"),
        project_page=_text_or_raw(paper.get("projectPage")),
        submitter=_text_or_raw(submitter.get("name")),
        thumbnail_url=_text_or_raw(entry.get("thumbnail")),
        media_urls=media_urls or [],
    )
    return None if details == PaperDetails() else details


def _first_object(*values: Any) -> dict[str, Any]:
    return next((value for value in values if isinstance(value, dict)), {})


def _text_or_raw(value: Any) -> Any:
    """Text stripped (empty: None); anything else as it is, for the check to report."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _listing_day(paper: dict[str, Any], entry: dict[str, Any], file_day: date | None) -> date:
    """The day HF listed the paper: ``submittedOnDailyAt`` (2026 schema), else the file's
    date (responses are saved per ``?date=``), else the entry's own ``publishedAt``."""
    submitted = parse_iso_datetime(paper.get("submittedOnDailyAt"))
    if submitted is not None:
        return submitted.date()
    if file_day is not None:
        return file_day
    published = parse_iso_datetime(entry.get("publishedAt"))
    if published is None:
        raise ValueError(
            "no listing day: no submittedOnDailyAt, no date in file name, no publishedAt"
        )
    return published.date()


def _authors(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TypeError("paper.authors is not a list")
    names = (clean_text(a.get("name")) if isinstance(a, dict) else clean_text(a) for a in raw)
    return [name for name in names if name]


def _optional_int(value: Any) -> int | None:
    """HF counts are ints; anything else (absent, null) is unknown, not zero."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
