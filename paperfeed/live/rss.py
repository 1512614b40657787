"""arXiv's daily RSS listings (rss.arxiv.org/rss/cs.CL+cs.LG): today's announcements.

One request per run gives the latest announcement of the chosen categories: new papers,
cross-lists and replacements, each with title, abstract, authors and categories. Every paper
gets a listing of source ``arxiv-rss`` on the announcement day, so it joins that day's feed.

The feed changes once a day, so the request is conditional: the stored ``ETag`` /
``Last-Modified`` come back as ``If-None-Match`` / ``If-Modified-Since`` and an unchanged
feed costs a 304 and nothing else.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

from paperfeed.catalog.records import ListingRecord, PaperRecord, ParseProblem, split_arxiv_version
from paperfeed.catalog.validate import check_record
from paperfeed.errors import SourceError
from paperfeed.formats.common import (
    RECORD_ERRORS,
    abs_url,
    clean_optional,
    clean_text,
    looks_like_arxiv_id,
    pdf_url,
    split_author_string,
    unique,
    xml_items,
)
from paperfeed.live.connector import Page, SourceSpec
from paperfeed.live.http import PoliteClient

NAME = "arxiv-rss"

_ARXIV = "{http://arxiv.org/schemas/atom}"
_DC = "{http://purl.org/dc/elements/1.1/}"
# "arXiv:2609.26811v1 Announce Type: new \nAbstract: Local learning trains ..."
_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>\S+)\s*(?:Abstract:\s*)?(?P<abstract>.*)$",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class RssListing:
    """One announcement: its day and papers (``announce_types`` maps id -> new/cross/...)."""

    day: date | None
    records: list[PaperRecord] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    announce_types: dict[str, str] = field(default_factory=dict)


def parse_feed(text: str, origin: str) -> RssListing:
    """Parse an RSS body; ``origin`` (URL or file) names it in errors and problems.

    An item that is not well-formed XML or not a paper is a problem for that item; the
    records come out checked (``validate.check_record``).
    """
    try:
        root, items = xml_items(text, "channel/item", "item")
    except ET.ParseError as error:
        raise SourceError(f"{origin}: not an XML RSS feed ({error})") from error
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise SourceError(f"{origin}: not an RSS feed (root element <{root.tag}>)")
    day = _day(channel.findtext("pubDate")) or _day(channel.findtext("lastBuildDate"))
    listing = RssListing(day=day)
    for index, item in enumerate(items, start=1):
        if isinstance(item, ET.ParseError):
            reason = f"item {index}: not well-formed XML ({item})"
            listing.problems.append(ParseProblem(origin, index, reason))
            continue
        try:
            parsed, announce_type = _record(item, day)
        except RECORD_ERRORS as error:
            listing.problems.append(ParseProblem(origin, index, f"item {index}: {error}"))
            continue
        parsed.line = index
        record, found = check_record(parsed, origin)
        listing.problems.extend(found)
        if record is None:
            continue
        listing.records.append(record)
        listing.announce_types[record.key] = announce_type
    return listing


def pages(client: PoliteClient, source: SourceSpec, cursor: Mapping[str, Any]) -> Iterator[Page]:
    """One page: the current announcement, or nothing when the feed has not changed."""
    categories = list(source.params.get("categories") or ())
    url = f"{source.base_url.rstrip('/')}/{'+'.join(categories)}"
    result = client.get(url, etag=cursor.get("etag"), last_modified=cursor.get("last_modified"))
    last_day = cursor.get("day")
    if result.not_modified:
        yield Page(
            records=[],
            next_cursor=dict(cursor),
            window=(last_day, last_day),
            url=result.url,
            note="feed not modified since the last run",
        )
        return
    listing = parse_feed(result.text, result.url)
    day = listing.day.isoformat() if listing.day else last_day
    yield Page(
        records=listing.records,
        problems=listing.problems,
        next_cursor={"etag": result.etag, "last_modified": result.last_modified, "day": day},
        window=(day, day),
        url=result.url,
    )


def _record(item: ET.Element, day: date | None) -> tuple[PaperRecord, str]:
    description = item.findtext("description") or ""
    match = _DESCRIPTION.match(description)
    raw_id = match.group("id") if match else ""
    if not raw_id:  # fall back on the guid, "oai:arXiv.org:2609.26811v1"
        raw_id = clean_text(item.findtext("guid")).removeprefix("oai:arXiv.org:")
    if not looks_like_arxiv_id(raw_id):
        raise ValueError(f"no arXiv id in <description> or <guid> ({raw_id!r})")
    arxiv_id, version = split_arxiv_version(raw_id)
    title = clean_text(item.findtext("title"))
    if not title:
        raise ValueError(f"{arxiv_id}: missing <title>")
    announce_type = clean_text(item.findtext(f"{_ARXIV}announce_type")) or (
        match.group("type") if match else ""
    )
    record = PaperRecord(
        title=title,
        source=NAME,
        abstract=clean_text(match.group("abstract")) if match else "",
        arxiv_id=arxiv_id,
        version=version,
        authors=split_author_string(item.findtext(f"{_DC}creator") or ""),
        categories=unique(c.text or "" for c in item.iterfind("category")),
        doi=clean_optional(item.findtext(f"{_ARXIV}DOI")),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
        listings=[ListingRecord(source=NAME, day=day)] if day else [],
    )
    return record, announce_type


def _day(text: str | None) -> date | None:
    """The calendar day of an RFC 822 date in its own time zone (arXiv's is US Eastern)."""
    if not text or not text.strip():
        return None
    try:
        return parsedate_to_datetime(text.strip()).date()
    except (TypeError, ValueError):
        return None
