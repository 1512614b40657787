"""The pages mails link to: confirm a subscription, and unsubscribe without logging in.

The signed token in the link is the authority here, so these forms need no session or CSRF
token; ``POST /unsubscribe`` is the RFC 8058 one-click target mail clients call.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from paperfeed.errors import PaperfeedError
from paperfeed.mail.subscriptions import confirm, describe, unsubscribe
from paperfeed.web.context import render, workspace_of

router = APIRouter(include_in_schema=False)


@router.get("/subscriptions/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, token: str = Query("")) -> HTMLResponse:
    try:
        subscription = confirm(workspace_of(request), token)
    except PaperfeedError as exc:
        return render(request, "subscription.html", status=400, error=str(exc))
    return render(
        request,
        "subscription.html",
        message=f"Confirmed: {subscription.email} will get {describe(subscription)}.",
    )


@router.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str = Query("")) -> HTMLResponse:
    """A confirmation button, so link scanners that follow GET links unsubscribe no one."""
    return render(request, "subscription.html", unsubscribe_token=token)


@router.post("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_now(request: Request, token: str = Query("")) -> HTMLResponse:
    try:
        subscription = unsubscribe(workspace_of(request), token)
    except PaperfeedError as exc:
        return render(request, "subscription.html", status=400, error=str(exc))
    return render(
        request,
        "subscription.html",
        message=f"Unsubscribed: {subscription.email} will no longer get {describe(subscription)}.",
    )
