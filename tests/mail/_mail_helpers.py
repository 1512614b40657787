"""Helpers for the mail tests: a recording SMTP server, papers with chosen ``first_seen``,
links out of mails."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import _backends
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text, update

from paperfeed.catalog.ingest import upsert_records
from paperfeed.catalog.records import ListingRecord, PaperRecord
from paperfeed.config import Settings
from paperfeed.db import OutboxMessage, Paper, Subscription
from paperfeed.workspace import Workspace

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning


def add_paper(
    ws: Workspace,
    arxiv_id: str,
    title: str,
    abstract: str,
    first_seen: datetime,
    upvotes: int | None = None,
) -> None:
    listings = [ListingRecord("hf-daily", first_seen.date(), upvotes, None)] if upvotes else []
    record = PaperRecord(
        title=title,
        source="hf-daily",
        abstract=abstract,
        arxiv_id=arxiv_id,
        authors=["Ada Lovelace", "Alan Turing"],
        categories=["cs.LG"],
        published=first_seen,
        listings=listings,
    )
    with ws.db.session() as session:
        upsert_records(session, [record])
        session.flush()
        session.execute(update(Paper).where(Paper.id == arxiv_id).values(first_seen=first_seen))


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def link_token(body: str, path: str) -> str:
    match = re.search(
        r"https://papers\.example\.org" + re.escape(path) + r"\?token=[^\s\"<>]+", body
    )
    assert match, f"no {path} link in:\n{body}"
    return parse_qs(urlsplit(match.group(0)).query)["token"][0]


def subscription(ws: Workspace, pk: int) -> Subscription:
    with ws.db.session() as session:
        found = session.get(Subscription, pk)
        assert found is not None
        session.expunge(found)
    return found


def outbox(ws: Workspace) -> list[OutboxMessage]:
    with ws.db.session() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.pk)))
        session.expunge_all()
    return rows


def queue_mails(ws: Workspace, count: int, prefix: str = "m") -> list[str]:
    """``count`` ready mails straight into the outbox (for the sender tests)."""
    ids = [f"<{prefix}-{i}@papers.example.org>" for i in range(count)]
    with ws.db.session() as session:
        for i, message_id in enumerate(ids):
            session.add(
                OutboxMessage(
                    kind="digest",
                    message_id=message_id,
                    to_addr=f"reader{i}@example.org",
                    subject=f"mail {i}",
                    body_text=f"text {i}\n",
                    body_html=f"<p>html {i}</p>\n",
                    headers={},
                    status="pending",
                    next_attempt_at=T0,
                    created_at=T0,
                )
            )
    return ids


class RecordingHandler:
    """Keeps every accepted message; can answer an error for the next N, or hold one.

    ``hold_next()`` makes the next message wait at end-of-DATA, *before* any reply, until
    ``release()``: the client has sent it but the server has not accepted it. A held message
    is then refused (451) and never recorded, so "accepted" means exactly "recorded".
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._replies: list[str] = []
        self._lock = threading.Lock()
        self._hold_at: int | None = None
        self.holding = threading.Event()
        self._released = threading.Event()

    def fail_next(self, reply: str, count: int = 1) -> None:
        with self._lock:
            self._replies.extend([reply] * count)

    def hold_next(self, after: int = 0) -> None:
        """Hold the message that arrives once ``after`` more have been accepted."""
        with self._lock:
            self._hold_at = len(self.messages) + after

    def release(self) -> None:
        self._released.set()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
            hold = self._hold_at == len(self.messages)
            if hold:
                self._hold_at = None
        if hold:
            self.holding.set()
            while not self._released.is_set():
                await asyncio.sleep(0.01)
            return "451 4.3.0 held message released without acceptance"
        message = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[attr-defined]
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def ids(self) -> list[str]:
        with self._lock:
            return [str(m["Message-ID"]) for m in self.messages]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)


def mail_settings(data_dir: Path, port: int, **extra: object) -> Settings:
    """Settings of a new workspace that mails through the SMTP server on ``port``, its
    database on the run's backend (``--backend``)."""
    return Settings(
        data_dir=data_dir,
        database_url=_backends.settings_for(data_dir).database_url,
        secret_key="test-secret",
        base_url="https://papers.example.org",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="paperfeed <digests@papers.example.org>",
        smtp_timeout=10.0,
        cookie_secure=False,  # links say https; the test clients speak plain http to the app
        **extra,  # type: ignore[arg-type]
    )


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``paperfeed`` subprocess on ``settings``' workspace and mail server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env |= {
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_SECRET_KEY": settings.secret_key or "",
        "PAPERFEED_BASE_URL": settings.base_url or "",
        "PAPERFEED_SMTP_HOST": settings.smtp_host or "",
        "PAPERFEED_SMTP_PORT": str(settings.smtp_port),
        "PAPERFEED_SMTP_FROM": settings.smtp_from or "",
        "PAPERFEED_SMTP_TIMEOUT": str(settings.smtp_timeout),
    }
    if settings.database_url:
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
    return env | extra


def query_rows(settings: Settings, query: str) -> list[tuple[object, ...]]:
    """Rows of ``query`` on ``settings``' database, read from outside the workspace."""
    engine = create_engine(settings.db_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()
