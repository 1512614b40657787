"""Delivery faults against a real SMTP server: down, 421/451, 550, two senders at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from _mail_helpers import T0, SmtpServer, free_port, outbox, queue_mails
from sqlalchemy import update

from paperfeed.db import OutboxMessage
from paperfeed.mail.sender import SmtpConfig, drain_outbox, outbox_status
from paperfeed.workspace import Workspace

LATER = T0 + timedelta(hours=12)  # past any back-off of the first attempts


def test_server_down_keeps_mails_pending_then_each_arrives_once(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    ids = queue_mails(mail_ws, 3)
    down = SmtpConfig.from_settings(mail_ws.settings)
    down = SmtpConfig(**{**down.__dict__, "port": free_port()})  # nobody listens there

    report = drain_outbox(mail_ws, smtp=down, now=T0)
    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)  # the round stops
    first = outbox(mail_ws)[0]
    assert first.status == "pending" and first.attempts == 1
    assert "cannot reach SMTP server" in (first.last_error or "")
    assert first.next_attempt_at == T0 + timedelta(seconds=mail_ws.settings.mail_retry_base)
    assert [r.status for r in outbox(mail_ws)] == ["pending"] * 3

    assert drain_outbox(mail_ws, now=T0).sent == 2  # the first waits for its back-off
    assert drain_outbox(mail_ws, now=LATER).sent == 1
    assert drain_outbox(mail_ws, now=LATER + timedelta(days=1)).sent == 0
    assert sorted(smtp_server.handler.ids()) == sorted(ids)
    assert outbox(mail_ws)[0].last_error is not None  # kept after success, for the record


@pytest.mark.parametrize("reply", ["421 4.3.2 closing, try later", "451 4.7.1 greylisted"])
def test_temporary_replies_are_retried_and_arrive_exactly_once(
    mail_ws: Workspace, smtp_server: SmtpServer, reply: str
) -> None:
    ids = queue_mails(mail_ws, 3)
    smtp_server.handler.fail_next(reply, count=2)
    first = drain_outbox(mail_ws, now=T0)
    assert first.retrying >= 1 and first.failed == 0
    assert reply.split()[0] in outbox(mail_ws)[0].last_error  # type: ignore[operator]
    for hours in (1, 2, 4, 8, 16):
        drain_outbox(mail_ws, now=T0 + timedelta(hours=hours))
    assert Counter(smtp_server.handler.ids()) == Counter(ids)  # each exactly once
    assert {r.status for r in outbox(mail_ws)} == {"sent"}


def test_permanent_reply_fails_at_once_and_is_never_retried(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    ids = queue_mails(mail_ws, 2)
    smtp_server.handler.fail_next("550 5.1.1 no such mailbox")
    report = drain_outbox(mail_ws, now=T0)
    assert (report.sent, report.failed) == (1, 1)
    failed = outbox(mail_ws)[0]
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error == "550 5.1.1 no such mailbox"
    assert drain_outbox(mail_ws, now=T0 + timedelta(days=30)).sent == 0
    assert smtp_server.handler.ids() == ids[1:]
    status = outbox_status(mail_ws)
    assert status.counts == {"pending": 0, "sending": 0, "sent": 1, "failed": 1}
    assert status.errors[0]["error"] == "550 5.1.1 no such mailbox"


def test_too_many_temporary_failures_give_up(mail_ws: Workspace, smtp_server: SmtpServer) -> None:
    mail_ws.settings.mail_max_attempts = 3
    queue_mails(mail_ws, 1)
    smtp_server.handler.fail_next("451 4.3.0 try again", count=10)
    for day in range(5):
        drain_outbox(mail_ws, now=T0 + timedelta(days=day))
    [row] = outbox(mail_ws)
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "451 4.3.0 try again")
    assert smtp_server.handler.ids() == []


def test_two_senders_draining_at_once_send_every_mail_exactly_once(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    ids = queue_mails(mail_ws, 40)
    reports = []

    def sender(name: str) -> None:
        reports.append(drain_outbox(mail_ws, worker_id=name, now=T0))

    threads = [threading.Thread(target=sender, args=(f"sender-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(smtp_server.handler.ids()) == Counter(ids)
    assert sum(r.sent for r in reports) == 40
    assert {r.status for r in outbox(mail_ws)} == {"sent"}


def test_a_mail_whose_sender_died_on_every_attempt_is_given_up(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    queue_mails(mail_ws, 1)
    with mail_ws.db.session() as session:  # as left by senders killed mid-send, 8 times
        session.execute(
            update(OutboxMessage).values(
                status="sending", attempts=8, claimed_by="dead:1", claimed_until=T0
            )
        )
    report = drain_outbox(mail_ws, now=LATER)
    [row] = outbox(mail_ws)
    assert (report.sent, report.failed) == (0, 1) and row.status == "failed"
    assert "stopped mid-send on all 8 attempts" in (row.last_error or "")
    assert smtp_server.handler.ids() == []
