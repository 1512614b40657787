"""Email subscriptions on the web: subscribe, manage them, and the pages mails link to.

* ``/subscribe``: anyone subscribes an address to the trending digest or a saved-search
  alert (signed-in users also to "for you" recommendations); a confirmation mail follows,
  and the page says whether it was sent, queued for the worker, or cannot be sent here.
* ``/settings/subscriptions`` and ``/api/v1/subscriptions``: a signed-in user's own
  subscriptions, listed, added and cancelled.
* ``/subscriptions/confirm`` and ``/unsubscribe``: the signed token in the link is the
  authority there, so these need no session or CSRF token; ``POST /unsubscribe`` is the
  RFC 8058 one-click target mail clients call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from paperfeed.bounds import MAX_QUERY_LENGTH
from paperfeed.db import Subscription, User
from paperfeed.errors import InvalidInputError, PaperfeedError
from paperfeed.mail.addresses import MAX_ADDRESS_LENGTH
from paperfeed.mail.delivery import send_confirmation, smtp_configured
from paperfeed.mail.subscriptions import (
    cancel,
    confirm,
    describe,
    list_for_user,
    subscribe,
    unsubscribe,
)
from paperfeed.ops.worker import running_worker
from paperfeed.web.api import TextIn, printable
from paperfeed.web.context import (
    current_user,
    http_status,
    render,
    require_user,
    verify_csrf,
    workspace_of,
)
from paperfeed.web.limits import limit

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["subscriptions"])
write = [Depends(verify_csrf)]
SETTINGS_PAGE = "/settings/subscriptions"


def _subscribe(request: Request, user: User | None, form: dict[str, str]) -> Subscription:
    """One entry point for the form and the API: the user's own address unless given."""
    email = form.get("email", "").strip() or (user.email if user and user.email else "")
    if not email:
        raise InvalidInputError("email: which address should the mails go to?")
    params: dict[str, Any] = {"period": form.get("period") or "daily"}
    if form.get("kind") == "search":
        params["query"] = form.get("query", "")
    return subscribe(
        workspace_of(request),
        email,
        form.get("kind", ""),
        params,
        user_pk=user.pk if user else None,
    )


@dataclass(frozen=True)
class Notice:
    """What became of the confirmation mail, as the page says it: ``ok`` or ``warning``."""

    tone: str
    text: str


def _deliver(request: Request, subscription: Subscription) -> Notice:
    """Say what really happened to the confirmation: sent, queued for the running worker,
    or stuck because no mail server is configured (the mail waits in the outbox then). With
    a server but no worker to send it, it is sent now, from this request."""
    workspace = workspace_of(request)
    email, what = subscription.email, describe(subscription)
    if subscription.status == "active":
        return Notice("ok", f"{email} already gets {what}.")
    if not smtp_configured(workspace.settings):
        return Notice(
            "warning",
            f"Saved, but no mail server is configured here, so the confirmation link for "
            f"{what} cannot be mailed to {email} yet; it waits in the outbox. (Admin: set "
            "PAPERFEED_SMTP_HOST and PAPERFEED_SMTP_PORT, see docs/mail.md.)",
        )
    if running_worker(workspace) is not None:
        return Notice(
            "ok",
            f"Queued: the worker will send a confirmation link to {email} within a minute "
            f"or so. Open it to start {what} (the link works for 7 days).",
        )
    report = send_confirmation(workspace, subscription.pk)
    if report.sent:
        return Notice(
            "ok",
            f"Sent: we mailed a link to {email}. Open it to start {what} "
            "(the link works for 7 days).",
        )
    error = report.errors[0] if report.errors else "the mail server did not take it"
    return Notice(
        "warning",
        f"Queued, but the mail server refused it just now ({error}), and no worker is "
        "running to try again. (Admin: start `paperfeed worker`, see docs/mail.md.)",
    )


# ---- pages ------------------------------------------------------------------------------


@pages.get("/subscribe", response_class=HTMLResponse)
def subscribe_page(
    request: Request,
    kind: str = Query("trending"),
    q: str = Query("", description="the saved search, for kind=search"),
    period: str = Query("daily"),
) -> HTMLResponse:
    user = current_user(request)
    form = {"kind": kind, "query": q, "period": period, "email": (user and user.email) or ""}
    return render(request, "subscribe.html", form=form)


