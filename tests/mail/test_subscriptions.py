"""Double opt-in against a real SMTP server: subscribe → confirmation mail → confirm."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from _mail_helpers import T0, SmtpServer, link_token, outbox, parts, subscription
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from paperfeed.db import OutboxMessage, Subscription
from paperfeed.errors import InvalidInputError, RateLimitedError
from paperfeed.mail import render, tokens
from paperfeed.mail.sender import drain_outbox
from paperfeed.mail.subscriptions import confirm, subscribe, unsubscribe
from paperfeed.workspace import Workspace


def test_confirmation_mail_arrives_and_its_link_confirms(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    sub = subscribe(mail_ws, "Reader@Example.ORG", "search", {"query": "diffusion  models"})
    assert sub.status == "pending" and sub.email == "Reader@example.org"
    assert sub.params == {"period": "daily", "query": "diffusion models"}

    report = drain_outbox(mail_ws)
    assert report.sent == 1 and not report.errors
    [message] = smtp_server.handler.messages
    assert message["From"] == "paperfeed <digests@papers.example.org>"
    assert message["To"] == "Reader@example.org"
    assert message["Subject"] == "Confirm your paperfeed subscription"
    assert message["Message-ID"] == outbox(mail_ws)[0].message_id
    assert message["Message-ID"].endswith("@papers.example.org>")
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe"].startswith("<https://papers.example.org/unsubscribe?token=")
    text, html = parts(message)
    assert "diffusion models" in text and "diffusion models" in html
    token = link_token(text, "/subscriptions/confirm")
    assert link_token(html, "/subscriptions/confirm") == token

    confirmed = confirm(mail_ws, token, now=T0)
    # The first digest looks back one period (a day here), so it is not empty for lack of time.
    assert (confirmed.status, confirmed.confirmed_at) == ("active", T0)
    assert confirmed.watermark == T0 - timedelta(days=1)
    assert confirm(mail_ws, token).watermark == confirmed.watermark  # a second click: no change
    assert drain_outbox(mail_ws).sent == 0  # and sends nothing more


@pytest.mark.parametrize(
    ("email", "kind", "params", "message"),
    [
        ("not-an-address", "trending", {}, "email:"),
        ("a@b.org\r\nBcc: x@y.org", "trending", {}, "email:"),
        ("a@example.org", "weekly-ish", {}, "kind: one of trending, search, for_you"),
        ("a@example.org", "trending", {"period": "hourly"}, "period: one of daily, weekly"),
        ("a@example.org", "search", {"query": "   "}, "needs a query"),
        ("a@example.org", "search", {"query": "since:2024-13"}, "query:"),
        ("a@example.org", "search", {"query": "- ! ?"}, "no words or filters"),
        ("a@example.org", "trending", {"query": "x"}, "query not understood"),
        ("a@example.org", "for_you", {}, "need an account"),
    ],
)
def test_bad_subscriptions_are_refused_with_a_clear_message(
    mail_ws: Workspace, email: str, kind: str, params: dict, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        subscribe(mail_ws, email, kind, params)
    assert outbox(mail_ws) == []


def test_subscription_and_confirmation_mail_are_one_transaction(
    mail_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("template exploded")

    monkeypatch.setattr(render, "render", broken)
    with pytest.raises(RuntimeError):
        subscribe(mail_ws, "a@example.org", "trending", {})
    with mail_ws.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscription)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_expired_and_forged_confirm_tokens_are_refused(
    mail_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subscribe(mail_ws, "a@example.org", "trending", {"period": "weekly"})
    with monkeypatch.context() as patch:
        eight_days_ago = int(time.time()) - 8 * 86400
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: eight_days_ago)
        old = tokens.confirm_token(mail_ws, sub.pk, sub.email)
    with pytest.raises(InvalidInputError, match="expired"):
        confirm(mail_ws, old)

    good = tokens.confirm_token(mail_ws, sub.pk, sub.email)
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for bad in (forged, "nonsense", tokens.unsubscribe_token(mail_ws, sub.pk, sub.email)):
        with pytest.raises(InvalidInputError, match="not valid"):
            confirm(mail_ws, bad)
    other = tokens.confirm_token(mail_ws, sub.pk, "someone-else@example.org")
    with pytest.raises(InvalidInputError, match="no such subscription"):
        confirm(mail_ws, other)
    assert subscription(mail_ws, sub.pk).status == "pending"


def test_unsubscribe_link_needs_no_login_and_is_idempotent(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    sub = subscribe(mail_ws, "a@example.org", "trending", {})
    drain_outbox(mail_ws)
    [message] = smtp_server.handler.messages
    token = link_token(message["List-Unsubscribe"], "/unsubscribe")
    assert unsubscribe(mail_ws, token).status == "unsubscribed"
    assert unsubscribe(mail_ws, token).status == "unsubscribed"
    with pytest.raises(InvalidInputError, match="cancelled"):
        confirm(mail_ws, tokens.confirm_token(mail_ws, sub.pk, sub.email))
    with pytest.raises(InvalidInputError, match="not valid"):
        unsubscribe(mail_ws, tokens.confirm_token(mail_ws, sub.pk, sub.email))


def test_subscribing_again_while_active_sends_nothing(mail_ws: Workspace) -> None:
    sub = subscribe(mail_ws, "a@example.org", "trending", {})
    confirm(mail_ws, tokens.confirm_token(mail_ws, sub.pk, sub.email))
    again = subscribe(mail_ws, "a@example.org", "trending", {"period": "daily"})
    assert again.pk == sub.pk and again.status == "active"
    assert len(outbox(mail_ws)) == 1


def test_one_address_gets_at_most_three_confirmations_an_hour(mail_ws: Workspace) -> None:
    for _ in range(3):  # asking again while pending queues a fresh confirmation ...
        subscribe(mail_ws, "a@example.org", "trending", {})
    with pytest.raises(RateLimitedError, match="3 confirmation mails in the last hour") as cap:
        subscribe(mail_ws, "a@example.org", "trending", {})  # ... up to the cap
    assert cap.value.retry_after is not None and 3500 < cap.value.retry_after <= 3601
    with pytest.raises(RateLimitedError):
        subscribe(mail_ws, "a@example.org", "search", {"query": "diffusion"})
    assert len(outbox(mail_ws)) == 3
    subscribe(mail_ws, "b@example.org", "trending", {})  # other addresses are not affected
    with mail_ws.db.session() as session:  # an hour later the address may ask again
        session.query(OutboxMessage).update({"created_at": T0})
    subscribe(mail_ws, "a@example.org", "trending", {})
    assert len(outbox(mail_ws)) == 5
