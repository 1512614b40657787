"""What users do to papers: upvotes, comments, a personal library, and moderation.

Counters on ``papers`` (``votes``, ``num_comments``) are recomputed from the rows in the same
transaction as each change, so they cannot drift, and feeds sort on them without joins.
Votes and saves are inserted with ``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL alike),
so the same click arriving twice at once (a double-click, two tabs, two web workers) is one
vote, not a unique-constraint error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, literal, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paperfeed.bounds import check_page, has_unprintable
from paperfeed.catalog.lookup import find_paper
from paperfeed.db import Comment, LibraryItem, Listing, Paper, User, Vote
from paperfeed.db.models import utcnow
from paperfeed.errors import InvalidInputError, NotFoundError
from paperfeed.workspace import Workspace

MAX_COMMENT_LENGTH = 10_000


@dataclass(frozen=True)
class CommentView:
    pk: int
    paper_id: str
    username: str
    body: str
    created_at: datetime
    hidden: bool


@dataclass(frozen=True)
class PaperSignals:
    """What a page shows next to a paper: counts, and this user's own vote and save."""

    upvotes: int  # external (listing) upvotes + our users' votes
    num_comments: int
    voted: bool = False
    saved: bool = False


def set_vote(workspace: Workspace, user_pk: int, paper_id: str, up: bool) -> PaperSignals:
    """Upvote (``up``) or withdraw the vote; idempotent. Returns the paper's new signals."""
    with workspace.db.session() as session:
        paper = find_paper(session, paper_id)
        if up:
            _insert_once(session, Vote, user_pk, paper.pk)
        else:
            session.execute(delete(Vote).where(Vote.user_pk == user_pk, Vote.paper_pk == paper.pk))
        _recount_votes(session, paper.pk)
        session.refresh(paper)  # the recount ran in SQL: the object's counter is stale
        return signals(session, [paper], user_pk)[paper.pk]


def add_comment(workspace: Workspace, user_pk: int, paper_id: str, body: str) -> CommentView:
    body = body.strip()
    if not body:
        raise InvalidInputError("comment: empty")
    if len(body) > MAX_COMMENT_LENGTH:
        raise InvalidInputError(f"comment: longer than {MAX_COMMENT_LENGTH} characters")
    if has_unprintable(body):
        raise InvalidInputError("comment: holds control characters; paste it as plain text")
    with workspace.db.session() as session:
        paper = find_paper(session, paper_id)
        comment = Comment(paper_pk=paper.pk, user_pk=user_pk, body=body)
        session.add(comment)
        session.flush()
        _recount_comments(session, paper.pk)
        session.flush()
        return _comment_view(comment, paper.id, session.get(User, user_pk))


def list_comments(
    workspace: Workspace, paper_id: str, include_hidden: bool = False
) -> list[CommentView]:
    """Oldest first, as a discussion reads."""
    with workspace.db.session() as session:
        paper = find_paper(session, paper_id, include_hidden=include_hidden)
        return paper_comments(session, paper, include_hidden)


def paper_comments(
    session: Session, paper: Paper, include_hidden: bool = False
) -> list[CommentView]:
    """``list_comments`` for a paper already looked up."""
    query = (
        select(Comment, User)
        .join(User, User.pk == Comment.user_pk)
        .where(Comment.paper_pk == paper.pk)
        .order_by(Comment.created_at, Comment.pk)
    )
    if not include_hidden:
        query = query.where(Comment.hidden.is_(False))
    return [_comment_view(c, paper.id, u) for c, u in session.execute(query).all()]


def set_comment_hidden(workspace: Workspace, comment_pk: int, hidden: bool) -> CommentView:
    """Moderation: hide (or show again) a comment; it stays in the database."""
    with workspace.db.session() as session:
        comment = session.get(Comment, comment_pk)
        if comment is None:
            raise NotFoundError(f"no comment {comment_pk}")
        comment.hidden = hidden
        session.flush()
        _recount_comments(session, comment.paper_pk)
        session.flush()
        paper_id = session.get_one(Paper, comment.paper_pk).id
        return _comment_view(comment, paper_id, session.get(User, comment.user_pk))


def set_paper_hidden(workspace: Workspace, paper_id: str, hidden: bool) -> None:
    """Moderation: hide a paper from feeds, search and similar lists (admins still see it)."""
    with workspace.db.session() as session:
        paper = find_paper(session, paper_id, include_hidden=True)
        paper.hidden = hidden
        session.flush()


