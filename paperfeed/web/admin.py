"""The admin page and its API: live sources with their runs, the worker and the mail
outbox, and what moderation hid."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from paperfeed.db import Comment, Paper, Subscription, User
from paperfeed.live.runner import RunSummary, list_sources_with_last_run, recent_runs
from paperfeed.mail.sender import outbox_status
from paperfeed.ops.worker import running_worker
from paperfeed.web.context import current_user, render, require_admin, workspace_of
from paperfeed.workspace import Workspace

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


class WorkerOut(BaseModel):
    holder: str
    since: datetime
    lease_until: datetime


class MailStatusOut(BaseModel):
    worker: WorkerOut | None = Field(description="the running `paperfeed worker`, if any")
    subscriptions: dict[str, int] = Field(description="by status: pending, active, unsubscribed")
    outbox: dict[str, int] = Field(description="mails by status: pending, sending, sent, failed")
    errors: list[dict[str, Any]] = Field(description="the latest mails with an error")


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
        mail=_mail_status(workspace),
    )


@api.get("/mail/status", response_model=MailStatusOut, summary="Mail status (admins)")
def api_mail_status(request: Request) -> MailStatusOut:
    """Whether a worker runs, subscriptions and the outbox by status, recent errors (admins)."""
    require_admin(request)
    return _mail_status(workspace_of(request))


def _mail_status(workspace: Workspace) -> MailStatusOut:
    holder = running_worker(workspace)
    with workspace.db.session() as session:
        subscriptions = dict.fromkeys(("pending", "active", "unsubscribed"), 0)
        for status, number in session.execute(
            select(Subscription.status, func.count()).group_by(Subscription.status)
        ):
            subscriptions[status] = int(number)
    outbox = outbox_status(workspace, errors=5)
    return MailStatusOut(
        worker=WorkerOut(
            holder=holder.holder, since=holder.acquired_at, lease_until=holder.expires_at
        )
        if holder
        else None,
        subscriptions=subscriptions,
        outbox=outbox.counts,
        errors=outbox.errors,
    )


@api.get("/sources", response_model=list[SourceOut], summary="Live sources (admins)")
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


@api.get("/sources/runs", response_model=list[RunOut], summary="Source runs (admins)")
def api_source_runs(request: Request, limit: int = Query(50, ge=1, le=500)) -> list[RunOut]:
    """The latest harvest runs of every source, newest first (admins only)."""
    require_admin(request)
    return [_run_out(name, run) for name, run in recent_runs(workspace_of(request), limit)]


def _run_out(source: str, run: RunSummary) -> RunOut:
    return RunOut(source=source, **run.as_dict())
