"""The links in the mails, followed through the real web app: confirm, and unsubscribe."""

from __future__ import annotations

from _mail_helpers import SmtpServer, link_token, parts, subscription
from fastapi.testclient import TestClient

from paperfeed.mail.sender import drain_outbox
from paperfeed.mail.subscriptions import subscribe
from paperfeed.web.app import create_app
from paperfeed.workspace import Workspace


def test_the_mailed_links_confirm_and_unsubscribe_without_login(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    sub = subscribe(mail_ws, "reader@example.org", "trending", {"period": "weekly"})
    assert drain_outbox(mail_ws).sent == 1
    [message] = smtp_server.handler.messages
    text, _html = parts(message)
    confirm_token = link_token(text, "/subscriptions/confirm")
    unsubscribe_token = message["List-Unsubscribe"].split("token=", 1)[1].rstrip(">")
    client = TestClient(create_app(mail_ws))

    page = client.get("/subscriptions/confirm", params={"token": confirm_token})
    assert page.status_code == 200
    assert "Confirmed: reader@example.org will get the weekly trending digest." in page.text
    assert subscription(mail_ws, sub.pk).status == "active"

    # Following the link only asks (mail scanners open links); the button's POST stops it.
    asked = client.get("/unsubscribe", params={"token": unsubscribe_token})
    assert asked.status_code == 200 and 'method="post"' in asked.text
    assert subscription(mail_ws, sub.pk).status == "active"
    # RFC 8058 one-click: a bare POST to the List-Unsubscribe URL, no session, no CSRF token.
    done = TestClient(create_app(mail_ws)).post("/unsubscribe", params={"token": unsubscribe_token})
    assert done.status_code == 200 and "Unsubscribed: reader@example.org" in done.text
    assert subscription(mail_ws, sub.pk).status == "unsubscribed"
    again = client.post("/unsubscribe", params={"token": unsubscribe_token})
    assert again.status_code == 200  # idempotent

    forged = client.get("/subscriptions/confirm", params={"token": confirm_token[:-3] + "abc"})
    assert forged.status_code == 400 and 'role="alert"' in forged.text
    assert client.post("/unsubscribe", params={"token": "nonsense"}).status_code == 400
