"""Feed ordering: which papers a day's, week's or month's feed shows, and what is trending.

A paper is *in* a feed period when it has a listing (an appearance in a dated listing: a
daily-papers page, an arXiv announcement, a submission here) on a day of that period.
Its upvotes are the largest external count its listings carry plus our own users' votes.

Trending ranks the papers listed in the period by a time-decayed score (the Hacker News
"gravity" form)::

    score = upvotes / (age_days + 2) ** GRAVITY

where ``age_days`` counts from the paper's first listing to the reference day (the latest day
that has listings, so a corpus that stopped updating still has a trending page). With
``GRAVITY = 1.5``, a day-old paper needs ~1.8x the votes of a new one to rank level with it,
a week-old one ~4.2x.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, cast

from sqlalchemy import ColumnElement, Select, func, select

from paperfeed.bounds import EARLIEST_DATE, check_page, date_in_range, date_range_text
from paperfeed.db import Listing, Paper
from paperfeed.errors import InvalidInputError
from paperfeed.workspace import Workspace

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
Sort = Literal["votes", "new"]
SORTS: tuple[Sort, ...] = ("votes", "new")
GRAVITY = 1.5


@dataclass
class FeedItem:
    paper: Paper
    upvotes: int  # external (listing) upvotes + our users' votes
    score: float | None = None  # trending score, when ranked by trend


@dataclass
class Feed:
    period: Period
    start: date | None  # first and last day of the period (None: nothing listed at all)
    end: date | None
    previous: date | None  # a day in the previous/next period that has listings
    next: date | None
    items: list[FeedItem]
    total: int

    @property
    def day(self) -> date | None:
        return self.start


def period_bounds(day: date, period: Period) -> tuple[date, date]:
    """The first and last day of the period containing ``day`` (weeks start on Monday)."""
    if period == "day":
        return day, day
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if period == "month":
        last = calendar.monthrange(day.year, day.month)[1]
        return day.replace(day=1), day.replace(day=last)
    raise InvalidInputError(f"period: one of {', '.join(PERIODS)}, not {period!r}")


def latest_day(workspace: Workspace) -> date | None:
    with workspace.db.reading() as session:
        return session.scalar(select(func.max(Listing.day)))


def listed_span(workspace: Workspace) -> tuple[date | None, date | None]:
    """The first and the last day on which a visible paper is listed (the date picker's range)."""
    with workspace.db.reading() as session:
        row = session.execute(
            select(func.min(Listing.day), func.max(Listing.day)).where(_visible_listing())
        ).one()
    return row[0], row[1]


_WEEK = re.compile(r"(\d{4})-W(\d{1,2})", re.ASCII)
_MONTH = re.compile(r"(\d{4})-(\d{1,2})", re.ASCII)


def period_name(day: date, period: Period) -> str:
    """The period containing ``day`` as its URLs write it: 2025-03-04, 2025-W10, 2025-03."""
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def parse_period(text: str, period: Period) -> date:
    """The first day of the ISO week ``2025-W10`` or the month ``2025-03`` (the earliest
    date papers may have, for the period holding it); ``InvalidInputError`` (400) for
    anything else, naming the form expected."""
    pattern, form = (_WEEK, "YYYY-Www, e.g. 2025-W10") if period == "week" else (
        _MONTH, "YYYY-MM, e.g. 2025-03")  # fmt: skip
    match = pattern.fullmatch(text)
    try:
        if match is None:
            raise ValueError
        year, number = int(match.group(1)), int(match.group(2))
        first = date.fromisocalendar(year, number, 1) if period == "week" else date(year, number, 1)
    except ValueError:
        raise InvalidInputError(f"{period}: {text[:40]!r} is not a {period} ({form})") from None
    # A day of the period within the dates papers have (the week of the earliest date
    # starts before it); none at all: out of range.
    last = period_bounds(first, period)[1] if first < EARLIEST_DATE else first
    day = max(first, EARLIEST_DATE)
    if not (date_in_range(day) and day <= last):
        raise InvalidInputError(f"{period}: {text[:40]} is not within {date_range_text()}")
    return day


def feed(
    workspace: Workspace,
    day: date | None = None,
    period: Period = "day",
    sort: Sort = "votes",
    limit: int = 50,
    offset: int = 0,
) -> Feed:
    """Papers listed in the period containing ``day`` (default: the latest listed day)."""
    if sort not in SORTS:
        raise InvalidInputError(f"sort: one of {', '.join(SORTS)}, not {sort!r}")
    check_page(limit, offset)
    check_day("day", day)
    with workspace.db.reading() as session:
        if day is None:
            day = session.scalar(select(func.max(Listing.day)).where(_visible_listing()))
        if day is None:
            return Feed(period, None, None, None, None, [], 0)
        start, end = period_bounds(day, period)
        # The neighbours shown as links: the nearest days that list a visible paper, so a
        # link never leads to an empty page.
        visible = _visible_listing()
        previous = session.scalar(select(func.max(Listing.day)).where(Listing.day < start, visible))
        following = session.scalar(select(func.min(Listing.day)).where(Listing.day > end, visible))
        votes = upvotes()
        listed = _listed_between(start, end)
        total = session.scalar(select(func.count()).select_from(listed.subquery()))
        order = (
            (votes.desc(), Paper.published.desc(), Paper.pk.desc())
            if sort == "votes"
            else (Paper.published.desc(), Paper.pk.desc())
        )
        rows = session.execute(
            select(Paper, votes)
            .join(Listing, Listing.paper_pk == Paper.pk)
            .where(Paper.pk.in_(listed))
            .group_by(Paper.pk)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        ).all()
        items = [FeedItem(p, int(v)) for p, v in rows]
        session.expunge_all()
    return Feed(period, start, end, previous, following, items, int(total or 0))


def trending(
    workspace: Workspace,
    period: Period = "week",
    reference: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Feed:
    """Papers listed in the last day/week/month before ``reference``, by decayed score."""
    if period not in PERIODS:
        raise InvalidInputError(f"period: one of {', '.join(PERIODS)}, not {period!r}")
    check_page(limit, offset)
    check_day("reference", reference)
    with workspace.db.reading() as session:
        if reference is None:
            reference = session.scalar(select(func.max(Listing.day)))
        if reference is None:
            return Feed(period, None, None, None, None, [], 0)
        span = {"day": 1, "week": 7, "month": 30}[period]
        start = reference - timedelta(days=span - 1)
        first_day = func.min(Listing.day)
        rows = session.execute(
            select(Paper.pk, first_day, upvotes())
            .join(Listing, Listing.paper_pk == Paper.pk)
            .where(Paper.pk.in_(_listed_between(start, reference)))
            .group_by(Paper.pk)
        ).all()
        scored = sorted(
            ((_trend_score(int(v), (reference - first).days), pk, int(v)) for pk, first, v in rows),
            key=lambda row: (-row[0], -row[1]),
        )
        page = scored[offset : offset + limit]
        papers = {
            p.pk: p
            for p in session.scalars(select(Paper).where(Paper.pk.in_([r[1] for r in page])))
        }
        items = [FeedItem(papers[pk], votes, score) for score, pk, votes in page]
        session.expunge_all()
    return Feed(period, start, reference, None, None, items, len(scored))


def check_day(name: str, day: date | None) -> None:
    """``InvalidInputError`` for a day outside the dates papers have (``bounds``): the
    period arithmetic around it would overflow ``date`` (9999-12-31 has no next week)."""
    if day is not None and not date_in_range(day):
        raise InvalidInputError(f"{name}: {day.isoformat()} is not within {date_range_text()}")


def _trend_score(upvotes: int, age_days: int) -> float:
    score: float = upvotes / (max(age_days, 0) + 2) ** GRAVITY
    return score


def upvotes() -> ColumnElement[int]:
    """A paper's upvotes, grouped by paper: the most any listing of it had, plus our votes."""
    # Never NULL (the coalesce); its stub types it as its first argument, which may be.
    return cast(ColumnElement[int], func.coalesce(func.max(Listing.upvotes), 0) + Paper.votes)


def _visible_listing() -> ColumnElement[bool]:
    """A listing of a paper that is not hidden."""
    hidden = select(Paper.pk).where(Paper.hidden.is_(True))
    return Listing.paper_pk.not_in(hidden)


def _listed_between(start: date, end: date) -> Select[int]:
    """The pks of the visible papers listed in ``[start, end]``.

    Shaped so the plan starts from the period's listings (``ix_listings_day``) whatever the
    statistics say: the hidden papers (a handful) are a ``NOT IN`` list, not a join that the
    planner may drive from ``ix_papers_hidden`` through all papers (33 ms at 100k).
    """
    hidden = select(Paper.pk).where(Paper.hidden.is_(True))
    return (
        select(Listing.paper_pk)
        .where(Listing.day >= start, Listing.day <= end, Listing.paper_pk.not_in(hidden))
        .distinct()
    )
