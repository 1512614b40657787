"""Subscriptions with double opt-in: subscribe → confirmation mail → confirm → digests.

``subscribe`` writes the pending subscription and its confirmation mail to the outbox in one
transaction: either both exist or neither. Nothing but the confirmation is ever sent to an
address that has not opened the link. ``unsubscribe`` needs only the token from a mail (no
login) and is idempotent, as RFC 8058 one-click unsubscribe requires.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.db import OutboxMessage, Subscription, User
from paperfeed.db.models import utcnow
from paperfeed.errors import InvalidInputError, NotFoundError, QueryError, RateLimitedError
from paperfeed.mail import render, tokens
from paperfeed.mail.addresses import mailbox_key, normalize_address
from paperfeed.search.query import parse_query
from paperfeed.workspace import Workspace

KINDS = ("trending", "search", "for_you")
PERIOD_LENGTH = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
PERIODS = tuple(PERIOD_LENGTH)


def subscribe(
    workspace: Workspace,
    email: str,
    kind: str,
    params: dict[str, Any] | None = None,
    user_pk: int | None = None,
) -> Subscription:
    """A pending subscription plus its confirmation mail in the outbox (one transaction).

    Asking again for a subscription that is still pending queues a fresh confirmation; one
    that is already active is left alone (no mail), so the call is safe to repeat. A
    mailbox gets at most ``subscribe_confirmations_per_hour`` confirmations an hour
    (``RateLimitedError`` past that): anyone may subscribe any address, so the form must
    not become a way to flood someone's inbox. The count is per ``mailbox_key``: spelling
    the address in other case or with a ``+tag`` does not buy more mails.
    """
    email = normalize_address(email)
    params = _check_params(kind, params or {})
    with workspace.db.session() as session:
        if user_pk is not None and session.get(User, user_pk) is None:
            raise InvalidInputError(f"user: no account with pk {user_pk}")
        if kind == "for_you" and user_pk is None:
            raise InvalidInputError("kind: for_you recommendations need an account: log in first")
        existing = session.scalars(
            select(Subscription).where(
                Subscription.email == email,
                Subscription.kind == kind,
                Subscription.status.in_(("pending", "active")),
            )
        ).all()
        same = next((s for s in existing if s.params == params), None)
        if same is not None and same.status == "active":
            session.expunge(same)
            return same
        _check_rate(workspace, session, email)
        subscription = same or Subscription(
            email=email, kind=kind, params=params, user_pk=user_pk, status="pending"
        )
        session.add(subscription)
        session.flush()
        session.add(_confirmation(workspace, subscription))
        session.flush()
        session.expunge(subscription)
    return subscription


def confirm(workspace: Workspace, token: str, now: datetime | None = None) -> Subscription:
    """Activate the subscription the token names.

    Its first digest covers one period before the confirmation (the last day for a daily
    digest, the last week for a weekly one), as a digest sent then would have: someone who
    subscribes today gets tomorrow's mail with today's papers, not an empty one.
    """
    pk, email = tokens.read_confirm_token(workspace, token)
    with workspace.db.session() as session:
        subscription = _load(session, pk, email, "confirmation")
        if subscription.status == "unsubscribed":
            raise InvalidInputError("this subscription was cancelled; subscribe again")
        if subscription.status == "pending":
            moment = now or utcnow()
            subscription.status = "active"
            subscription.confirmed_at = moment
            subscription.watermark = moment - PERIOD_LENGTH[subscription.params["period"]]
        session.flush()
        session.expunge(subscription)
    return subscription


def unsubscribe(workspace: Workspace, token: str) -> Subscription:
    """Stop the subscription the token names (idempotent: a second click changes nothing)."""
    pk, email = tokens.read_unsubscribe_token(workspace, token)
    with workspace.db.session() as session:
        subscription = _load(session, pk, email, "unsubscribe")
        subscription.status = "unsubscribed"
        session.flush()
        session.expunge(subscription)
    return subscription


def list_for_user(workspace: Workspace, user_pk: int) -> list[Subscription]:
    """A user's subscriptions that are pending or active, oldest first."""
    with workspace.db.session() as session:
        rows = list(
            session.scalars(
                select(Subscription)
                .where(
                    Subscription.user_pk == user_pk,
                    Subscription.status.in_(("pending", "active")),
                )
                .order_by(Subscription.pk)
            )
        )
        session.expunge_all()
    return rows


