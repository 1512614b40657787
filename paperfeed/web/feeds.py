"""Syndication: Atom feeds, and a Hugging Face-compatible ``/api/daily_papers``.

The compatibility endpoint answers with the field names of Hugging Face's own API
(``paper.id``, ``title``, ``summary``, ``authors[].name``, ``publishedAt``, ``upvotes``,
``numComments``, ``githubRepo``, ``githubStars``, ``projectPage``, ``ai_summary``,
``ai_keywords``, ``organization``, ``submittedBy``, ``thumbnail``, ``mediaUrls``, …), so a
script written for that service works against a paperfeed instance by changing its base
URL. Fields we have no data for are left out; ``thumbnail`` and ``mediaUrls`` point at this
site's cached copies, never at Hugging Face.

Every text that goes into an Atom feed passes ``bounds.clean_text``: feedgen refuses a whole
feed for one character XML cannot carry, so a stored abstract or a query must not hold one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from paperfeed.bounds import MAX_LIST_OFFSET, clean_text
from paperfeed.community import activity, rank
from paperfeed.db import Paper
from paperfeed.errors import InvalidInputError
from paperfeed.search import search
from paperfeed.web.context import workspace_of
from paperfeed.web.media import media_url

router = APIRouter()
ATOM = "application/atom+xml; charset=utf-8"
ATOM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/atom+xml": {}}, "description": "an Atom feed"}
}
FEED_SIZE = 50


@router.get(
    "/feeds/daily.atom",
    tags=["feeds"],
    response_class=Response,
    responses=ATOM_RESPONSES,
    summary="Daily papers (Atom)",
)
def daily_atom(request: Request, period: rank.Period = "day") -> Response:
    """Atom feed of the latest day's (or week's, month's) papers, most upvoted first."""
    feed = rank.feed(workspace_of(request), None, period, "votes", limit=FEED_SIZE)
    title = f"Daily papers ({period})" if period != "day" else "Daily papers"
    return _atom(request, title, [i.paper for i in feed.items])


@router.get(
    "/feeds/trending.atom",
    tags=["feeds"],
    response_class=Response,
    responses=ATOM_RESPONSES,
    summary="Trending papers (Atom)",
)
def trending_atom(request: Request, period: rank.Period = "week") -> Response:
    """Atom feed of trending papers."""
    feed = rank.trending(workspace_of(request), period, limit=FEED_SIZE)
    return _atom(request, f"Trending papers ({period})", [i.paper for i in feed.items])


@router.get(
    "/feeds/search.atom",
    tags=["feeds"],
    response_class=Response,
    responses=ATOM_RESPONSES,
    summary="A saved search (Atom)",
)
def search_atom(request: Request, q: str = Query(description="a saved search")) -> Response:
    """Atom feed of a saved search: subscribe to a query in any feed reader."""
    results = search(workspace_of(request), q, limit=FEED_SIZE)
    q = clean_text(q)  # as the search read it; also keeps the self link encodable
    return _atom(request, f"Search: {q}", [h.paper for h in results.hits], {"q": q})


@router.get("/api/daily_papers", tags=["compat"], summary="Daily papers, Hugging Face format")
def hf_daily_papers(
    request: Request,
    date_: date | None = Query(None, alias="date", description="YYYY-MM-DD; default latest"),
    limit: int = Query(100, ge=1, le=500),
    p: int = Query(0, ge=0, description="page number, from 0"),
) -> list[dict[str, Any]]:
    """Hugging Face-compatible daily papers list (same shape as huggingface.co/api/daily_papers)."""
    rank.check_day("date", date_)
    last = MAX_LIST_OFFSET // limit  # checked before multiplying: p may have 20 digits
    if p > last:
        raise InvalidInputError(f"p: at most {last} with limit={limit}, not {p}")
    workspace = workspace_of(request)
    feed = rank.feed(workspace, date_, "day", "votes", limit=limit, offset=p * limit)
    papers = [i.paper for i in feed.items]
    signals = activity.paper_signals(workspace, papers, None)
    day = feed.start
    base = str(request.base_url).rstrip("/")
    return [_hf_entry(paper, signals[paper.pk], day, base) for paper in papers]


def _hf_entry(
    paper: Paper, signals: activity.PaperSignals, day: date | None, base: str
) -> dict[str, Any]:
    """One entry as Hugging Face shapes it; media URLs are this site's own (``base``)."""
    published = _iso(paper.published)
    listed = _iso(datetime.combine(day, time(), UTC)) if day else published
    inner: dict[str, Any] = {
        "id": paper.id,
        "authors": [{"name": name, "hidden": False} for name in paper.authors],
        "publishedAt": published,
        "submittedOnDailyAt": listed,
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": signals.upvotes,
    }
    if paper.code_url:
        inner["githubRepo"] = paper.code_url
    if paper.github_stars is not None:
        inner["githubStars"] = paper.github_stars
    if paper.project_page:
        inner["projectPage"] = paper.project_page
    if paper.ai_summary:
        inner["ai_summary"] = paper.ai_summary
        inner["ai_keywords"] = list(paper.ai_keywords or [])
    entry: dict[str, Any] = {
        "paper": inner,
        "publishedAt": listed,
        "title": paper.title,
        "summary": paper.abstract,
        "numComments": signals.num_comments,
        "isAuthorParticipating": False,
    }
    thumbnail = media_url(paper.thumbnail)
    if thumbnail:
        entry["thumbnail"] = f"{base}{thumbnail}"
    media = [f"{base}{url}" for url in map(media_url, paper.media or []) if url]
    if media:
        entry["mediaUrls"] = inner["mediaUrls"] = media
    if paper.org_name:
        organization = {"name": paper.org_name, "fullname": paper.org_fullname or paper.org_name}
        entry["organization"] = inner["organization"] = organization
    if paper.submitter:
        entry["submittedBy"] = {"name": paper.submitter, "fullname": paper.submitter}
    return entry


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _atom(
    request: Request, title: str, papers: list[Paper], params: dict[str, str] | None = None
) -> Response:
    base = clean_text(str(request.base_url).rstrip("/"))
    site = workspace_of(request).settings.site_name
    self_url = f"{base}{request.url.path}" + (f"?{urlencode(params)}" if params else "")
    gen = FeedGenerator()
    gen.id(self_url)
    gen.title(clean_text(f"{site}: {title}"))
    gen.link(href=self_url, rel="self")
    gen.link(href=f"{base}/", rel="alternate")
    gen.updated(max((_when(p) for p in papers), default=datetime(1970, 1, 1, tzinfo=UTC)))
    for paper in reversed(papers):  # feedgen prepends: add in reverse to keep our order
        entry = gen.add_entry()
        url = clean_text(f"{base}/papers/{paper.id}")
        entry.id(url)
        entry.title(clean_text(paper.title) or url)
        # One link only: feedgen 1.0 writes entry links without their ``rel`` (upstream issue
        # lkiesow/python-feedgen#135), so an arXiv "related" link would become a second
        # "alternate" (invalid Atom; readers may open arXiv instead). Our page links to arXiv.
        entry.link(href=url)
        for name in paper.authors[:20]:
            if name := clean_text(name):
                entry.author(name=name)
        entry.summary(clean_text(paper.abstract or paper.title))
        entry.updated(_when(paper))
        if paper.published:
            entry.published(paper.published)
        for category in paper.categories:
            if category := clean_text(category):
                entry.category(term=category)
    return Response(gen.atom_str(pretty=True), media_type=ATOM)


def _when(paper: Paper) -> datetime:
    return paper.updated or paper.published or paper.first_seen
