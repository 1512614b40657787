"""Feed ordering: which papers a day's feed shows, and in what order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from paperfeed.db import Listing, Paper
from paperfeed.workspace import Workspace


@dataclass
class FeedItem:
    paper: Paper
    upvotes: int  # external (listing) upvotes for now; our own votes join them later


@dataclass
class DailyFeed:
    day: date | None
    previous_day: date | None
    next_day: date | None
    items: list[FeedItem]


def daily_feed(workspace: Workspace, day: date | None = None, limit: int = 100) -> DailyFeed:
    """Papers listed on ``day`` (default: the latest day with a listing), most upvoted first."""
    with workspace.db.session() as session:
        if day is None:
            day = session.scalar(select(func.max(Listing.day)))
        if day is None:
            return DailyFeed(None, None, None, [])
        previous_day = session.scalar(select(func.max(Listing.day)).where(Listing.day < day))
        next_day = session.scalar(select(func.min(Listing.day)).where(Listing.day > day))
        upvotes = func.coalesce(func.max(Listing.upvotes), 0)
        rows = session.execute(
            select(Paper, upvotes)
            .join(Listing, Listing.paper_pk == Paper.pk)
            .where(Listing.day == day)
            .group_by(Paper.pk)
            .order_by(upvotes.desc(), Paper.pk)
            .limit(limit)
            .options(selectinload(Paper.listings))
        ).all()
    return DailyFeed(day, previous_day, next_day, [FeedItem(p, int(v)) for p, v in rows])