def cancel(workspace: Workspace, pk: int, user_pk: int) -> Subscription:
    """Unsubscribe one of the user's own subscriptions (idempotent, like the mail link)."""
    with workspace.db.session() as session:
        subscription = session.get(Subscription, pk)
        if subscription is None or subscription.user_pk != user_pk:
            raise NotFoundError(f"subscription {pk}: you have no such subscription")
        subscription.status = "unsubscribed"
        session.flush()
        session.expunge(subscription)
    return subscription


def describe(subscription: Subscription) -> str:
    """What the subscriber gets, in words ("the daily trending digest")."""
    period = subscription.params.get("period", "daily")
    if subscription.kind == "trending":
        return f"the {period} trending digest"
    if subscription.kind == "search":
        query = subscription.params["query"]
        return f"a {period} alert for new papers matching \u2018{query}\u2019"
    return f"{period} recommendations picked for you"


def _load(session: Session, pk: int, email: str, what: str) -> Subscription:
    subscription = session.get(Subscription, pk)
    if subscription is None or subscription.email != email:
        raise InvalidInputError(f"this {what} link is not valid (no such subscription)")
    return subscription


def _check_rate(workspace: Workspace, session: Session, email: str) -> None:
    limit = workspace.settings.subscribe_confirmations_per_hour
    key = mailbox_key(email)
    base, _, domain = key.rpartition("@")
    # The candidates share the key's local part as a prefix and its domain (case aside);
    # the key of each decides. The LIKE pattern escapes the wildcards a local part may hold.
    pattern = f"{_like_escape(base)}%@{_like_escape(domain)}"
    window_start = utcnow() - timedelta(hours=1)
    sends = session.execute(
        select(OutboxMessage.to_addr, OutboxMessage.created_at).where(
            func.lower(OutboxMessage.to_addr).like(pattern, escape="\\"),
            OutboxMessage.kind == "confirm",
            OutboxMessage.created_at > window_start,
        )
    ).all()
    times = [created for address, created in sends if _same_mailbox(address, key)]
    if len(times) >= limit:
        # The next send is allowed when the oldest one counted leaves the hour.
        oldest = min(times)
        retry_after = max(1, int((oldest - window_start).total_seconds()) + 1)
        raise RateLimitedError(
            f"{email} was sent {len(times)} confirmation mails in the last hour: check that "
            "inbox (and its spam folder), or try again later",
            retry_after=retry_after,
        )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _same_mailbox(address: str, key: str) -> bool:
    try:
        return mailbox_key(address) == key
    except InvalidInputError:  # queued before addresses were checked this strictly
        return address.lower() == key


def _confirmation(workspace: Workspace, subscription: Subscription) -> OutboxMessage:
    settings = workspace.settings
    token = tokens.confirm_token(workspace, subscription.pk, subscription.email)
    stop = tokens.unsubscribe_token(workspace, subscription.pk, subscription.email)
    text, html = render.render(
        "confirm",
        site_name=settings.site_name,
        site_url=render.site_url(settings),
        email=subscription.email,
        description=describe(subscription),
        confirm_url=render.confirm_url(settings, token),
    )
    domain = render.mail_domain(settings)
    return OutboxMessage(
        subscription_pk=subscription.pk,
        kind="confirm",
        # Unique per request: asking twice queues two confirmations, each sent once.
        message_id=f"<confirm-{subscription.pk}-{secrets.token_hex(8)}@{domain}>",
        to_addr=subscription.email,
        subject=f"Confirm your {settings.site_name} subscription",
        body_text=text,
        body_html=html,
        headers=render.unsubscribe_headers(settings, stop, one_click=False),
        status="pending",
        next_attempt_at=utcnow(),
    )


def _check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    if kind not in KINDS:
        raise InvalidInputError(f"kind: one of {', '.join(KINDS)}, not {kind!r}")
    period = params.get("period") or "daily"
    if period not in PERIODS:
        raise InvalidInputError(f"period: one of {', '.join(PERIODS)}, not {period!r}")
    checked: dict[str, Any] = {"period": period}
    if kind == "search":
        query = " ".join(str(params.get("query") or "").split())
        if not query:
            raise InvalidInputError("query: a search subscription needs a query")
        try:
            parsed = parse_query(query)
        except QueryError as exc:
            raise InvalidInputError(f"query: {exc}") from exc
        if not parsed.text and not parsed.has_filters:
            raise InvalidInputError(f"query: {query!r} has no words or filters to match")
        checked["query"] = query
    unknown = set(params) - {"period"} - ({"query"} if kind == "search" else set())
    if unknown:
        raise InvalidInputError(
            f"params: {', '.join(sorted(unknown))} not understood for a {kind} subscription"
        )
    return checked
