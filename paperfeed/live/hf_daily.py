"""Hugging Face daily papers (``/api/daily_papers?date=YYYY-MM-DD``), one request per day.

Each paper comes with a listing of source ``hf-daily`` on its day, carrying Hugging Face's
upvote and comment counts. Those are an external signal, stored on the listing; our own
users' votes live on the paper and are never mixed with them.

The cursor is the next day to ask for. A day's list (and its counts) keeps growing while the
day lasts, so today is asked again by the next run; earlier days are asked once. Days with
nothing listed (weekends) come back as ``[]`` and cost one request each.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from paperfeed.formats.hf_daily import parse_text
from paperfeed.live.connector import Page, SourceSpec, split_items
from paperfeed.live.http import PoliteClient

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
        next_day = day if day >= today else day + timedelta(days=1)
        yield Page(
            records=records,
            problems=problems,
            next_cursor={"next_day": next_day.isoformat()},
            window=(first.isoformat(), day.isoformat()),
            url=result.url,
        )
        day += timedelta(days=1)


def _date(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None
