"""arXiv API (export.arxiv.org/api/query) Atom responses.

Handles both the pre-2025 form (namespaces declared on each ``opensearch:*`` element,
``http://`` ids) and the current one (namespaces on the root, ``https://`` links). ElementTree
resolves prefixes to namespace URIs, so the two look the same once parsed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from paperfeed.catalog.records import PaperRecord, ParseProblem, split_arxiv_version
from paperfeed.catalog.validate import check_items
from paperfeed.errors import SourceError
from paperfeed.formats.common import (
    RECORD_ERRORS,
    abs_url,
    clean_optional,
    clean_text,
    looks_like_arxiv_id,
    parse_iso_datetime,
    pdf_url,
    read_text,
    unique,
    xml_items,
)

NAME = "arxiv-atom"
DESCRIPTION = "arXiv API Atom response (export.arxiv.org/api/query)"

_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV = "{http://arxiv.org/schemas/atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
_ABS_ID = re.compile(r"^https?://(?:export\.)?arxiv\.org/abs/(?P<id>.+)$")


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """The feed's OpenSearch paging numbers, which the live API client pages with."""

    total_results: int | None
    start_index: int | None
    items_per_page: int | None


def parse(path: Path) -> Iterator[PaperRecord | ParseProblem]:
    """Records of one saved API response. Pages are at most a few thousand entries, so the
    file is parsed whole; ``ParseProblem.line`` is the 1-based entry index."""
    items, _info = parse_feed(read_text(path), str(path))
    yield from items


def parse_feed(text: str, origin: str) -> tuple[list[PaperRecord | ParseProblem], FeedInfo]:
    """Parse an API response body. ``origin`` (file name or URL) names it in errors/problems.

    arXiv answers a malformed query with a feed holding one "Error" entry (HTTP 400); that is
    raised as ``SourceError`` carrying arXiv's message, since no page of results exists.
    An entry that is not well-formed XML, or not a paper, is a problem for that entry; the
    records come out checked (``validate.check_items``).
    """
    try:
        root, entries = xml_items(text, f"{_ATOM}entry", "entry")
    except ET.ParseError as error:
        raise SourceError(f"{origin}: not an XML Atom feed ({error})") from error
    if root.tag != f"{_ATOM}feed":
        raise SourceError(f"{origin}: not an Atom feed (root element is <{_local(root.tag)}>)")
    info = FeedInfo(
        total_results=_int_child(root, f"{_OPENSEARCH}totalResults"),
        start_index=_int_child(root, f"{_OPENSEARCH}startIndex"),
        items_per_page=_int_child(root, f"{_OPENSEARCH}itemsPerPage"),
    )
    items: list[PaperRecord | ParseProblem] = []
    for index, entry in enumerate(entries, start=1):
        if isinstance(entry, ET.ParseError):
            reason = f"entry {index}: not well-formed XML ({entry})"
            items.append(ParseProblem(origin, index, reason))
            continue
        _raise_if_error_entry(entry, origin)
        try:
            record = _record(entry)
        except RECORD_ERRORS as error:
            items.append(ParseProblem(origin, index, f"entry {index}: {error}"))
            continue
        record.line = index
        items.append(record)
    return check_items(items, origin), info


def _raise_if_error_entry(entry: ET.Element, origin: str) -> None:
    entry_id = _text(entry, f"{_ATOM}id")
    if "/api/errors" in entry_id:
        message = _text(entry, f"{_ATOM}summary") or entry_id
        raise SourceError(f"{origin}: arXiv API error: {message}")


def _record(entry: ET.Element) -> PaperRecord:
    raw_id = _text(entry, f"{_ATOM}id")
    match = _ABS_ID.match(raw_id)
    if not match or not looks_like_arxiv_id(match.group("id")):
        raise ValueError(f"<id> {raw_id!r} is not an arXiv abs URL")
    arxiv_id, version = split_arxiv_version(match.group("id"))
    title_element = entry.find(f"{_ATOM}title")
    title = clean_text(title_element.text if title_element is not None else None)
    if not title:
        raise ValueError(f"{arxiv_id}: missing <title>")
    primary = entry.find(f"{_ARXIV}primary_category")
    categories = [primary.get("term", "")] if primary is not None else []
    categories += [c.get("term", "") for c in entry.iterfind(f"{_ATOM}category")]
    alternate, pdf = _links(entry)
    return PaperRecord(
        title=title,
        source=NAME,
        abstract=_text(entry, f"{_ATOM}summary"),
        arxiv_id=arxiv_id,
        version=version,
        authors=[
            name
            for author in entry.iterfind(f"{_ATOM}author")
            if (name := _text(author, f"{_ATOM}name"))
        ],
        categories=unique(categories),
        published=parse_iso_datetime(_text(entry, f"{_ATOM}published")),
        updated=parse_iso_datetime(_text(entry, f"{_ATOM}updated")),
        doi=clean_optional(_text(entry, f"{_ARXIV}doi")),
        journal_ref=clean_optional(_text(entry, f"{_ARXIV}journal_ref")),
        comments=clean_optional(_text(entry, f"{_ARXIV}comment")),
        abs_url=alternate or abs_url(arxiv_id),
        pdf_url=pdf or pdf_url(arxiv_id),
    )


def _links(entry: ET.Element) -> tuple[str | None, str | None]:
    """The abs (rel=alternate) and PDF (title=pdf) links, upgraded to https.

    Legacy responses give ``http://arxiv.org/...``; arXiv only serves https now, and one form
    keeps links comparable across sources.
    """
    alternate = pdf = None
    for link in entry.iterfind(f"{_ATOM}link"):
        href = link.get("href", "").strip()
        if not href:
            continue
        href = re.sub(r"^http://", "https://", href)
        if link.get("title") == "pdf":
            pdf = pdf or href
        elif link.get("rel") == "alternate":
            alternate = alternate or href
    return alternate, pdf


def _text(element: ET.Element, tag: str) -> str:
    child = element.find(tag)
    return clean_text(child.text if child is not None else None)


def _int_child(element: ET.Element, tag: str) -> int | None:
    text = _text(element, tag)
    try:
        return int(text)
    except ValueError:
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
