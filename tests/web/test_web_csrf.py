"""Every state-changing route refuses a request without the session's CSRF token.

Each route is tried by the admin (so that only the token can be what is refused) with no
token and with a forged one: both are a 403 and change nothing; then the same request with
the right token is let through, which shows the 403 came from the token alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from _web_helpers import PASSWORD, Site, api_write, csrf, whoami
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed.db import Comment, LibraryItem, Paper, Subscription, User, Vote
from paperfeed.web import account, admin, api, feeds, pages, subscriptions

PAPER = "2604.25917"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {paper} and {comment} are filled in
    body: dict[str, Any]
    allowed: int  # the status with the right token
    api: bool = False

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


FORMS = [
    Route("POST", "/signup", {"username": "newcomer", "password": "short", "password2": "short"},
          400),
    Route("POST", "/login", {"username": "nobody", "password": PASSWORD}, 400),
    Route("POST", "/logout", {}, 303),
    Route("POST", "/account/password", {"current": PASSWORD, "new": "a" * 8, "new2": "b" * 8},
          400),
    Route("POST", "/papers/{paper}/vote", {"up": "true"}, 303),
    Route("POST", "/papers/{paper}/save", {"saved": "true"}, 303),
    Route("POST", "/papers/{paper}/comments", {"body": "forged?"}, 303),
    Route("POST", "/papers/{paper}/hide", {"hidden": "true"}, 303),
    Route("POST", "/comments/{comment}/hide", {"hidden": "true"}, 303),
    Route("POST", "/submit", {"ref": "not an id"}, 400),
    Route("POST", "/subscribe", {"email": "ada@example.org", "kind": "trending"}, 200),
    Route("POST", "/settings/subscriptions/{subscription}/cancel", {}, 404),
]  # fmt: skip
API = [
    Route("PUT", "/api/v1/papers/{paper}/vote", {}, 200, api=True),
    Route("DELETE", "/api/v1/papers/{paper}/vote", {}, 200, api=True),
    Route("POST", "/api/v1/papers/{paper}/comments", {"body": "forged?"}, 201, api=True),
    Route("PUT", "/api/v1/library/{paper}", {}, 200, api=True),
    Route("DELETE", "/api/v1/library/{paper}", {}, 200, api=True),
    Route("POST", "/api/v1/submit", {"ref": "not an id"}, 400, api=True),
    Route("POST", "/api/v1/subscriptions", {"kind": "trending", "email": "a@b.org"}, 201, api=True),
    Route("DELETE", "/api/v1/subscriptions/{subscription}", {}, 404, api=True),
]


def state(site: Site) -> tuple[object, ...]:
    """Everything a forged request could change."""
    with site.workspace.db.session() as session:
        counts = tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (User, Vote, LibraryItem, Comment, Subscription)
        )
        hidden = session.scalar(select(func.count()).where(Paper.hidden.is_(True)))
        hidden_comments = session.scalar(select(func.count()).where(Comment.hidden.is_(True)))
        hashes = tuple(session.scalars(select(User.password_hash).order_by(User.pk)))
    return counts, hidden, hidden_comments, hashes


def send(client: TestClient, route: Route, url: str, token: str | None) -> httpx.Response:
    if route.api:
        headers = {} if token is None else {"X-CSRF-Token": token}
        body = route.body if route.method != "DELETE" else None
        return client.request(route.method, url, json=body, headers=headers)
    data = dict(route.body) if token is None else {**route.body, "csrf_token": token}
    return client.post(url, data=data, follow_redirects=False)


@pytest.mark.parametrize("route", FORMS + API, ids=str)
def test_a_write_without_the_csrf_token_is_refused(site: Site, route: Route) -> None:
    admin = site.client("ada")
    comment = api_write(
        site.client("bob"), "POST", f"/api/v1/papers/{PAPER}/comments", {"body": "a comment"}
    ).json()
    url = route.path.format(paper=PAPER, comment=comment["id"], subscription=999)
    before = state(site)
    for token in (None, "forged-" + csrf(admin)[7:]):
        response = send(admin, route, url, token)
        assert response.status_code == 403, (route, token)
        if route.api:
            assert response.json()["error"].startswith("missing or stale CSRF token")
        else:
            assert "missing or stale CSRF token" in response.text
        assert state(site) == before
        assert whoami(admin) == "ada"
    response = send(admin, route, url, csrf(admin))
    assert response.status_code == route.allowed, response.text


def test_a_token_from_another_session_is_refused(site: Site) -> None:
    bob, cyd = site.client("bob"), site.client("cyd")
    response = bob.put(f"/api/v1/papers/{PAPER}/vote", headers={"X-CSRF-Token": csrf(cyd)})
    assert response.status_code == 403
    anonymous = site.client()
    assert anonymous.post("/logout", data={"csrf_token": csrf(bob)}).status_code == 403


def test_every_write_route_is_checked_here() -> None:
    """The routers hold every route that changes anything (``create_app``'s own are reads).

    Exempt: ``POST /unsubscribe``, authorised by the signed token in its link (RFC 8058
    one-click unsubscribe comes from mail clients, which have no session).
    """
    routers = (pages.router, account.router, api.router, feeds.router)
    routers += (subscriptions.pages, subscriptions.api)
    routes = [r for router in (*routers, admin.pages, admin.api) for r in router.routes]
    unsafe = {
        (method, route.path.replace(":path", ""))
        for route in routes
        if isinstance(route, APIRoute)
        for method in route.methods
        if method in {"POST", "PUT", "PATCH", "DELETE"}
    }
    names = {"paper": "{paper_id}", "comment": "{comment_pk}", "subscription": "{pk}"}
    listed = {(r.method, r.path.format(**names)) for r in FORMS + API}
    assert unsafe - {("POST", "/unsubscribe")} == listed
