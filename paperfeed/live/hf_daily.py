"""Hugging Face daily papers (``/api/daily_papers?date=YYYY-MM-DD``), one request per day.

Each paper comes with a listing of source ``hf-daily`` on its day, carrying Hugging Face's
upvote and comment counts. Those are an external signal, stored on the listing; our own
users' votes live on the paper and are never mixed with them.

The cursor is the next day to ask for. A day's list (and its counts) keeps growing while the
day lasts, so today is asked again by the next run; earlier days are asked once. Days with
nothing listed (weekends) come back as ``[]`` and cost one request each.

Thumbnails and image media are fetched into the data directory (``live.media``) as the
records are read, so pages can show them from our own origin; an image already cached is
not asked for again.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from paperfeed.bounds import MAX_MEDIA
from paperfeed.catalog.records import PaperRecord
from paperfeed.formats.hf_daily import parse_text
from paperfeed.live.connector import Page, SourceSpec, split_items
from paperfeed.live.http import PoliteClient
from paperfeed.live.media import cache_image, media_dir

NAME = "hf-daily"


def pages(client: PoliteClient, source: SourceSpec, cursor: Mapping[str, Any]) -> Iterator[Page]:
    """One page per day from the cursor's next day (else the ``from`` option, else today)
    through the ``until`` option (else today)."""
    today = datetime.now(UTC).date()
    until = _date(source.params.get("until")) or today
    first = _date(cursor.get("next_day")) or _date(source.params.get("from")) or today
    url = f"{source.base_url.rstrip('/')}/daily_papers"
    day = first
    while day <= until:
        result = client.get(url, params={"date": day.isoformat()})
        records, problems = split_items(parse_text(result.text, result.url, day))
        if source.data_dir is not None:
            fetch_images(client, records, media_dir(source.data_dir), source.base_url)
        next_day = day if day >= today else day + timedelta(days=1)
        yield Page(
            records=records,
            problems=problems,
            next_cursor={"next_day": next_day.isoformat()},
            window=(first.isoformat(), day.isoformat()),
            url=result.url,
        )
        day += timedelta(days=1)


def fetch_images(
    client: PoliteClient, records: list[PaperRecord], directory: Path, base_url: str
) -> None:
    """Cache each record's thumbnail and image media (``live.media``) and name the copies on
    the record; what could not be fetched stays unnamed, so it is not shown.

    Only images on the source's own site are fetched (``same_site``: for huggingface.co, its
    CDN hosts): an answer cannot make us ask any other host, an internal one least of all.
    """
    for record in records:
        details = record.details
        if details is None:
            continue
        if details.thumbnail_url and same_site(details.thumbnail_url, base_url):
            details.thumbnail = cache_image(client, details.thumbnail_url, directory)
        images = [
            url for url in details.media_urls if _looks_like_image(url) and same_site(url, base_url)
        ]
        names = (cache_image(client, url, directory) for url in images[:MAX_MEDIA])
        details.media = [name for name in names if name]


def same_site(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the host of ``base_url`` or, for a name (not an address), on a
    host under the same registered domain's last two labels (cdn-x.huggingface.co)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
        base = (urlsplit(base_url).hostname or "").lower()
    except ValueError:
        return False
    if not host or not base:
        return False
    if host == base:
        return True
    try:
        ipaddress.ip_address(base)
    except ValueError:
        site = ".".join(base.split(".")[-2:])
        return "." in site and host.endswith(f".{site}")
    return False


def _looks_like_image(url: str) -> bool:
    """HF media are images and videos; only images are fetched (by their extension)."""
    return url.lower().rsplit(".", 1)[-1] in {"png", "jpg", "jpeg", "gif", "webp"}


def _date(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None
