"""Mail content: Jinja2 templates (text and HTML), absolute links, Message-IDs, MIME.

Links are absolute, built from ``settings.base_url``: a mail is read far from the server.
The web routes they point at (``/subscriptions/confirm``, ``/unsubscribe``) take the token
as a query parameter; the pages themselves belong to the web app.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from paperfeed.config import Settings
from paperfeed.db import OutboxMessage

_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **context: Any) -> tuple[str, str]:
    """``name.txt`` and ``name.html`` rendered with the same context."""
    return (
        _env.get_template(f"{name}.txt").render(**context),
        _env.get_template(f"{name}.html").render(**context),
    )


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def confirm_url(settings: Settings, token: str) -> str:
    return f"{_base(settings)}/subscriptions/confirm?token={quote(token)}"


def unsubscribe_url(settings: Settings, token: str) -> str:
    return f"{_base(settings)}/unsubscribe?token={quote(token)}"


def paper_url(settings: Settings, paper_id: str) -> str:
    return f"{_base(settings)}/papers/{quote(paper_id, safe=':/')}"


def site_url(settings: Settings) -> str:
    return _base(settings) + "/"


def mail_domain(settings: Settings) -> str:
    """The right-hand side of our Message-IDs: the site's host name."""
    return urlsplit(settings.base_url).hostname or "paperfeed.local"


def unsubscribe_headers(settings: Settings, token: str, one_click: bool) -> dict[str, str]:
    """RFC 2369 ``List-Unsubscribe``; with ``one_click`` also RFC 8058's POST marker, which
    lets mail clients unsubscribe with a POST to the same URL, no login, no page."""
    headers = {"List-Unsubscribe": f"<{unsubscribe_url(settings, token)}>"}
    if one_click:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def to_email(row: OutboxMessage, settings: Settings) -> EmailMessage:
    """The MIME message for an outbox row: multipart/alternative, text first then HTML.

    Everything comes from the row (``Date`` is when it was queued), so a resend after a
    crash is the same message with the same Message-ID.
    """
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = row.to_addr
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = row.message_id
    for name, value in (row.headers or {}).items():
        message[name] = value
    message.set_content(row.body_text)
    message.add_alternative(row.body_html, subtype="html")
    return message