def set_saved(workspace: Workspace, user_pk: int, paper_id: str, saved: bool) -> None:
    """Add a paper to (or remove it from) the user's library; idempotent."""
    with workspace.db.session() as session:
        paper = find_paper(session, paper_id)
        if saved:
            _insert_once(session, LibraryItem, user_pk, paper.pk)
        else:
            session.execute(
                delete(LibraryItem).where(
                    LibraryItem.user_pk == user_pk, LibraryItem.paper_pk == paper.pk
                )
            )


def library(
    workspace: Workspace, user_pk: int, limit: int | None = 50, offset: int = 0
) -> tuple[list[Paper], int]:
    """The user's saved papers, most recently saved first, and how many there are.

    Papers hidden by moderation are left out, as everywhere else (they could not be unsaved).
    """
    check_page(limit, offset)
    with workspace.db.session() as session:
        saved = (LibraryItem.user_pk == user_pk, Paper.hidden.is_(False))
        total = session.scalar(
            select(func.count())
            .select_from(LibraryItem)
            .join(Paper, LibraryItem.paper_pk == Paper.pk)
            .where(*saved)
        )
        query = (
            select(Paper)
            .join(LibraryItem, LibraryItem.paper_pk == Paper.pk)
            .where(*saved)
            .order_by(LibraryItem.created_at.desc(), Paper.pk.desc())
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        papers = list(session.scalars(query))
        session.expunge_all()
    return papers, int(total or 0)


# Prebuilt: ``signals`` runs on every list page, and building these costs more than running them.
_EXTERNAL_UPVOTES = (
    select(Listing.paper_pk, func.max(Listing.upvotes))
    .where(Listing.paper_pk.in_(bindparam("pks", expanding=True)))
    .group_by(Listing.paper_pk)
)
_USER_STATE = union_all(
    select(Vote.paper_pk, literal("voted")).where(
        Vote.user_pk == bindparam("user"), Vote.paper_pk.in_(bindparam("pks", expanding=True))
    ),
    select(LibraryItem.paper_pk, literal("saved")).where(
        LibraryItem.user_pk == bindparam("user"),
        LibraryItem.paper_pk.in_(bindparam("pks", expanding=True)),
    ),
)


def signals(
    session: Session, papers: Sequence[Paper], user_pk: int | None
) -> dict[int, PaperSignals]:
    """Counts and this user's state for papers as loaded, in one query (two for a user).

    Our own counters come from the ``Paper`` objects, which must be current: loaded in this
    request, or cached only while the data version holds (``paperfeed.web.cache``).
    """
    if not papers:
        return {}
    pks = [p.pk for p in papers]
    external = dict(session.execute(_EXTERNAL_UPVOTES, {"pks": pks}).all())
    state: dict[str, set[int]] = {"voted": set(), "saved": set()}
    if user_pk is not None:
        for pk, kind in session.execute(_USER_STATE, {"user": user_pk, "pks": pks}):
            state[kind].add(pk)
    return {
        p.pk: PaperSignals(
            upvotes=int(external.get(p.pk) or 0) + int(p.votes or 0),
            num_comments=int(p.num_comments or 0),
            voted=p.pk in state["voted"],
            saved=p.pk in state["saved"],
        )
        for p in papers
    }


def paper_signals(
    workspace: Workspace, papers: Sequence[Paper], user_pk: int | None
) -> dict[int, PaperSignals]:
    with workspace.db.session() as session:
        return signals(session, papers, user_pk)


def _insert_once(
    session: Session, model: type[Vote] | type[LibraryItem], user_pk: int, paper_pk: int
) -> None:
    """Insert the (user, paper) row unless it is there: one statement, no race."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(model)
        .values(user_pk=user_pk, paper_pk=paper_pk, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_pk", "paper_pk"])
    )


def _recount_votes(session: Session, paper_pk: int) -> None:
    count = select(func.count()).select_from(Vote).where(Vote.paper_pk == paper_pk)
    session.execute(update(Paper).where(Paper.pk == paper_pk).values(votes=count.scalar_subquery()))


def _recount_comments(session: Session, paper_pk: int) -> None:
    count = (
        select(func.count())
        .select_from(Comment)
        .where(Comment.paper_pk == paper_pk, Comment.hidden.is_(False))
    )
    session.execute(
        update(Paper).where(Paper.pk == paper_pk).values(num_comments=count.scalar_subquery())
    )


def _comment_view(comment: Comment, paper_id: str, user: User | None) -> CommentView:
    return CommentView(
        pk=comment.pk,
        paper_id=paper_id,
        username=user.username if user is not None else "[deleted]",
        body=comment.body,
        created_at=comment.created_at,
        hidden=comment.hidden,
    )
