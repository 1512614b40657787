"""The admin page and its API: live sources with their runs, and what moderation hid."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import func, select

from paperfeed.db import Comment, Paper, User
from paperfeed.live.runner import RunSummary, list_sources_with_last_run, recent_runs
from paperfeed.web.context import current_user, render, require_admin, workspace_of

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["admin"])


class RunOut(BaseModel):
    source: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    window_from: str | None
    window_until: str | None
    pages: int
    added: int
    updated: int
    skipped: int
    failed: int
    error: str | None
    notes: str | None


class SourceOut(BaseModel):
    name: str
    kind: str
    params: dict[str, Any]
    base_url: str
    enabled: bool
    created_at: datetime
    last_run: RunOut | None


@pages.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request) -> Response:
    if current_user(request) is None:
        return RedirectResponse("/login?next=/admin", status_code=303)
    require_admin(request)
    workspace = workspace_of(request)
    with workspace.db.session() as session:
        hidden = list(
            session.scalars(
                select(Paper).where(Paper.hidden.is_(True)).order_by(Paper.pk.desc()).limit(50)
            )
        )
        hidden_comments = session.scalar(
            select(func.count()).select_from(Comment).where(Comment.hidden.is_(True))
        )
        users = session.scalar(select(func.count(User.pk)))
        session.expunge_all()
    return render(
        request,
        "admin.html",
        sources=list_sources_with_last_run(workspace),
        runs=recent_runs(workspace, 30),
        hidden=hidden,
        hidden_comments=hidden_comments,
        users=users,
    )


@api.get("/sources", response_model=list[SourceOut])
def api_sources(request: Request) -> list[SourceOut]:
    """Configured live sources with their last run (admins only)."""
    require_admin(request)
    return [
        SourceOut(
            name=s.name,
            kind=s.kind,
            params=s.params,
            base_url=s.base_url,
            enabled=s.enabled,
            created_at=s.created_at,
            last_run=_run_out(s.name, s.last_run) if s.last_run else None,
        )
        for s in list_sources_with_last_run(workspace_of(request))
    ]


@api.get("/sources/runs", response_model=list[RunOut])
def api_source_runs(request: Request, limit: int = Query(50, ge=1, le=500)) -> list[RunOut]:
    """The latest harvest runs of every source, newest first (admins only)."""
    require_admin(request)
    return [_run_out(name, run) for name, run in recent_runs(workspace_of(request), limit)]


def _run_out(source: str, run: RunSummary) -> RunOut:
    return RunOut(source=source, **run.as_dict())
