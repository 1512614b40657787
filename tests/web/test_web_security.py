"""Safe on the public internet: security headers, sessions that end, Secure cookies, rate
limits (429 + Retry-After), the password policy, hostile form input, races on votes and
saves, and the modes of the data files.

Everything runs against the real app over real SQLite copies of the community workspace;
the races against a real uvicorn server in a thread, hit by concurrent HTTP clients.
"""

from __future__ import annotations

import base64
import json
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from _core_helpers import make_workspace
from _web_helpers import (
    PASSWORD,
    SESSION_COOKIE,
    Site,
    alert,
    api_write,
    csrf,
    log_in,
    post_form,
    press,
    sign_up,
    tags,
    whoami,
)
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import func, select, update

from paperfeed.community import accounts, throttle
from paperfeed.config import Settings
from paperfeed.db import LibraryItem, Paper, User, Vote
from paperfeed.db.models import UserSession
from paperfeed.search.catchup import catch_up
from paperfeed.security import secret_key
from paperfeed.web.app import CONTENT_SECURITY_POLICY, create_app
from paperfeed.workspace import Workspace

ADDRESS = "testclient"  # the client address Starlette's TestClient reports


def paper_ids(workspace: Workspace, n: int = 2) -> list[str]:
    with workspace.db.session() as session:
        return list(session.scalars(select(Paper.id).order_by(Paper.pk).limit(n)))


def user_pk(workspace: Workspace, username: str) -> int:
    with workspace.db.session() as session:
        pk = session.scalar(select(User.pk).where(User.username == username))
    assert pk is not None
    return pk


def reopen(site: Site, **settings: object) -> Workspace:
    """A second handle on the site's data directory: another web worker, other settings."""
    return Workspace.open(site.workspace.settings.model_copy(update=settings))


def use_up(
    workspace: Workspace, action: str, address: str = ADDRESS, account: str | None = None
) -> None:
    """Count as many ``action`` events as its limit allows, as earlier requests would have:
    per account when ``account`` is given (from another address), else per ``address``."""
    rules = throttle.ACTIONS[action]
    if account is not None:
        assert rules.per_account is not None
        for _ in range(rules.per_account.count):
            throttle.record(workspace, action, "192.0.2.99", account)
    else:
        for _ in range(rules.per_address.count):
            throttle.record(workspace, action, address)


def assert_too_many(response: httpx.Response, action: str) -> None:
    assert response.status_code == 429, response.text
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= max(limit.period for limit in _limits(action))
    assert f"too many {throttle.ACTIONS[action].noun}" in response.text


def _limits(action: str) -> list[throttle.Limit]:
    rules = throttle.ACTIONS[action]
    return [rules.per_address] + ([rules.per_account] if rules.per_account else [])


# -- headers -----------------------------------------------------------------------------------

SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/", 200),
        ("/search?q=language+models", 200),
        ("/login", 200),
        ("/docs", 200),
        ("/api/v1/feed", 200),
        ("/openapi.json", 200),
        ("/static/style.css", 200),
        ("/feeds/daily.atom", 200),
        ("/no-such-page", 404),
        ("/api/v1/papers/no-such-paper", 404),
        ("/static/no-such-file.js", 404),
        ("/search?page=0", 400),
    ],
)
def test_every_response_carries_the_security_headers(
    hf_client: TestClient, url: str, status: int
) -> None:
    response = hf_client.get(url)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert "strict-transport-security" not in response.headers  # plain http


def test_the_policy_allows_no_inline_script_and_no_framing() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert not any("unsafe" in value for value in directives.values())


def test_hsts_only_over_https(hf_workspace: Workspace) -> None:
    app = create_app(hf_workspace)
    with TestClient(app, base_url="https://papers.example.org") as client:
        hsts = client.get("/").headers.get("strict-transport-security")
    assert hsts is not None and "max-age=31536000" in hsts
    with TestClient(app) as client:
        assert "strict-transport-security" not in client.get("/").headers


def test_the_api_docs_page_has_no_inline_script(hf_client: TestClient) -> None:
    page = hf_client.get("/docs").text
    scripts = tags(page, "script")
    assert [s.get("src") for s in scripts] == [
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/swagger-init.js",
    ]
    assert "<script>" not in page
    assert hf_client.get("/static/swagger-init.js").status_code == 200
    assert 'data-openapi-url="/openapi.json"' in page


