"""The links in the mails, followed through the real web app: confirm, and unsubscribe."""

from __future__ import annotations

from _mail_helpers import SmtpServer, link_token, outbox, parts, subscription
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


PASSWORD = "correct horse battery"


def _csrf(client: TestClient) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def _signed_up(ws: Workspace, username: str, email: str = "") -> TestClient:
    client = TestClient(create_app(ws))
    data = {"username": username, "password": PASSWORD, "password2": PASSWORD, "email": email}
    response = client.post("/signup", data={**data, "csrf_token": _csrf(client)})
    assert response.status_code == 200, response.text  # followed the redirect
    return client


def test_anyone_subscribes_on_the_form_and_the_confirmation_arrives(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    client = TestClient(create_app(mail_ws))
    form = client.get("/subscribe", params={"kind": "search", "q": "diffusion models"})
    assert form.status_code == 200
    assert 'value="diffusion models"' in form.text and 'value="search" checked' in form.text
    assert 'value="for_you"' not in form.text  # recommendations need an account
    data = {"email": "reader@example.org", "kind": "search", "query": "diffusion models"}

    refused = client.post("/subscribe", data=data)  # no CSRF token
    assert refused.status_code == 403 and outbox(mail_ws) == []
    done = client.post("/subscribe", data={**data, "period": "weekly", "csrf_token": _csrf(client)})
    assert done.status_code == 200
    assert "Sent: we mailed a link to reader@example.org" in done.text  # no worker: sent now
    assert drain_outbox(mail_ws).sent == 0
    [message] = smtp_server.handler.messages
    assert message["To"] == "reader@example.org"
    assert "weekly alert for new papers matching" in parts(message)[0]


def test_the_form_says_what_is_wrong_and_caps_confirmations(mail_ws: Workspace) -> None:
    client = TestClient(create_app(mail_ws))
    token = _csrf(client)
    bad = client.post(
        "/subscribe",
        data={"email": "reader@example.org", "kind": "search", "query": "", "csrf_token": token},
    )
    assert bad.status_code == 400 and "a search subscription needs a query" in bad.text
    assert 'value="reader@example.org"' in bad.text  # what was typed is kept
    anonymous_for_you = {"email": "reader@example.org", "kind": "for_you", "csrf_token": token}
    assert client.post("/subscribe", data=anonymous_for_you).status_code == 400

    data = {"email": "victim@example.org", "kind": "trending", "csrf_token": token}
    statuses = [client.post("/subscribe", data=data).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert len(outbox(mail_ws)) == 3


def test_a_user_manages_subscriptions_on_the_settings_page(mail_ws: Workspace) -> None:
    anonymous = TestClient(create_app(mail_ws))
    away = anonymous.get("/settings/subscriptions", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/login?next=")

    ada = _signed_up(mail_ws, "ada", email="ada@example.org")
    page = ada.get("/settings/subscriptions")
    assert "No subscriptions yet." in page.text and 'value="for_you" checked' in page.text
    # The address defaults to the account's own.
    added = ada.post("/subscribe", data={"kind": "for_you", "csrf_token": _csrf(ada)})
    assert added.status_code == 200
    assert "Daily recommendations picked for you" in added.text
    assert "waiting for the confirmation link" in added.text
    [row] = outbox(mail_ws)
    assert (row.kind, row.to_addr) == ("confirm", "ada@example.org")
    [sub] = ada.get("/api/v1/subscriptions").json()

    bob = _signed_up(mail_ws, "bob")  # no email on the account: the form must give one
    assert (
        bob.post("/subscribe", data={"kind": "trending", "csrf_token": _csrf(bob)}).status_code
        == 400
    )
    stolen = bob.post(
        f"/settings/subscriptions/{sub['id']}/cancel", data={"csrf_token": _csrf(bob)}
    )
    assert stolen.status_code == 404 and subscription(mail_ws, sub["id"]).status == "pending"

    cancelled = ada.post(
        f"/settings/subscriptions/{sub['id']}/cancel", data={"csrf_token": _csrf(ada)}
    )
    assert cancelled.status_code == 200 and "Stopped daily recommendations" in cancelled.text
    assert "No subscriptions yet." in cancelled.text
    assert subscription(mail_ws, sub["id"]).status == "unsubscribed"


def test_the_subscriptions_api(mail_ws: Workspace) -> None:
    assert TestClient(create_app(mail_ws)).get("/api/v1/subscriptions").status_code == 401
    ada = _signed_up(mail_ws, "ada", email="ada@example.org")
    headers = {"X-CSRF-Token": _csrf(ada)}
    body = {"kind": "search", "query": "graph networks cat:cs.LG", "period": "weekly"}
    assert ada.post("/api/v1/subscriptions", json=body).status_code == 403  # no CSRF header

    created = ada.post("/api/v1/subscriptions", json=body, headers=headers)
    assert created.status_code == 201
    sub = created.json()
    assert sub["status"] == "pending" and sub["email"] == "ada@example.org"
    assert (sub["kind"], sub["period"], sub["query"]) == ("search", "weekly", body["query"])
    assert ada.get("/api/v1/subscriptions").json() == [sub]

    unknown = ada.post("/api/v1/subscriptions", json={"kind": "hourly"}, headers=headers)
    assert unknown.status_code == 422 and "kind" in unknown.json()["error"]
    no_query = ada.post("/api/v1/subscriptions", json={"kind": "search"}, headers=headers)
    assert no_query.status_code == 400 and "needs a query" in no_query.json()["error"]

    gone = ada.delete(f"/api/v1/subscriptions/{sub['id']}", headers=headers)
    assert gone.status_code == 200 and gone.json()["status"] == "unsubscribed"
    assert ada.get("/api/v1/subscriptions").json() == []
    assert ada.delete("/api/v1/subscriptions/999", headers=headers).status_code == 404


def test_admins_see_whether_a_worker_runs_and_the_outbox(mail_ws: Workspace) -> None:
    from paperfeed.db.lease import Lease

    ada = _signed_up(mail_ws, "ada")  # the first account: an admin
    bob = _signed_up(mail_ws, "bob")
    assert bob.get("/api/v1/mail/status").status_code == 403
    subscribe(mail_ws, "reader@example.org", "trending", {})
    page = ada.get("/admin")
    assert "No worker is running" in page.text
    assert "0 active, 1 waiting for confirmation" in page.text and "1 to send" in page.text

    Lease(mail_ws.db, "worker", 60, holder="mailhost:4242:abc").acquire()
    assert "Worker running: <code>mailhost:4242:abc</code>" in ada.get("/admin").text
    status = ada.get("/api/v1/mail/status").json()
    assert status["worker"]["holder"] == "mailhost:4242:abc"
    assert status["subscriptions"] == {"pending": 1, "active": 0, "unsubscribed": 0}
    assert status["outbox"] == {"pending": 1, "sending": 0, "sent": 0, "failed": 0}
