"""Accounts: sign-up, log-in/out, password changes, sessions and where log-in sends you."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from _web_helpers import (
    PASSWORD,
    Site,
    alert,
    csrf,
    input_value,
    log_in,
    post_form,
    press,
    sign_up,
    whoami,
)
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed.db import User

NEW_PASSWORD = "tr0ub4dor & 3"


def users(site: Site) -> dict[str, User]:
    with site.workspace.db.session() as session:
        return {u.username: u for u in session.scalars(select(User))}


def user_count(site: Site) -> int:
    with site.workspace.db.session() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_the_first_account_is_the_admin_and_passwords_are_argon2_hashes(
    empty_site: Site,
) -> None:
    first, second = empty_site.client(), empty_site.client()
    page = first.get("/signup").text
    response = press(
        first,
        page,
        "/signup",
        username="zoe",
        email="zoe@example.org",
        password=PASSWORD,
        password2=PASSWORD,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert first.get("/api/v1/me").json() == {
        "username": "zoe",
        "is_admin": True,
        "csrf_token": csrf(first),
    }
    assert sign_up(second, "yan").status_code == 303
    assert second.get("/api/v1/me").json()["is_admin"] is False
    stored = users(empty_site)
    assert set(stored) == {"zoe", "yan"}
    assert stored["zoe"].email == "zoe@example.org" and stored["yan"].email is None
    for user in stored.values():
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
    assert stored["zoe"].password_hash != stored["yan"].password_hash  # salted
    account = first.get("/account").text
    assert "<h1>zoe</h1>" in account and " · admin" in account
    assert " · admin" not in second.get("/account").text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "ab"}, "username: 3 to 32 characters"),
        ({"username": "no spaces"}, "username: 3 to 32 characters"),
        ({"username": "-dash-first"}, "username: 3 to 32 characters"),
        ({"password": "short", "password2": "short"}, "password: at least 8 characters"),
        ({"password2": "something else"}, "the two passwords differ"),
        ({"email": "not-an-email"}, "email: 'not-an-email' is not one email address"),
        ({"username": "BOB"}, "username 'BOB' is taken"),  # case does not make a new name
    ],
)
def test_sign_up_problems_are_shown_in_the_form_with_the_input_kept(
    site: Site, fields: dict[str, str], message: str
) -> None:
    client = site.client()
    form = {
        "username": "newcomer",
        "email": "me@example.org",
        "password": PASSWORD,
        "password2": PASSWORD,
        **fields,
    }
    before = user_count(site)
    response = post_form(client, "/signup", form)
    assert response.status_code == 400
    assert alert(response.text) is not None and alert(response.text).startswith(message)
    assert input_value(response.text, "username") == form["username"]
    assert input_value(response.text, "email") == form["email"]
    assert input_value(response.text, "password") is None  # passwords are never echoed
    assert form["password2"] not in response.text
    assert whoami(client) is None
    assert user_count(site) == before


def test_log_in_and_out(site: Site) -> None:
    client = site.client()
    before = csrf(client)
    response = log_in(client, "bob")
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert whoami(client) == "bob"
    assert csrf(client) != before  # a fresh token at log-in
    assert post_form(client, "/logout", token=before).status_code == 403
    page = client.get("/").text
    assert '<a href="/account">bob</a>' in page
    response = press(client, page, "/logout")
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert whoami(client) is None
    gone = client.get("/account", follow_redirects=False)
    assert (gone.status_code, gone.headers["location"]) == (303, "/login?next=/account")
    assert "Log in" in client.get("/").text


def test_log_in_returns_to_the_page_it_came_from(site: Site) -> None:
    client = site.client()
    page = client.get("/login", params={"next": "/papers/2604.25917#comments"}).text
    assert input_value(page, "next") == "/papers/2604.25917#comments"
    response = press(client, page, "/login", username="CYD", password=PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/papers/2604.25917#comments"
    assert whoami(client) == "cyd"  # user names are matched without case


@pytest.mark.parametrize(
    ("username", "password"), [("bob", "not his password"), ("nobody", PASSWORD)]
)
def test_a_wrong_password_or_user_is_refused_alike(
    site: Site, username: str, password: str
) -> None:
    client = site.client()
    response = log_in(client, username, password)
    assert response.status_code == 400
    assert alert(response.text) == "wrong username or password"
    assert input_value(response.text, "username") == username
    assert whoami(client) is None


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "https://evil.example/papers/1",
        "//evil.example",
        "///evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\\evil.example",
    ],
)
def test_next_cannot_send_anyone_off_the_site(hf_client: TestClient, target: str) -> None:
    for path in ("/login", "/signup"):
        page = hf_client.get(path, params={"next": target}).text
        kept = input_value(page, "next")
        assert kept is not None
        where = urlsplit(kept)
        assert kept.startswith("/") and not kept.startswith("//")
        assert not where.scheme and not where.netloc


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("https://evil.example", "/"),
        ("//evil.example", "/"),
        # Browsers read a backslash as a slash; the redirect percent-encodes it into a path.
        ("/\\evil.example", "/%5Cevil.example"),
    ],
)
def test_log_in_with_a_foreign_next_stays_on_the_site(
    site: Site, target: str, location: str
) -> None:
    client = site.client()
    form = {"username": "bob", "password": PASSWORD, "next": target}
    response = post_form(client, "/login", form)
    assert (response.status_code, response.headers["location"]) == (303, location)


def test_changing_the_password_ends_every_other_session(site: Site) -> None:
    here = site.client("cyd")
    elsewhere = site.client()
    assert log_in(elsewhere, "cyd").status_code == 303
    assert whoami(elsewhere) == "cyd"
    page = here.get("/account").text
    change = {"current": PASSWORD, "new": NEW_PASSWORD, "new2": NEW_PASSWORD}
    response = press(here, page, "/account/password", **change)
    assert response.status_code == 200
    assert '<p class="ok" role="status">password changed</p>' in response.text
    assert whoami(here) == "cyd"  # this session carries on
    assert whoami(elsewhere) is None  # the other one has ended
    gone = elsewhere.get("/account", follow_redirects=False)
    assert gone.headers["location"] == "/login?next=/account"
    assert log_in(site.client(), "cyd", PASSWORD).status_code == 400
    assert log_in(site.client(), "cyd", NEW_PASSWORD).status_code == 303
    assert users(site)["cyd"].password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"current": "wrong password"}, "current password: wrong password"),
        ({"new2": "something else"}, "the two new passwords differ"),
        ({"new": "short", "new2": "short"}, "password: at least 8 characters"),
    ],
)
def test_a_bad_password_change_changes_nothing(
    site: Site, fields: dict[str, str], message: str
) -> None:
    client = site.client("bob")
    before = users(site)["bob"].password_hash
    form = {"current": PASSWORD, "new": NEW_PASSWORD, "new2": NEW_PASSWORD, **fields}
    response = post_form(client, "/account/password", form)
    assert response.status_code == 400
    assert alert(response.text) == message
    assert users(site)["bob"].password_hash == before
    assert whoami(client) == "bob"


def test_account_pages_need_a_login(site: Site) -> None:
    client = site.client()
    for path in ("/account", "/library"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert urlsplit(response.headers["location"]).path == "/login"
    response = post_form(client, "/account/password", {"current": "x", "new": "y", "new2": "y"})
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == "/login"