# -- cookies and sessions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [("https://papers.example.org", True), ("http://127.0.0.1:8000", False)],
)
def test_the_session_cookie_is_secure_when_the_site_is_https(
    tmp_path: Path, base_url: str, secure: bool
) -> None:
    ws = Workspace.create(Settings(data_dir=tmp_path / "data", base_url=base_url))
    with TestClient(create_app(ws), base_url="https://testserver") as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert ("; secure" in cookie) is secure
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_cookie_secure_setting_overrides_the_base_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, base_url="https://x.org", cookie_secure=False)
    assert not settings.secure_cookies
    assert Settings(data_dir=tmp_path, cookie_secure=True).secure_cookies


def test_a_copied_cookie_is_dead_after_log_out(site: Site) -> None:
    browser, thief = site.client("bob"), site.client("bob")  # the same cookie, copied
    assert whoami(thief) == "bob"
    assert post_form(browser, "/logout").status_code == 303
    assert whoami(browser) is None
    assert whoami(thief) is None  # the session row is gone, whatever the cookie says
    assert (
        api_write(thief, "PUT", f"/api/v1/papers/{paper_ids(site.workspace)[0]}/vote").status_code
        == 401
    )


def test_a_password_change_ends_the_users_other_sessions_and_copies(site: Site) -> None:
    here, copy = site.client("cyd"), site.client("cyd")
    elsewhere = site.client()
    assert log_in(elsewhere, "cyd").status_code == 303
    change = {"current": PASSWORD, "new": "violet tractor summit", "new2": "violet tractor summit"}
    assert press(here, here.get("/account").text, "/account/password", **change).status_code == 200
    assert whoami(here) == "cyd"
    assert whoami(copy) is None  # the old cookie of this very browser, copied before
    assert whoami(elsewhere) is None
    assert whoami(site.client("bob")) == "bob"  # other users are not affected
    with site.workspace.db.session() as session:
        rows = session.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_pk == user_pk(site.workspace, "cyd"))
        )
    assert rows == 1


