"""People pages: an author's papers and co-authors (``/authors/{name}``), an organisation's
papers (``/orgs/{name}``), and their JSON twins under ``/api/v1``.

Names come from the URL as anyone typed them: one that no stored name could be (too long,
control characters) or that has no visible paper is a 404, never a query that fails. Author
names are matched exactly against the papers' author lists (on SQLite ``json_each`` after a
LIKE on the stored JSON, a scan of the papers; on PostgreSQL a ``jsonb`` containment that the
GIN index of migration 0012 answers); organisations by their indexed Hugging Face name.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import ColumnElement, String, and_, cast, exists, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from paperfeed.bounds import MAX_HANDLE_CHARS, has_unprintable
from paperfeed.catalog.validate import MAX_AUTHOR_CHARS
from paperfeed.db import Paper
from paperfeed.errors import NotFoundError
from paperfeed.web.api import PaperOut, paper_out
from paperfeed.web.context import render, workspace_of
from paperfeed.web.pages import PAGE_SIZE, cards

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["api"])
MAX_PAGE = 500  # 10,000 papers deep: as far as any list goes (bounds.MAX_LIST_OFFSET)
CO_AUTHORS = 12  # co-authors named on an author's page
_CO_AUTHOR_PAPERS = 500  # newest papers of an author counted for co-authors


@dataclass(slots=True)
class People:
    """One page of a person's or an organisation's papers, newest first."""

    name: str
    papers: list[Paper]
    total: int
    page: int
    co_authors: list[tuple[str, int]]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _usable(name: str, limit: int) -> bool:
    return 0 < len(name) <= limit and not has_unprintable(name) and name.strip() == name


def _has_author(session: Session, name: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        contained: ColumnElement[bool] = Paper.authors.cast(JSONB).contains(
            func.jsonb_build_array(name)
        )
        return contained
    # The JSON text holds the name as json.dumps writes it (SQLAlchemy's serializer): a
    # LIKE on that text skips most rows before json_each looks inside the few left.
    stored = cast(Paper.authors, String).contains(json.dumps(name), autoescape=True)
    each = func.json_each(Paper.authors).table_valued("value").alias("author")
    inside = exists(select(1).select_from(each).where(literal_column("author.value") == name))
    return and_(stored, inside)


def _listed(session: Session, where: ColumnElement[bool], page: int) -> tuple[list[Paper], int]:
    visible = (where, Paper.hidden.is_(False))
    total = session.scalar(select(func.count()).select_from(Paper).where(*visible)) or 0
    papers = list(
        session.scalars(
            select(Paper)
            .where(*visible)
            .order_by(Paper.published.desc().nulls_last(), Paper.pk.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
    )
    return papers, total


def author_papers(request: Request, name: str, page: int) -> People:
    if not _usable(name, MAX_AUTHOR_CHARS):
        raise NotFoundError("no author of that name")
    with workspace_of(request).db.session() as session:
        where = _has_author(session, name)
        papers, total = _listed(session, where, page)
        if total == 0:
            raise NotFoundError(f"no papers by {name!r}")
        recent = session.scalars(
            select(Paper.authors)
            .where(where, Paper.hidden.is_(False))
            .order_by(Paper.published.desc().nulls_last())
            .limit(_CO_AUTHOR_PAPERS)
        )
        counts = Counter(a for authors in recent for a in set(authors) if a != name)
        session.expunge_all()
    return People(name, papers, total, page, counts.most_common(CO_AUTHORS))


def org_papers(request: Request, name: str, page: int) -> tuple[People, str]:
    """An organisation's papers, and its full name as the newest of them gives it."""
    if not _usable(name, MAX_HANDLE_CHARS):
        raise NotFoundError("no organisation of that name")
    with workspace_of(request).db.session() as session:
        papers, total = _listed(session, Paper.org_name == name, page)
        if total == 0:
            raise NotFoundError(f"no papers of the organisation {name!r}")
        session.expunge_all()
    fullname = next((p.org_fullname for p in papers if p.org_fullname), None) or name
    return People(name, papers, total, page, []), fullname


_PAGE = Query(1, ge=1, le=MAX_PAGE, description="page number, from 1")


@pages.get("/authors/{name:path}", response_class=HTMLResponse)
def author_page(request: Request, name: str, page: int = _PAGE) -> HTMLResponse:
    people = author_papers(request, name, page)
    return render(
        request,
        "people.html",
        kind="author",
        heading=people.name,
        people=people,
        cards=cards(request, people.papers),
        base=f"/authors/{name}",
    )


@pages.get("/orgs/{name:path}", response_class=HTMLResponse)
def org_page(request: Request, name: str, page: int = _PAGE) -> HTMLResponse:
    people, fullname = org_papers(request, name, page)
    return render(
        request,
        "people.html",
        kind="org",
        heading=fullname,
        people=people,
        cards=cards(request, people.papers),
        base=f"/orgs/{name}",
    )


class CoAuthorOut(BaseModel):
    name: str
    papers: int


class PeopleOut(BaseModel):
    name: str
    total: int
    page: int
    papers: list[PaperOut]
    co_authors: list[CoAuthorOut] = []


@api.get("/authors/{name:path}", response_model=PeopleOut)
def api_author(request: Request, name: str, page: int = _PAGE) -> Any:
    """An author's papers, newest first, and their most frequent co-authors."""
    people = author_papers(request, name, page)
    return _out(request, people)


@api.get("/orgs/{name:path}", response_model=PeopleOut)
def api_org(request: Request, name: str, page: int = _PAGE) -> Any:
    """A Hugging Face organisation's papers, newest first."""
    people, _ = org_papers(request, name, page)
    return _out(request, people)


def _out(request: Request, people: People) -> PeopleOut:
    return PeopleOut(
        name=people.name,
        total=people.total,
        page=people.page,
        papers=list[PaperOut](paper_out(request, people.papers)),
        co_authors=[CoAuthorOut(name=n, papers=c) for n, c in people.co_authors],
    )
