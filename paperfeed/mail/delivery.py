"""Whether mail can go out from here, and sending one confirmation right away.

The subscribe page says what really happened to the confirmation mail. A mail server is
*configured* when any ``PAPERFEED_SMTP_*`` setting was given (the defaults, port 25 on this
host, are a guess, not a configuration). ``send_confirmation`` sends the confirmation that
``subscribe`` queued for a subscription at once, through the outbox like any other mail
(claimed, sent, recorded), for a deployment where no worker is running to send it.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.db import OutboxMessage
from paperfeed.mail.sender import DrainReport, SmtpConfig, drain_outbox
from paperfeed.workspace import Workspace

SMTP_SETTINGS = frozenset(
    name for name in Settings.model_fields if name.startswith("smtp_") and name != "smtp_timeout"
)
# Seconds a web request waits for the mail server: a visitor is waiting for the page.
SEND_NOW_TIMEOUT = 10.0


def smtp_configured(settings: Settings) -> bool:
    """Whether the admin set where mail goes (any ``PAPERFEED_SMTP_*`` setting)."""
    return bool(SMTP_SETTINGS & settings.model_fields_set)


def send_confirmation(workspace: Workspace, subscription_pk: int) -> DrainReport:
    """Send the subscription's latest queued confirmation now (waiting at most
    ``SEND_NOW_TIMEOUT`` seconds for the server); a failure leaves it queued for a retry."""
    with workspace.db.session() as session:
        pk = session.scalar(
            select(OutboxMessage.pk)
            .where(
                OutboxMessage.subscription_pk == subscription_pk,
                OutboxMessage.kind == "confirm",
                OutboxMessage.status == "pending",
            )
            .order_by(OutboxMessage.pk.desc())
            .limit(1)
        )
    if pk is None:
        return DrainReport()
    smtp = SmtpConfig.from_settings(workspace.settings)
    smtp = dataclasses.replace(smtp, timeout=min(smtp.timeout, SEND_NOW_TIMEOUT))
    return drain_outbox(workspace, smtp, limit=1, only=[pk])