def test_a_session_ends_when_it_expires(site: Site) -> None:
    client = site.client("bob")
    assert whoami(client) == "bob"
    with site.workspace.db.session() as session:
        session.execute(
            update(UserSession)
            .where(UserSession.user_pk == user_pk(site.workspace, "bob"))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert whoami(client) is None


@pytest.mark.parametrize(
    "session",
    [
        {"uid": 2, "auth": "0123456789abcdef"},  # the cookie before server-side sessions
        {"sid": "made-up", "uid": 2},
        {"sid": 12345, "uid": 2},
    ],
)
def test_a_signed_cookie_without_a_live_session_logs_no_one_in(
    site: Site, session: dict[str, object]
) -> None:
    """Even signed with the site's own key (so past the signature check)."""
    data = base64.b64encode(json.dumps({**session, "csrf": "token"}).encode())
    cookie = TimestampSigner(secret_key(site.workspace)).sign(data).decode()
    client = TestClient(site.app, cookies={SESSION_COOKIE: cookie})
    site.clients.append(client)
    assert whoami(client) is None
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_the_database_keeps_no_session_id(site: Site) -> None:
    """A copy of the database (a backup) logs no one in: only hashes of the ids are kept."""
    client = site.client()
    assert log_in(client, "bob").status_code == 303
    cookie = client.cookies[SESSION_COOKIE]
    with site.workspace.db.session() as session:
        hashes = set(session.scalars(select(UserSession.id_hash)))
    assert hashes and not any(h in cookie for h in hashes)


# -- rate limits -------------------------------------------------------------------------------

PAPER = "{paper}"
LIMITED_ROUTES = [
    ("vote", "POST", "/papers/{paper}/vote", {"up": "true"}, None),
    ("vote", "PUT", "/api/v1/papers/{paper}/vote", None, None),
    ("vote", "DELETE", "/api/v1/papers/{paper}/vote", None, None),
    ("save", "POST", "/papers/{paper}/save", {"saved": "true"}, None),
    ("save", "PUT", "/api/v1/library/{paper}", None, None),
    ("save", "DELETE", "/api/v1/library/{paper}", None, None),
    ("comment", "POST", "/papers/{paper}/comments", {"body": "Nice."}, None),
    ("comment", "POST", "/api/v1/papers/{paper}/comments", None, {"body": "Nice."}),
    ("submit", "POST", "/submit", {"ref": "{paper}"}, None),
    ("submit", "POST", "/api/v1/submit", None, {"ref": "{paper}"}),
    ("subscribe", "POST", "/subscribe", {"kind": "trending", "email": "b@example.org"}, None),
    (
        "subscribe",
        "POST",
        "/api/v1/subscriptions",
        None,
        {"kind": "trending", "email": "b@example.org"},
    ),
]


def send(client: TestClient, method: str, url: str, form: object, body: object) -> httpx.Response:
    if form is not None:
        return post_form(client, url, form)  # type: ignore[arg-type]
    return api_write(client, method, url, json=body)  # type: ignore[arg-type]


def _fill(template: object, paper: str) -> object:
    if isinstance(template, dict):
        return {k: v.replace(PAPER, paper) for k, v in template.items()}
    return template


@pytest.mark.parametrize(("action", "method", "url", "form", "body"), LIMITED_ROUTES)
def test_each_write_is_limited_per_account(
    site: Site, action: str, method: str, url: str, form: object, body: object
) -> None:
    paper = paper_ids(site.workspace)[0]
    url, form, body = url.replace(PAPER, paper), _fill(form, paper), _fill(body, paper)
    client = site.client("bob")
    assert send(client, method, url, form, body).status_code < 400  # allowed so far
    use_up(site.workspace, action, account=str(user_pk(site.workspace, "bob")))
    assert_too_many(send(client, method, url, form, body), action)
    # Only bob's account is used up: cyd, from the same address, goes on.
    assert send(site.client("cyd"), method, url, form, body).status_code < 400


@pytest.mark.parametrize(("action", "method", "url", "form", "body"), LIMITED_ROUTES[::2])
def test_each_write_is_limited_per_client_address(
    site: Site, action: str, method: str, url: str, form: object, body: object
) -> None:
    paper = paper_ids(site.workspace)[0]
    url, form, body = url.replace(PAPER, paper), _fill(form, paper), _fill(body, paper)
    use_up(site.workspace, action, address=ADDRESS)
    assert_too_many(send(site.client("cyd"), method, url, form, body), action)


def test_counts_are_shared_by_every_process_on_the_database(site: Site) -> None:
    """Two apps over one database (two ``serve`` workers, or two hosts on one PostgreSQL)
    count against the same limit; here with real comment requests."""
    other = create_app(reopen(site))
    first = site.client("bob")
    second = TestClient(other, cookies={SESSION_COOKIE: site.cookies["bob"]})
    site.clients.append(second)
    url = f"/papers/{paper_ids(site.workspace)[0]}/comments"
    allowed = throttle.ACTIONS["comment"].per_account.count  # type: ignore[union-attr]
    for n in range(allowed):
        client = first if n % 2 else second
        assert post_form(client, url, {"body": f"comment {n}"}).status_code == 303
    assert_too_many(post_form(first, url, {"body": "one too many"}), "comment")
    assert_too_many(post_form(second, url, {"body": "one too many"}), "comment")


def test_rate_limits_can_be_switched_off(site: Site) -> None:
    use_up(site.workspace, "vote", address=ADDRESS)
    url = f"/api/v1/papers/{paper_ids(site.workspace)[0]}/vote"
    assert_too_many(api_write(site.client("bob"), "PUT", url), "vote")
    unlimited = create_app(reopen(site, rate_limits=False))
    with TestClient(unlimited, cookies={SESSION_COOKIE: site.cookies["bob"]}) as client:
        assert api_write(client, "PUT", url).status_code == 200


def test_wrong_passwords_lock_the_account_for_a_while_even_with_the_right_one(
    site: Site,
) -> None:
    allowed = throttle.ACTIONS["login"].per_account.count  # type: ignore[union-attr]
    for _ in range(allowed):
        response = log_in(site.client(), "bob", "not the password")
        assert response.status_code == 400
        assert alert(response.text) == "wrong username or password"
    refused = log_in(site.client(), "BOB", PASSWORD)  # any case of the name is the account
    assert_too_many(refused, "login")
    assert alert(refused.text).startswith("too many failed log-ins")
    # Other accounts from the same address still log in.
    assert log_in(site.client(), "cyd", PASSWORD).status_code == 303


def test_failed_log_ins_are_limited_per_client_address(site: Site) -> None:
    use_up(site.workspace, "login", address=ADDRESS)
    assert_too_many(log_in(site.client(), "cyd", PASSWORD), "login")
    with TestClient(site.app, client=("192.0.2.7", 5000)) as elsewhere:
        assert log_in(elsewhere, "cyd", PASSWORD).status_code == 303


def test_wrong_current_passwords_count_as_failed_log_ins(site: Site) -> None:
    """Someone at a logged-in browser cannot guess its password through the change form."""
    client = site.client("bob")
    allowed = throttle.ACTIONS["login"].per_account.count  # type: ignore[union-attr]
    new = "violet tractor summit"
    for _ in range(allowed):
        form = {"current": "a guess", "new": new, "new2": new}
        assert post_form(client, "/account/password", form).status_code == 400
    form = {"current": PASSWORD, "new": new, "new2": new}
    assert_too_many(post_form(client, "/account/password", form), "login")
    assert_too_many(log_in(site.client(), "bob", PASSWORD), "login")
    assert accounts.authenticate(site.workspace, "bob", PASSWORD) is not None  # unchanged


def test_sign_ups_are_limited_per_client_address(site: Site) -> None:
    use_up(site.workspace, "signup", address=ADDRESS)
    assert_too_many(sign_up(site.client(), "newcomer"), "signup")
    with TestClient(site.app, client=("192.0.2.8", 5000)) as elsewhere:
        assert sign_up(elsewhere, "newcomer").status_code == 303


def test_a_window_that_ended_counts_no_more(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    use_up(site.workspace, "vote", address=ADDRESS)
    url = f"/api/v1/papers/{paper_ids(site.workspace)[0]}/vote"
    assert_too_many(api_write(site.client("bob"), "PUT", url), "vote")
    later = time.time() + throttle.ACTIONS["vote"].per_address.period
    monkeypatch.setattr(throttle.time, "time", lambda: later)  # the clock moves on
    assert api_write(site.client("bob"), "PUT", url).status_code == 200


def test_at_most_a_few_password_checks_run_at_once(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each argon2 verification takes 64 MiB: a burst of log-ins queues for a slot. A
    counting hasher (the real one underneath) sees how many run together."""
    real, lock = accounts._hasher, threading.Lock()
    running, peak = 0, 0

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            try:
                return real.verify(hash, password)
            finally:
                with lock:
                    running -= 1

    monkeypatch.setattr(accounts, "_hasher", Counting())
    results: list[object] = []

    def attempt() -> None:
        results.append(accounts.authenticate(site.workspace, "bob", "a wrong guess"))

    threads = [threading.Thread(target=attempt) for _ in range(3 * accounts.ARGON2_AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [None] * len(threads)
    assert 1 <= peak <= accounts.ARGON2_AT_ONCE


# -- passwords and hostile input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("newcomer", "12345678", "password: too easy to guess"),
        ("newcomer", "password1", "password: too easy to guess"),
        ("newcomer", "qwertyuiop", "password: too easy to guess"),
        ("newcomer", "iloveyou", "password: too easy to guess"),
        ("newcomer", "newcomer", "password: must not contain the username"),
        ("newcomer", "NewComer-in-town-42", "password: must not contain the username"),
    ],
)
def test_common_passwords_and_the_username_are_refused(
    site: Site, username: str, password: str, message: str
) -> None:
    response = sign_up(site.client(), username, password)
    assert response.status_code == 400
    assert alert(response.text).startswith(message)


def test_strong_passphrases_are_accepted(site: Site) -> None:
    assert sign_up(site.client(), "newcomer", "violet tractor summit").status_code == 303


def test_a_password_change_is_held_to_the_same_policy(site: Site) -> None:
    client = site.client("bob")
    for weak, message in [
        ("123456789", "password: too easy to guess"),
        ("bob-is-the-best-1", "password: must not contain the username"),
    ]:
        form = {"current": PASSWORD, "new": weak, "new2": weak}
        response = post_form(client, "/account/password", form)
        assert response.status_code == 400
        assert alert(response.text).startswith(message)
    assert log_in(site.client(), "bob", PASSWORD).status_code == 303


# Forms arrive as bytes: a lone surrogate can only be sent UTF-8-encoded (percent-escaped or
# raw), which the form parser turns into replacement or Latin-1 characters.
HOSTILE = {
    "encoded lone surrogate": "%ED%A0%80",
    "raw lone surrogate": "\xed\xa0\x80",
    "NUL": "pass%00word%00secret",
    "control characters": "%01%02%03%04%05%06%07%08",
    "1 MB": "a" * 1_000_000,
}


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/signup", ("username", "password", "email")),
        ("/login", ("username", "password")),
        ("/account/password", ("current", "new")),
    ],
)
def test_hostile_strings_in_account_forms_are_refused_not_crashed_on(
    site: Site, url: str, fields: tuple[str, ...], value: str
) -> None:
    client = site.client("bob")
    token = csrf(client)
    good = {
        "username": "newcomer",
        "password": "violet tractor summit",
        "email": "n@example.org",
        "current": PASSWORD,
        "new": "violet tractor summit",
    }
    good["password2"], good["new2"] = good["password"], good["new"]
    for field in fields:
        form = {**good, field: value, "csrf_token": token}
        if field in ("password", "new"):
            form[field + "2"] = value
        body = "&".join(f"{k}={v}" for k, v in form.items())
        response = client.post(
            url,
            content=body.encode("latin-1"),
            headers={"content-type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert response.status_code == 400, (field, response.status_code)
    assert whoami(client) == "bob"


# -- races -------------------------------------------------------------------------------------


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn server (its thread pool runs requests in parallel)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def at_once(n: int, request: Callable[[], httpx.Response]) -> list[int]:
    """``n`` threads send ``request`` at the same moment; their statuses."""
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def run() -> None:
        barrier.wait()
        statuses.append(request().status_code)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def count_rows(workspace: Workspace, model: type, paper: str) -> int:
    with workspace.db.session() as session:
        pk = session.scalar(select(Paper.pk).where(Paper.id == paper))
        return (
            session.scalar(
                select(func.count()).select_from(model).where(model.paper_pk == pk)  # type: ignore[attr-defined]
            )
            or 0
        )


def paper_votes(workspace: Workspace, paper: str) -> int:
    with workspace.db.session() as session:
        return session.scalar(select(Paper.votes).where(Paper.id == paper)) or 0


@pytest.mark.parametrize(
    ("path", "model"), [("/api/v1/papers/{}/vote", Vote), ("/api/v1/library/{}", LibraryItem)]
)
def test_identical_votes_and_saves_at_once_count_once(site: Site, path: str, model: type) -> None:
    paper = paper_ids(site.workspace)[1]
    url = path.format(paper)
    with serving(site.app) as base:
        cookies = {SESSION_COOKIE: site.cookies["bob"]}
        with httpx.Client(base_url=base, cookies=cookies, timeout=60) as probe:
            token = probe.get("/api/v1/me").json()["csrf_token"]

        def request(method: str) -> Callable[[], httpx.Response]:
            def send() -> httpx.Response:
                with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
                    return client.request(method, url, headers={"X-CSRF-Token": token})

            return send

        for _ in range(3):
            assert at_once(8, request("PUT")) == [200] * 8
            assert count_rows(site.workspace, model, paper) == 1
            if model is Vote:
                assert paper_votes(site.workspace, paper) == 1
            assert at_once(8, request("DELETE")) == [200] * 8
            assert count_rows(site.workspace, model, paper) == 0
            if model is Vote:
                assert paper_votes(site.workspace, paper) == 0


# -- files -------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.sqlite_only("the modes of the SQLite database files")
def test_data_files_are_private(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "data")
    create_app(ws)  # makes the secret key
    catch_up(ws)
    with ws.db.engine.connect() as connection:  # the WAL and shared-memory files exist now
        connection.exec_driver_sql("SELECT count(*) FROM papers").one()
        data = ws.settings.data_dir
        assert mode(data) == 0o700
        for name in ("paperfeed.db", "paperfeed.db-wal", "paperfeed.db-shm", "secret_key"):
            assert mode(data / name) == 0o600, name
    index_files = [p for p in ws.settings.index_dir.rglob("*") if p.is_file()]
    assert index_files and all(mode(p) == 0o600 for p in index_files)


@pytest.mark.sqlite_only("the modes of the SQLite database files")
def test_opening_a_workspace_tightens_files_left_readable(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "data")
    create_app(ws)
    catch_up(ws)
    ws.db.engine.dispose()
    data = ws.settings.data_dir
    loose = [data / "paperfeed.db", data / "secret_key"]
    loose += [p for p in ws.settings.index_dir.rglob("*") if p.is_file()]
    for path in loose:
        path.chmod(0o644)
    data.chmod(0o755)
    Workspace.open(Settings(data_dir=data))
    assert mode(data) == 0o700
    assert all(mode(p) == 0o600 for p in loose)
