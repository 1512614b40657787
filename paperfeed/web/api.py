"""The JSON API under ``/api/v1`` (documented by the generated OpenAPI at ``/docs``).

Reads are open. Writes (votes, comments, library, submit) act as the logged-in user: send
the session cookie and the ``X-CSRF-Token`` header, both from ``GET /api/v1/me`` after
logging in. Errors are ``{"error": message}`` with a fitting status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field, model_validator

from paperfeed.bounds import has_unprintable
from paperfeed.catalog import lookup
from paperfeed.community import activity, rank
from paperfeed.community.submit import submission, submit_paper
from paperfeed.db import Paper
from paperfeed.db.models import SubmissionRequest
from paperfeed.errors import InvalidInputError, NotFoundError
from paperfeed.search import Mode, SearchResults, search, similar
from paperfeed.web.context import (
    csrf_token,
    current_user,
    require_user,
    verify_csrf,
    workspace_of,
)
from paperfeed.web.limits import limit
from paperfeed.web.media import media_url
from paperfeed.workspace import Workspace

router = APIRouter(prefix="/api/v1", tags=["api"])
write = [Depends(verify_csrf)]
MAX_REF_LENGTH = 300  # an arXiv id or abs/pdf URL is under 100 characters


def _unprintable(field: str) -> InvalidInputError:
    return InvalidInputError(
        f"{field}: control characters and lone surrogates (invalid Unicode) are not text"
    )


def printable(name: str) -> BeforeValidator:
    """A validator for a form field ``name`` (``Annotated[str, Form(), printable("body")]``):
    it refuses C0/C1 control characters but tab and newlines, and lone UTF-16 surrogates,
    which no UTF-8 encoder (the database's, the response's) takes, naming the field (400).

    It raises ``InvalidInputError``, not a pydantic error, before any other check: a pydantic
    error quotes the raw input in the 422 response, which cannot be encoded when it holds a
    surrogate. JSON bodies get the same check from ``TextIn``.
    """

    def refuse(value: object) -> object:
        if isinstance(value, str) and has_unprintable(value):
            raise _unprintable(name)
        return value

    return BeforeValidator(refuse)


class TextIn(BaseModel):
    """A JSON request body: every string in it, keys and values of any shape, is checked as
    ``printable`` checks a form field, before the fields are validated, and the message
    names the top-level field. Checking only the declared fields would not do: a body of
    the wrong shape (``["\\ud800"]``) fails their validation with the raw input quoted."""

    @model_validator(mode="before")
    @classmethod
    def _printable_everywhere(cls, data: Any) -> Any:
        stack: list[tuple[str, object]] = [("", data)]  # (top-level field, value)
        while stack:  # not recursive: JSON may nest deeper than Python's stack
            where, value = stack.pop()
            if isinstance(value, dict):
                for key, item in value.items():
                    top = where == "" and not has_unprintable(str(key))
                    name = str(key)[:50] if top else where
                    stack.append((name, key))
                    stack.append((name, item))
            elif isinstance(value, list):
                stack.extend((where, item) for item in value)
            elif isinstance(value, str) and has_unprintable(value):
                raise _unprintable(where or "body")
        return data


class PaperOut(BaseModel):
    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: datetime | None
    abs_url: str | None
    pdf_url: str | None
    code_url: str | None
    github_stars: int | None = Field(None, description="stars of the code_url repository")
    project_page: str | None = None
    ai_summary: str | None = Field(None, description="Hugging Face's one-line AI summary")
    ai_keywords: list[str] = []
    organization: str | None = Field(None, description="Hugging Face organisation (name)")
    organization_name: str | None = Field(None, description="the organisation's full name")
    submitter: str | None = Field(None, description="Hugging Face user who submitted it")
    thumbnail: str | None = Field(None, description="this site's URL of its cached thumbnail")
    media: list[str] = Field([], description="this site's URLs of its cached images")
    upvotes: int = Field(description="external (e.g. Hugging Face) upvotes + this site's votes")
    num_comments: int
    voted: bool = Field(False, description="the logged-in user upvoted it")
    saved: bool = Field(False, description="in the logged-in user's library")


class ScoredPaperOut(PaperOut):
    score: float | None = None


class FeedOut(BaseModel):
    period: str
    start: date | None
    end: date | None
    previous: date | None = Field(None, description="a day of the previous period with papers")
    next: date | None = None
    total: int
    papers: list[ScoredPaperOut]


class SearchOut(BaseModel):
    query: str
    mode: str
    total: int = Field(
        description="papers matching: a query word found in them, or close enough in meaning "
        "(the same on every page)"
    )
    total_exact: bool = Field(
        True, description="false when counting stopped early: at least `total` match"
    )
    offset: int
    next_offset: int | None = Field(None, description="the next page's offset; null at the end")
    results: list[ScoredPaperOut]
    nearest: list[ScoredPaperOut] = Field(
        default_factory=list,
        description="only when nothing matches: the papers nearest by meaning, which are "
        "not matches (score: their cosine similarity)",
    )
    # A long query is read as a pasted title and abstract ("find related work"); the paper
    # it came from, when in the collection, is given here rather than among the results.
    related_work: bool = False
    this_paper: ScoredPaperOut | None = None
    expanded: dict[str, str] = {}  # acronyms and long forms the query also searched


class VoteOut(BaseModel):
    paper_id: str
    upvotes: int
    voted: bool


class CommentIn(TextIn):
    body: Annotated[
        str,
        Field(
            max_length=activity.MAX_COMMENT_LENGTH,
            description="Markdown; raw HTML is shown as text",
        ),
    ]


class CommentOut(BaseModel):
    id: int
    paper_id: str
    user: str
    body: str
    created_at: datetime


class LibraryOut(BaseModel):
    total: int
    papers: list[PaperOut]


class SubmitIn(TextIn):
    ref: Annotated[
        str,
        Field(max_length=MAX_REF_LENGTH, description="an arXiv id or an arxiv.org URL"),
    ]


SubmissionStatus = Literal["queued", "done", "failed"]


class SubmissionOut(BaseModel):
    number: int
    arxiv_id: str
    status: SubmissionStatus
    paper_id: str | None  # when done
    error: str | None  # when failed: arXiv's answer
    requested_at: datetime


class MeOut(BaseModel):
    username: str | None
    is_admin: bool = False
    csrf_token: str


def papers_out(
    workspace: Workspace,
    papers: list[Paper],
    user_pk: int | None = None,
    scores: Sequence[float | None] | None = None,
) -> list[ScoredPaperOut]:
    """Papers in the one JSON shape of a paper: ``/api/v1`` and the CLI's ``--json`` alike
    (``user_pk``: whose vote and save to show; None for nobody's)."""
    signals = activity.paper_signals(workspace, papers, user_pk)
    scores = scores or [None] * len(papers)
    return [
        ScoredPaperOut(
            id=p.id,
            title=p.title,
            abstract=p.abstract,
            authors=p.authors,
            categories=p.categories,
            published=p.published,
            abs_url=p.abs_url,
            pdf_url=p.pdf_url,
            code_url=p.code_url,
            github_stars=p.github_stars,
            project_page=p.project_page,
            ai_summary=p.ai_summary,
            ai_keywords=p.ai_keywords or [],
            organization=p.org_name,
            organization_name=p.org_fullname,
            submitter=p.submitter,
            thumbnail=media_url(p.thumbnail),
            media=[url for url in map(media_url, p.media or []) if url],
            upvotes=signals[p.pk].upvotes,
            num_comments=signals[p.pk].num_comments,
            voted=signals[p.pk].voted,
            saved=signals[p.pk].saved,
            score=None if s is None else round(s, 6),
        )
        for p, s in zip(papers, scores, strict=True)
    ]


def paper_out(
    request: Request, papers: list[Paper], scores: Sequence[float | None] | None = None
) -> list[ScoredPaperOut]:
    """``papers_out`` for the logged-in user of ``request``."""
    user = current_user(request)
    return papers_out(workspace_of(request), papers, user.pk if user else None, scores)


def search_out(
    workspace: Workspace, results: SearchResults, user_pk: int | None = None
) -> SearchOut:
    """A search's results as ``/api/v1/search`` and ``paperfeed search --json`` give them."""
    hits, nearest = results.hits, results.nearest
    return SearchOut(
        query=results.query,
        mode=results.mode,
        total=results.total,
        total_exact=results.total_exact,
        offset=results.offset,
        next_offset=results.offset + results.limit if results.has_more else None,
        results=papers_out(workspace, [h.paper for h in hits], user_pk, [h.score for h in hits]),
        nearest=papers_out(
            workspace, [h.paper for h in nearest], user_pk, [h.score for h in nearest]
        ),
        related_work=results.related is not None,
        this_paper=papers_out(workspace, [results.this_paper.paper], user_pk, [1.0])[0]
        if results.this_paper
        else None,
        expanded=dict(results.expanded),
    )


def _feed_out(request: Request, feed: rank.Feed) -> FeedOut:
    return FeedOut(
        period=feed.period,
        start=feed.start,
        end=feed.end,
        previous=feed.previous,
        next=feed.next,
        total=feed.total,
        papers=paper_out(request, [i.paper for i in feed.items], [i.score for i in feed.items]),
    )


@router.get("/feed", response_model=FeedOut, summary="Daily, weekly or monthly feed")
def api_feed(
    request: Request,
    day: date | None = Query(None, description="any day of the period; default the latest"),
    period: rank.Period = "day",
    sort: rank.Sort = "votes",
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> FeedOut:
    """Papers listed on a day (or in its week/month), most upvoted or newest first."""
    return _feed_out(
        request, rank.feed(workspace_of(request), day, period, sort, limit=limit, offset=offset)
    )


@router.get("/trending", response_model=FeedOut, summary="Trending papers")
def api_trending(
    request: Request,
    period: rank.Period = "week",
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> FeedOut:
    """Papers by a time-decayed score of upvotes and age (see ``paperfeed.community.rank``)."""
    return _feed_out(
        request, rank.trending(workspace_of(request), period, limit=limit, offset=offset)
    )


@router.get("/search", response_model=SearchOut, summary="Search papers")
def api_search(
    request: Request,
    q: str = Query(
        description='words, "phrases", -exclusions, author:, cat:, since:, until:; '
        "or a pasted title and abstract (up to 10,000 characters) for related work"
    ),
    mode: Mode = "hybrid",
    limit: int = Query(10, ge=1, le=100),
    offset: int = Query(0, ge=0),
) -> SearchOut:
    """Search with the CLI's query syntax: the matching papers, one page of them."""
    workspace = workspace_of(request)
    user = current_user(request)
    results = search(workspace, q, limit=limit, offset=offset, mode=mode)
    return search_out(workspace, results, user.pk if user else None)


@router.get("/me", response_model=MeOut, summary="Current user and CSRF token")
def api_me(request: Request) -> MeOut:
    """Who is logged in, and the CSRF token their writes must send as ``X-CSRF-Token``."""
    user = current_user(request)
    return MeOut(
        username=user.username if user else None,
        is_admin=bool(user and user.is_admin),
        csrf_token=csrf_token(request),
    )


@router.get("/library", response_model=LibraryOut, summary="Your library")
def api_library(
    request: Request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0)
) -> LibraryOut:
    """The logged-in user's saved papers, most recently saved first."""
    user = require_user(request)
    papers, total = activity.library(workspace_of(request), user.pk, limit, offset)
    return LibraryOut(total=total, papers=list[PaperOut](paper_out(request, papers)))


@router.put(
    "/library/{paper_id:path}",
    response_model=PaperOut,
    dependencies=[*write, limit("save")],
    summary="Save a paper",
)
def api_save(request: Request, paper_id: str) -> PaperOut:
    """Save a paper to the library (idempotent)."""
    return _set_saved(request, paper_id, True)


@router.delete(
    "/library/{paper_id:path}",
    response_model=PaperOut,
    dependencies=[*write, limit("save")],
    summary="Unsave a paper",
)
def api_unsave(request: Request, paper_id: str) -> PaperOut:
    """Remove a paper from the library (idempotent)."""
    return _set_saved(request, paper_id, False)


def _set_saved(request: Request, paper_id: str, saved: bool) -> PaperOut:
    user = require_user(request)
    activity.set_saved(workspace_of(request), user.pk, paper_id, saved)
    return _one(request, paper_id)


@router.post(
    "/submit",
    response_model=PaperOut,
    responses={202: {"model": SubmissionOut, "description": "Queued for the worker."}},
    dependencies=[*write, limit("submit")],
    summary="Submit a paper",
)
def api_submit(request: Request, body: SubmitIn) -> PaperOut | JSONResponse:
    """Add a paper to today's feed by arXiv id or URL.

    A paper we have is listed and returned at once. One that must be fetched from arXiv is
    fetched now when no worker runs; when one does, the request is queued for it (202, with
    the request to poll at ``/api/v1/submissions/{number}``).
    """
    user = require_user(request)
    submitted = submit_paper(workspace_of(request), body.ref, user.pk)
    if submitted.paper_id is None:
        assert submitted.request_pk is not None
        queued = _submission_out(submission(workspace_of(request), submitted.request_pk))
        return JSONResponse(queued.model_dump(mode="json"), status_code=202)
    return _one(request, submitted.paper_id)


@router.get("/submissions/{number}", response_model=SubmissionOut, summary="Submission status")
def api_submission(
    request: Request, number: Annotated[int, FastPath(ge=1, le=2**31 - 1)]
) -> SubmissionOut:
    """A submission request queued for the worker: queued, done (with the paper) or failed."""
    user = require_user(request)
    found = submission(workspace_of(request), number)
    if found.user_pk != user.pk and not user.is_admin:
        raise NotFoundError(f"no submission request {number}")
    return _submission_out(found)


def _submission_out(found: SubmissionRequest) -> SubmissionOut:
    return SubmissionOut(
        number=found.pk,
        arxiv_id=found.arxiv_id,
        # The column is a plain string; community.submit writes only these three values.
        status=cast(SubmissionStatus, found.status),
        paper_id=found.paper_id,
        error=found.error,
        requested_at=found.requested_at,
    )


@router.get(
    "/papers/{paper_id:path}/similar", response_model=list[ScoredPaperOut], summary="Similar papers"
)
def api_similar(
    request: Request, paper_id: str, limit: int = Query(10, ge=1, le=50)
) -> list[ScoredPaperOut]:
    """Papers nearest in meaning (cosine of the embeddings)."""
    hits = similar(workspace_of(request), _visible(request, paper_id).id, limit)
    return paper_out(request, [h.paper for h in hits], [h.score for h in hits])


@router.put(
    "/papers/{paper_id:path}/vote",
    response_model=VoteOut,
    dependencies=[*write, limit("vote")],
    summary="Upvote a paper",
)
def api_vote(request: Request, paper_id: str) -> VoteOut:
    """Upvote (one vote per user per paper; voting again changes nothing)."""
    return _vote(request, paper_id, True)


@router.delete(
    "/papers/{paper_id:path}/vote",
    response_model=VoteOut,
    dependencies=[*write, limit("vote")],
    summary="Withdraw an upvote",
)
def api_unvote(request: Request, paper_id: str) -> VoteOut:
    """Withdraw the upvote."""
    return _vote(request, paper_id, False)


def _vote(request: Request, paper_id: str, up: bool) -> VoteOut:
    user = require_user(request)
    signals = activity.set_vote(workspace_of(request), user.pk, paper_id, up)
    return VoteOut(paper_id=_visible(request, paper_id).id, upvotes=signals.upvotes, voted=up)


@router.get(
    "/papers/{paper_id:path}/comments",
    response_model=list[CommentOut],
    summary="A paper's comments",
)
def api_comments(request: Request, paper_id: str) -> list[CommentOut]:
    """The discussion, oldest first (hidden comments left out)."""
    return [_comment_out(c) for c in activity.list_comments(workspace_of(request), paper_id)]


@router.post(
    "/papers/{paper_id:path}/comments",
    response_model=CommentOut,
    status_code=201,
    dependencies=[*write, limit("comment")],
    summary="Comment on a paper",
)
def api_add_comment(request: Request, paper_id: str, body: CommentIn) -> CommentOut:
    """Comment as the logged-in user."""
    user = require_user(request)
    return _comment_out(activity.add_comment(workspace_of(request), user.pk, paper_id, body.body))


@router.get("/papers/{paper_id:path}", response_model=PaperOut, summary="One paper")
def api_paper(request: Request, paper_id: str) -> PaperOut:
    """One paper by id: an arXiv id (with or without ``arXiv:`` or a version), an arxiv.org
    link, a DOI, or our numeric key."""
    return _one(request, paper_id)


def _visible(request: Request, paper_id: str) -> Paper:
    return lookup.get_paper(workspace_of(request), paper_id)


def _one(request: Request, paper_id: str) -> PaperOut:
    return paper_out(request, [_visible(request, paper_id)])[0]


def _comment_out(comment: activity.CommentView) -> CommentOut:
    return CommentOut(
        id=comment.pk,
        paper_id=comment.paper_id,
        user=comment.username,
        body=comment.body,
        created_at=comment.created_at,
    )
