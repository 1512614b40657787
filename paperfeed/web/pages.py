"""HTML pages: feeds, trending, search, paper pages, submit, library, moderation.

Every form works without JavaScript (POST, then redirect back); ``static/app.js`` upgrades
votes and saves to in-place updates through the JSON API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from paperfeed.bounds import MAX_LIST_OFFSET, MAX_SEARCH_DEPTH
from paperfeed.catalog import lookup
from paperfeed.catalog.bibtex import to_bibtex
from paperfeed.community import activity, rank
from paperfeed.community.submit import submit_paper
from paperfeed.db import Paper
from paperfeed.errors import InvalidInputError, NotFoundError, PaperfeedError, QueryError
from paperfeed.search import MODES, parse_mode, search, similar_to
from paperfeed.search.highlight import highlight, query_tokens
from paperfeed.web.api import MAX_REF_LENGTH, printable
from paperfeed.web.context import (
    cache_of,
    current_user,
    render,
    render_public,
    require_admin,
    require_user,
    verify_csrf,
    workspace_of,
)
from paperfeed.web.limits import limit

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
SNIPPET_WORDS = 60
# The deepest pages (``bounds``): a list's offset stays within MAX_LIST_OFFSET, a search's
# offset + page within MAX_SEARCH_DEPTH.
LAST_LIST_PAGE = MAX_LIST_OFFSET // PAGE_SIZE + 1
LAST_SEARCH_PAGE = MAX_SEARCH_DEPTH // PAGE_SIZE


@dataclass
class Card:
    """A paper as a list shows it."""

    paper: Paper
    signals: activity.PaperSignals
    snippet: Markup | None = None
    title_html: Markup | None = None
    score: float | None = None


def cards(
    request: Request, papers: list[Paper], tokens: frozenset[str] | None = None
) -> list[Card]:
    user = current_user(request)
    signals = activity.paper_signals(workspace_of(request), papers, user.pk if user else None)
    out = []
    for paper in papers:
        card = Card(paper, signals[paper.pk])
        if tokens is not None:
            card.title_html = highlight(paper.title, tokens)
            card.snippet = highlight(paper.abstract, tokens, max_words=SNIPPET_WORDS)
        out.append(card)
    return out


@router.get("/", response_class=HTMLResponse)
def feed_page(
    request: Request,
    day: date | None = None,
    period: rank.Period = "day",
    sort: rank.Sort = "votes",
    page: int = Query(1, ge=1),
    on: date | None = Query(None, alias="date", description="the same as day (as on HF)"),
) -> Response:
    """The day's papers. ``?period=week|month`` (older links, the date picker in those
    views) redirects to the week's or month's own URL; ``?date=`` to ``?day=``."""
    if period != "day" or (on is not None and day is None):
        day = day or on
        rank.check_day("day", day)
        return RedirectResponse(feed_url(period, day, sort, page), status_code=303)
    return _feed_response(request, day, "day", sort, page)


@router.get("/week", response_class=HTMLResponse)
@router.get("/month", response_class=HTMLResponse)
def latest_period_page(
    request: Request, sort: rank.Sort = "votes", page: int = Query(1, ge=1)
) -> HTMLResponse:
    """The latest week or month that lists papers."""
    period: rank.Period = "week" if request.url.path == "/week" else "month"
    return _feed_response(request, None, period, sort, page)


@router.get("/week/{week}", response_class=HTMLResponse)
def week_page(
    request: Request, week: str, sort: rank.Sort = "votes", page: int = Query(1, ge=1)
) -> HTMLResponse:
    """The best papers of an ISO week (``2025-W10``) by upvotes."""
    return _feed_response(request, rank.parse_period(week, "week"), "week", sort, page)


@router.get("/month/{month}", response_class=HTMLResponse)
def month_page(
    request: Request, month: str, sort: rank.Sort = "votes", page: int = Query(1, ge=1)
) -> HTMLResponse:
    """The best papers of a month (``2025-03``) by upvotes."""
    return _feed_response(request, rank.parse_period(month, "month"), "month", sort, page)


def feed_url(period: rank.Period, day: date | None, sort: str = "votes", page: int = 1) -> str:
    """The bookmarkable URL of a feed view: ``/?day=2025-03-04``, ``/week/2025-W10``,
    ``/month/2025-03`` (``/week``, ``/month``: the latest), with ``sort`` and ``page`` when
    they are not the defaults."""
    query: dict[str, str | int] = {}
    if period == "day":
        path = "/"
        if day is not None:
            query["day"] = day.isoformat()
    else:
        path = f"/{period}" + (f"/{rank.period_name(day, period)}" if day is not None else "")
    if sort != "votes":
        query["sort"] = sort
    if page > 1:
        query["page"] = page
    return path + ("?" + urlencode(query) if query else "")


def _feed_response(
    request: Request, day: date | None, period: rank.Period, sort: rank.Sort, page: int
) -> HTMLResponse:
    offset = _offset(page, LAST_LIST_PAGE)
    key = ("feed", day, period, sort, page)

    def context() -> dict[str, Any]:
        cache = cache_of(request)
        feed = cache.get_or_compute(
            key,
            lambda: rank.feed(
                workspace_of(request),
                day,
                period,
                sort,
                limit=PAGE_SIZE,
                offset=offset,
            ),
        )
        first, last = cache.get_or_compute(
            "listed_span", lambda: rank.listed_span(workspace_of(request))
        )
        return {
            "feed": feed,
            "cards": cards(request, [i.paper for i in feed.items]),
            "period": period,
            "sort": sort,
            "page": page,
            "pages": pages_offered(feed.total, LAST_LIST_PAGE),
            "first_day": first,
            "last_day": last,
            "feed_url": feed_url,
            "period_name": rank.period_name,
        }

    return render_public(request, key, "feed.html", context)


@router.get("/trending", response_class=HTMLResponse)
def trending_page(
    request: Request, period: rank.Period = "week", page: int = Query(1, ge=1)
) -> HTMLResponse:
    offset = _offset(page, LAST_LIST_PAGE)
    key = ("trending", period, page)

    def context() -> dict[str, Any]:
        feed = cache_of(request).get_or_compute(
            key,
            lambda: rank.trending(workspace_of(request), period, limit=PAGE_SIZE, offset=offset),
        )
        return {
            "feed": feed,
            "cards": cards(request, [i.paper for i in feed.items]),
            "period": period,
            "page": page,
            "pages": pages_offered(feed.total, LAST_LIST_PAGE),
            "offset": offset,
        }

    return render_public(request, key, "trending.html", context)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: str = "",
    cat: str = "",
    author: str = "",
    since: str = "",
    until: str = "",
    mode: str = "hybrid",
    page: int = Query(1, ge=1),
) -> HTMLResponse:
    form = {"q": q, "cat": cat, "author": author, "since": since, "until": until, "mode": mode}
    full = build_query(q, cat=cat, author=author, since=since, until=until)
    context: dict[str, Any] = {"form": form, "q": q, "modes": MODES, "results": None}
    if not full:
        return render(request, "search.html", **context)
    try:
        results = search(
            workspace_of(request),
            full,
            limit=PAGE_SIZE,
            offset=_offset(page, LAST_SEARCH_PAGE, QueryError),
            mode=parse_mode(mode),
        )
    except QueryError as exc:
        return render(request, "search.html", status=400, error=str(exc), **context)
    tokens = query_tokens(results.parsed)
    listed = cards(request, [h.paper for h in results.hits], tokens)
    nearest = cards(request, [h.paper for h in results.nearest], tokens)
    base = {k: v for k, v in form.items() if v and not (k == "mode" and v == "hybrid")}
    return render(
        request,
        "search.html",
        **{**context, "results": results, "cards": listed, "nearest": nearest},
        page=page,
        pages=pages_offered(results.pageable, LAST_SEARCH_PAGE),
        page_url=lambda n: "/search?" + urlencode({**base, "page": n}),
    )


def build_query(
    q: str, *, cat: str = "", author: str = "", since: str = "", until: str = ""
) -> str:
    """The search box plus the filter fields, in the query syntax (so URLs stay shareable)."""
    parts = [q.strip()]
    if cat.strip():
        parts.append(f"cat:{cat.strip()}")
    if author.strip():
        parts.append(f'author:"{author.strip().replace(chr(34), "")}"')
    if since.strip():
        parts.append(f"since:{since.strip()}")
    if until.strip():
        parts.append(f"until:{until.strip()}")
    return " ".join(p for p in parts if p)


@router.get("/papers/{paper_id:path}/bibtex")
def paper_bibtex(request: Request, paper_id: str) -> Response:
    with workspace_of(request).db.session() as session:
        paper = lookup.find_paper(session, paper_id)
        return Response(to_bibtex([paper]), media_type="application/x-bibtex; charset=utf-8")


@router.post("/papers/{paper_id:path}/vote", dependencies=[Depends(verify_csrf), limit("vote")])
def vote_form(request: Request, paper_id: str, up: bool = Form(True)) -> RedirectResponse:
    user = require_user(request)
    activity.set_vote(workspace_of(request), user.pk, paper_id, up)
    return _back(request, f"/papers/{paper_id}")


@router.post("/papers/{paper_id:path}/save", dependencies=[Depends(verify_csrf), limit("save")])
def save_form(request: Request, paper_id: str, saved: bool = Form(True)) -> RedirectResponse:
    user = require_user(request)
    activity.set_saved(workspace_of(request), user.pk, paper_id, saved)
    return _back(request, f"/papers/{paper_id}")


@router.post(
    "/papers/{paper_id:path}/comments", dependencies=[Depends(verify_csrf), limit("comment")]
)
def comment_form(
    request: Request, paper_id: str, body: Annotated[str, Form(), printable("body")] = ""
) -> Response:
    user = require_user(request)
    try:
        comment = activity.add_comment(workspace_of(request), user.pk, paper_id, body)
    except PaperfeedError as exc:
        if isinstance(exc, NotFoundError):
            raise
        return _paper_response(request, paper_id, status=400, comment_error=str(exc), draft=body)
    return RedirectResponse(f"/papers/{paper_id}#comment-{comment.pk}", status_code=303)


@router.post("/papers/{paper_id:path}/hide", dependencies=[Depends(verify_csrf)])
def hide_paper_form(request: Request, paper_id: str, hidden: bool = Form(True)) -> RedirectResponse:
    require_admin(request)
    activity.set_paper_hidden(workspace_of(request), paper_id, hidden)
    return RedirectResponse(f"/papers/{paper_id}", status_code=303)


@router.post("/comments/{comment_pk}/hide", dependencies=[Depends(verify_csrf)])
def hide_comment_form(
    request: Request, comment_pk: int, hidden: bool = Form(True)
) -> RedirectResponse:
    require_admin(request)
    comment = activity.set_comment_hidden(workspace_of(request), comment_pk, hidden)
    return RedirectResponse(f"/papers/{comment.paper_id}#comment-{comment.pk}", status_code=303)


@router.get("/papers/{paper_id:path}", response_class=HTMLResponse)
def paper_page(request: Request, paper_id: str) -> HTMLResponse:
    return _paper_response(request, paper_id)


def _paper_response(
    request: Request, paper_id: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    workspace = workspace_of(request)
    user = current_user(request)
    admin = bool(user and user.is_admin)
    with workspace.db.session() as session:  # the paper looked up once, for everything
        paper = lookup.find_paper(session, paper_id, include_hidden=admin)
        signals = activity.signals(session, [paper], user.pk if user else None)
        comments = activity.paper_comments(session, paper, include_hidden=admin)
        session.expunge(paper)
    try:
        neighbours = similar_to(workspace, paper.pk, 8)
    except NotFoundError:
        neighbours = []
    return render(
        request,
        "paper.html",
        status=status,
        paper=paper,
        signals=signals[paper.pk],
        similar=neighbours,
        comments=comments,
        **extra,
    )


@router.get("/submit", response_class=HTMLResponse)
def submit_page(request: Request) -> HTMLResponse:
    return render(request, "submit.html", ref="")


@router.post("/submit", dependencies=[Depends(verify_csrf), limit("submit")])
def submit_form(
    request: Request,
    ref: Annotated[str, Form(max_length=MAX_REF_LENGTH), printable("ref")] = "",
) -> Response:
    user = require_user(request)
    try:
        submitted = submit_paper(workspace_of(request), ref, user.pk)
    except PaperfeedError as exc:
        return render(request, "submit.html", status=400, ref=ref, error=str(exc))
    if submitted.paper_id is None:  # queued for the worker, which fetches it from arXiv
        return render(request, "submit.html", status=202, ref="", queued=submitted.arxiv_id)
    return RedirectResponse(f"/papers/{submitted.paper_id}", status_code=303)


@router.get("/library", response_class=HTMLResponse)
def library_page(request: Request, page: int = Query(1, ge=1)) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login?" + urlencode({"next": "/library"}), status_code=303)
    offset = _offset(page, LAST_LIST_PAGE)
    papers, total = activity.library(workspace_of(request), user.pk, PAGE_SIZE, offset)
    return render(
        request,
        "library.html",
        cards=cards(request, papers),
        total=total,
        page=page,
        pages=pages_offered(total, LAST_LIST_PAGE),
    )


@router.get("/library.bib")
def library_bibtex(request: Request) -> Response:
    user = require_user(request)
    papers, _ = activity.library(workspace_of(request), user.pk, limit=None)
    return Response(
        to_bibtex(papers),
        media_type="application/x-bibtex; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="paperfeed-library.bib"'},
    )


def _offset(page: int, last: int, error: type[PaperfeedError] = InvalidInputError) -> int:
    """Where ``page`` (from 1) starts; past ``last`` an ``error`` (400), checked before the
    multiplication, so a 20-digit page number never reaches SQLite or tantivy."""
    if page > last:
        raise error(f"page: at most {last}, not {page}; narrow the list instead of paging on")
    return (page - 1) * PAGE_SIZE


def pages_offered(total: int, last: int) -> int:
    """How many pages of ``total`` results a pager offers: no more than ``last``, the deepest
    one served."""
    return min(max(1, -(-total // PAGE_SIZE)), last)


def _back(request: Request, fallback: str) -> RedirectResponse:
    """Redirect to the page the form was on (same site only), else ``fallback``."""
    referer = request.headers.get("referer", "")
    origin = str(request.base_url)
    target = referer if referer.startswith(origin) else fallback
    return RedirectResponse(target, status_code=303)
