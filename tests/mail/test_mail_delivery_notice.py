"""After subscribing, the page says what became of the confirmation mail: sent, queued for
the running worker, or stuck because no mail server is configured here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _mail_helpers import SmtpServer, free_port, outbox
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.db.lease import WORKER, Lease
from paperfeed.web.app import create_app
from paperfeed.workspace import Workspace

FORM = {"email": "reader@example.org", "kind": "trending", "period": "weekly"}


def _subscribe(ws: Workspace) -> str:
    client = TestClient(create_app(ws))
    token = client.get("/api/v1/me").json()["csrf_token"]
    response = client.post("/subscribe", data={**FORM, "csrf_token": token})
    assert response.status_code == 200, response.text
    page = response.text
    form_end = page.index("</form>", page.index('class="stacked subscribe-form"'))
    notice = page.rindex("<p ", 0, page.index('role="status"'))
    assert notice > form_end, "the notice is laid out after the form, not inside it"
    return page[notice : page.index("</p>", notice)]


def _without_smtp(ws: Workspace) -> Workspace:
    """The same database, with settings that name no mail server (the defaults)."""
    given = ws.settings.model_dump(exclude_unset=True)
    return Workspace(Settings(**{k: v for k, v in given.items() if not k.startswith("smtp_")}))


@pytest.fixture
def unconfigured(mail_ws: Workspace) -> Iterator[Workspace]:
    ws = _without_smtp(mail_ws)
    yield ws
    ws.db.engine.dispose()


def test_without_a_worker_the_confirmation_is_sent_at_once(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    notice = _subscribe(mail_ws)
    assert "Sent: we mailed a link to reader@example.org" in notice
    [message] = smtp_server.handler.messages
    assert message["To"] == "reader@example.org"
    assert [(row.kind, row.status) for row in outbox(mail_ws)] == [("confirm", "sent")]


def test_with_a_worker_running_the_confirmation_is_left_to_it(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    worker = Lease(mail_ws.db, WORKER, mail_ws.settings.worker_lease)
    assert worker.acquire()
    try:
        notice = _subscribe(mail_ws)
    finally:
        worker.release()
    assert "Queued: the worker will send a confirmation link to reader@example.org" in notice
    assert smtp_server.handler.messages == []
    assert [(row.kind, row.status) for row in outbox(mail_ws)] == [("confirm", "pending")]


def test_without_a_mail_server_the_page_says_so_and_sends_nothing(
    unconfigured: Workspace, smtp_server: SmtpServer
) -> None:
    notice = _subscribe(unconfigured)
    assert "no mail server is configured here" in notice
    assert "PAPERFEED_SMTP_HOST" in notice and "docs/mail.md" in notice
    assert 'class="notice-box warning"' in notice
    assert smtp_server.handler.messages == []
    [row] = outbox(unconfigured)
    assert (row.status, row.attempts) == ("pending", 0)  # waits, untried, for a configuration


def test_a_mail_server_that_is_down_is_reported_and_the_mail_kept(mail_ws: Workspace) -> None:
    down = mail_ws.settings.model_dump(exclude_unset=True)
    ws = Workspace(Settings(**{**down, "smtp_port": free_port()}))
    try:
        notice = _subscribe(ws)
        assert "Queued, but the mail server refused it just now" in notice
        assert "paperfeed worker" in notice
        [row] = outbox(ws)
        assert (row.status, row.attempts) == ("pending", 1)  # to be retried
    finally:
        ws.db.engine.dispose()
