"""The sender: drains the outbox over SMTP, exactly once in normal operation.

Each mail is *claimed* before it is sent: one ``UPDATE ... WHERE`` that only succeeds while
the row is due (``pending`` and ``next_attempt_at <= now``, or ``sending`` with an expired
claim), so two senders never send the same row; the loser sees ``rowcount == 0`` and moves
on. Claims are taken one mail at a time, right before sending, so a sender that dies holds
at most one mail, for ``mail_claim_timeout`` seconds.

Outcomes, recorded right after the server answers:

- accepted → ``sent`` (``sent_at``);
- temporary (4xx reply, connection refused, timeout, disconnect) → ``pending`` again with
  ``attempts + 1`` and an exponential back-off, ``failed`` after ``mail_max_attempts``;
- permanent (5xx reply) → ``failed`` at once.

``last_error`` keeps the server's words. A connection-level problem (the server is down or
closing, 421) ends the round: the next mails would fail the same way.

The one unavoidable window: the server accepted a mail and the process died before it
recorded ``sent``. The claim expires and the mail is sent again, once; its Message-ID is the
same, so receivers that de-duplicate drop it (docs/mail.md).
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy import ColumnElement, and_, func, or_, select, true, update
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.db import OutboxMessage, rowcount
from paperfeed.db.models import utcnow
from paperfeed.errors import InvalidInputError
from paperfeed.mail import render
from paperfeed.mail.addresses import normalize_address
from paperfeed.workspace import Workspace


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "paperfeed <paperfeed@localhost>"
    timeout: float = 30.0
    helo_name: str = "localhost"
    ca_file: Path | None = None  # trusted besides the system's certificates

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            ssl=settings.smtp_ssl,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.smtp_from,
            timeout=settings.smtp_timeout,
            helo_name=render.mail_domain(settings),
            ca_file=settings.smtp_ca_file,
        )


@dataclass
class DrainReport:
    sent: int = 0
    retrying: int = 0  # temporary failure, will be tried again
    failed: int = 0  # given up (permanent error, or too many attempts)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed"


class _Failure(Exception):
    def __init__(self, message: str, *, permanent: bool, stop: bool) -> None:
        super().__init__(message)
        self.permanent = permanent  # give up on this mail
        self.stop = stop  # the connection is unusable: end this round


def drain_outbox(
    workspace: Workspace,
    smtp: SmtpConfig | None = None,
    worker_id: str | None = None,
    now: datetime | None = None,
    limit: int = 100,
    only: Collection[int] | None = None,
) -> DrainReport:
    """Send up to ``limit`` due mails once each (of the outbox rows ``only``, if given);
    ``now`` fixes the clock (tests)."""
    settings = workspace.settings
    smtp = smtp or SmtpConfig.from_settings(settings)
    worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"

    def clock() -> datetime:
        return now if now is not None else utcnow()

    report = DrainReport()
    with workspace.db.session() as session:
        report.failed += _give_up_on_abandoned(session, clock(), settings.mail_max_attempts)
        due = list(
            session.scalars(
                select(OutboxMessage.pk)
                .where(_due(clock()), OutboxMessage.pk.in_(only) if only is not None else true())
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.pk)
                .limit(limit)
            )
        )
    client: smtplib.SMTP | None = None
    try:
        for pk in due:
            row = _claim(workspace, pk, worker_id, clock())
            if row is None:
                continue  # another sender took it
            try:
                if client is None:
                    client = _connect(smtp)
                _send(client, row, smtp, settings)
            except _Failure as failure:
                _close(client)
                client = None
                _record_failure(workspace, row, failure, clock(), report)
                if failure.stop:
                    break
            else:
                _record_sent(workspace, row.pk, clock())
                report.sent += 1
    finally:
        _close(client, polite=True)
    return report


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now),
    )


def _claim(workspace: Workspace, pk: int, worker_id: str, now: datetime) -> OutboxMessage | None:
    claim_for = timedelta(seconds=workspace.settings.mail_claim_timeout)
    with workspace.db.session() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.pk == pk, _due(now))
            .values(
                status="sending",
                claimed_by=worker_id,
                claimed_until=now + claim_for,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            return None
        row = session.get(OutboxMessage, pk)
        session.expunge_all()
    return row


def _give_up_on_abandoned(session: Session, now: datetime, max_attempts: int) -> int:
    """A mail whose every attempt ended with its sender dead (a crash it causes?) fails."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_until < now,
            OutboxMessage.attempts >= max_attempts,
        )
        .values(
            status="failed",
            claimed_by=None,
            claimed_until=None,
            last_error=f"gave up: the sender stopped mid-send on all {max_attempts} attempts",
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def _tls_context(smtp: SmtpConfig) -> ssl.SSLContext:
    """The system's trusted certificates, plus ``ca_file`` when one is configured."""
    context = ssl.create_default_context()
    if smtp.ca_file is not None:
        try:
            context.load_verify_locations(cafile=smtp.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise _Failure(
                f"PAPERFEED_SMTP_CA_FILE {smtp.ca_file}: cannot load it as PEM certificates "
                f"({exc})",
                permanent=False,
                stop=True,
            ) from exc
    return context


def _connect(smtp: SmtpConfig) -> smtplib.SMTP:
    context = _tls_context(smtp) if smtp.ssl or smtp.starttls else None
    try:
        client: smtplib.SMTP
        if smtp.ssl:
            client = smtplib.SMTP_SSL(
                smtp.host,
                smtp.port,
                local_hostname=smtp.helo_name,
                timeout=smtp.timeout,
                context=context,
            )
        else:
            client = smtplib.SMTP(
                smtp.host, smtp.port, local_hostname=smtp.helo_name, timeout=smtp.timeout
            )
        client.ehlo()
        if smtp.starttls:
            client.starttls(context=context)
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
    except smtplib.SMTPNotSupportedError as exc:  # e.g. AUTH offered only after STARTTLS
        raise _Failure(
            f"SMTP server {smtp.host}:{smtp.port}: {exc} on this connection (does it need "
            "PAPERFEED_SMTP_STARTTLS or PAPERFEED_SMTP_SSL?)",
            permanent=False,
            stop=True,
        ) from exc
    except smtplib.SMTPResponseException as exc:
        # Refused at greeting, TLS or login: the server or our settings, not this mail.
        raise _Failure(
            f"SMTP server {smtp.host}:{smtp.port} refused the session: "
            f"{exc.smtp_code} {_text(exc.smtp_error)}",
            permanent=False,
            stop=True,
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise _Failure(
            f"cannot reach SMTP server {smtp.host}:{smtp.port}: {exc or type(exc).__name__}",
            permanent=False,
            stop=True,
        ) from exc
    return client


def _send(client: smtplib.SMTP, row: OutboxMessage, smtp: SmtpConfig, settings: Settings) -> None:
    """Send one mail to its one recipient.

    The envelope gets the address as ``normalize_address`` reads it, never the raw column:
    smtplib reduces each recipient with ``parseaddr``, which turns ``a,b@example.org`` into
    ``a`` and ``Name <x@y.org>`` into ``x@y.org``. A row that is not one plain address (queued
    before subscriptions were checked this strictly) fails for good, unsent.
    """
    try:
        recipient = normalize_address(row.to_addr, field="recipient")
    except InvalidInputError as exc:
        raise _Failure(f"not sent: {exc}", permanent=True, stop=False) from exc
    message = render.to_email(row, settings)
    envelope_from = parseaddr(smtp.sender)[1] or smtp.sender
    try:
        client.send_message(message, from_addr=envelope_from, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        raise _reply_failure(code, text) from exc
    except smtplib.SMTPResponseException as exc:
        raise _reply_failure(exc.smtp_code, exc.smtp_error) from exc
    except (OSError, smtplib.SMTPException) as exc:  # disconnects, timeouts
        raise _Failure(
            f"connection lost while sending: {exc or type(exc).__name__}",
            permanent=False,
            stop=True,
        ) from exc


# Replies about the session, not the mail: authentication required (530), temporary
# authentication failure (454), mechanism too weak (534), bad credentials (535), encryption
# required (538). Our settings are at fault, so every mail would get the same answer: keep
# them all for a retry once the settings are fixed instead of failing each for good.
SESSION_CODES = frozenset({454, 530, 534, 535, 538})


def _reply_failure(code: int, text: bytes | str) -> _Failure:
    message = f"{code} {_text(text)}"
    if code in SESSION_CODES:
        return _Failure(
            f"SMTP server refused the session: {message} (check the PAPERFEED_SMTP_* settings)",
            permanent=False,
            stop=True,
        )
    if 500 <= code < 600:
        return _Failure(message, permanent=True, stop=False)
    # 421: the server is closing the connection; other 4xx concern this mail only.
    return _Failure(message, permanent=False, stop=code == 421)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _record_sent(workspace: Workspace, pk: int, now: datetime) -> None:
    with workspace.db.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.pk == pk)
            .values(status="sent", sent_at=now, claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def _record_failure(
    workspace: Workspace,
    row: OutboxMessage,
    failure: _Failure,
    now: datetime,
    report: DrainReport,
) -> None:
    settings = workspace.settings
    error = str(failure)
    report.errors.append(f"{row.message_id} to {row.to_addr}: {error}")
    values: dict[str, object] = {"last_error": error, "claimed_by": None, "claimed_until": None}
    if failure.permanent or row.attempts >= settings.mail_max_attempts:
        values["status"] = "failed"
        report.failed += 1
    else:
        delay = min(settings.mail_retry_base * 2 ** (row.attempts - 1), settings.mail_retry_max)
        values["status"] = "pending"
        values["next_attempt_at"] = now + timedelta(seconds=delay)
        report.retrying += 1
    with workspace.db.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.pk == row.pk, OutboxMessage.status == "sending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _close(client: smtplib.SMTP | None, polite: bool = False) -> None:
    if client is None:
        return None
    try:
        if polite:
            client.quit()
        else:
            client.close()
    except (OSError, smtplib.SMTPException):
        client.close()
    return None


@dataclass
class OutboxStatus:
    counts: dict[str, int]  # by status: pending, sending, sent, failed
    errors: list[dict[str, object]]  # the latest mails with an error, newest first


def outbox_status(workspace: Workspace, errors: int = 10) -> OutboxStatus:
    with workspace.db.session() as session:
        counts = dict.fromkeys(("pending", "sending", "sent", "failed"), 0)
        for status, number in session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ):
            counts[status] = int(number)
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.last_error.is_not(None))
            .order_by(OutboxMessage.pk.desc())
            .limit(errors)
        ).all()
        recent: list[dict[str, object]] = [
            {
                "message_id": r.message_id,
                "to": r.to_addr,
                "status": r.status,
                "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at.isoformat(timespec="seconds"),
                "error": r.last_error,
            }
            for r in rows
        ]
    return OutboxStatus(counts, recent)