@pages.post("/subscribe", dependencies=[*write, limit("subscribe")])
def subscribe_form(
    request: Request,
    email: Annotated[str, Form(max_length=MAX_ADDRESS_LENGTH), printable("email")] = "",
    kind: Annotated[str, Form(max_length=20), printable("kind")] = "trending",
    period: Annotated[str, Form(max_length=20), printable("period")] = "daily",
    query: Annotated[str, Form(max_length=MAX_QUERY_LENGTH), printable("query")] = "",
) -> Response:
    user = current_user(request)
    form = {"email": email, "kind": kind, "period": period, "query": query}
    try:
        subscription = _subscribe(request, user, form)
    except PaperfeedError as exc:
        return render(request, "subscribe.html", status=http_status(exc), form=form, error=str(exc))
    notice = _deliver(request, subscription)
    if user is not None:
        return _settings(request, user, message=notice.text, tone=notice.tone)
    return render(request, "subscribe.html", form=form, message=notice.text, tone=notice.tone)


@pages.get(SETTINGS_PAGE, response_class=HTMLResponse)
def settings_page(request: Request) -> Response:
    return _settings(request, require_user(request))  # logged out: to the login page and back


@pages.post(SETTINGS_PAGE + "/{pk}/cancel", dependencies=write)
def cancel_form(request: Request, pk: int) -> Response:
    user = require_user(request)
    subscription = cancel(workspace_of(request), pk, user.pk)
    return _settings(request, user, message=f"Stopped {describe(subscription)}.")


def _settings(
    request: Request, user: User, message: str | None = None, tone: str = "ok"
) -> HTMLResponse:
    subscriptions = list_for_user(workspace_of(request), user.pk)
    return render(
        request,
        "settings_subscriptions.html",
        subscriptions=[(s, describe(s)) for s in subscriptions],
        form={"kind": "for_you", "period": "daily", "query": "", "email": user.email or ""},
        message=message,
        tone=tone,
    )


@pages.get("/subscriptions/confirm", response_class=HTMLResponse)
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


@pages.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str = Query("")) -> HTMLResponse:
    """A confirmation button, so link scanners that follow GET links unsubscribe no one."""
    return render(request, "subscription.html", unsubscribe_token=token)


@pages.post("/unsubscribe", response_class=HTMLResponse)
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


# ---- API --------------------------------------------------------------------------------


class SubscriptionIn(TextIn):
    kind: Literal["trending", "search", "for_you"]
    period: Literal["daily", "weekly"] = "daily"
    query: Annotated[
        str,
        Field(
            max_length=MAX_QUERY_LENGTH,
            description="for kind=search: a query in the search syntax",
        ),
    ] = ""
    email: Annotated[
        str,
        Field(
            max_length=MAX_ADDRESS_LENGTH,
            description="one plain address (name@example.org); default: the account's",
        ),
    ] = ""


class SubscriptionOut(BaseModel):
    id: int
    email: str
    kind: str
    period: str
    query: str | None
    status: str = Field(description="pending (until the mailed link is opened), active, …")
    description: str
    created_at: datetime
    confirmed_at: datetime | None
    last_sent_at: datetime | None


def _out(subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=subscription.pk,
        email=subscription.email,
        kind=subscription.kind,
        period=subscription.params.get("period", "daily"),
        query=subscription.params.get("query"),
        status=subscription.status,
        description=describe(subscription),
        created_at=subscription.created_at,
        confirmed_at=subscription.confirmed_at,
        last_sent_at=subscription.last_sent_at,
    )


@api.get("/subscriptions", response_model=list[SubscriptionOut], summary="Your email subscriptions")
def list_subscriptions(request: Request) -> list[SubscriptionOut]:
    """The logged-in user's pending and active subscriptions."""
    user = require_user(request)
    return [_out(s) for s in list_for_user(workspace_of(request), user.pk)]


@api.post(
    "/subscriptions",
    response_model=SubscriptionOut,
    status_code=201,
    dependencies=[*write, limit("subscribe")],
    summary="Subscribe by email",
)
def add_subscription(request: Request, body: SubscriptionIn) -> SubscriptionOut:
    """Subscribe; the subscription is ``pending`` until the link in the mailed
    confirmation is opened. Subscribing again to an active one returns it unchanged."""
    user = require_user(request)
    subscription = _subscribe(request, user, body.model_dump())
    _deliver(request, subscription)  # sent now when no worker will send it
    return _out(subscription)


@api.delete(
    "/subscriptions/{pk}", response_model=SubscriptionOut, dependencies=write, summary="Unsubscribe"
)
def delete_subscription(request: Request, pk: int) -> SubscriptionOut:
    """Unsubscribe (idempotent)."""
    user = require_user(request)
    return _out(cancel(workspace_of(request), pk, user.pk))
