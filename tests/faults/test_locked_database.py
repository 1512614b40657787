"""Another process holds the database's write lock (``BEGIN EXCLUSIVE``): our writers wait
for it (the busy timeout) and then succeed; a lock held past the timeout is a clear "busy,
try again" (CLI: one line; web: 503 with Retry-After), never a traceback or a 500."""

from __future__ import annotations

import time
from pathlib import Path

from _fault_helpers import ok, one_line_error, run, write_lock
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.db import Subscription
from paperfeed.web.app import create_app
from paperfeed.workspace import Workspace

PASSWORD = "a long enough passphrase 2187"


def _users(data_dir: Path) -> list[str]:
    return run(data_dir, "users", "list", "--json").stdout


def test_a_writer_waits_for_a_short_lock_and_then_succeeds(demo_dir: Path) -> None:
    with write_lock(demo_dir / "paperfeed.db", 4) as holder:
        started = time.monotonic()
        result = run(demo_dir, "users", "add", "alice", "--password", PASSWORD)
        waited = time.monotonic() - started
        assert holder.poll() is not None  # the lock was released before the command ended
    ok(result)
    assert "created alice" in result.stderr
    assert '"alice"' in _users(demo_dir)
    assert waited > 1  # it did meet the lock


def test_a_lock_held_past_the_timeout_is_one_clear_line(demo_dir: Path) -> None:
    url = f"sqlite:///{demo_dir / 'paperfeed.db'}?timeout=1"
    with write_lock(demo_dir / "paperfeed.db", 30):
        result = run(
            demo_dir, "users", "add", "bob", "--password", PASSWORD, PAPERFEED_DATABASE_URL=url
        )
        one_line_error(result, "database is busy", "try again")
    assert '"bob"' not in _users(demo_dir)
    ok(run(demo_dir, "users", "add", "bob", "--password", PASSWORD, PAPERFEED_DATABASE_URL=url))


def test_the_web_answers_503_with_retry_after_while_locked_and_serves_reads(
    demo_dir: Path,
) -> None:
    url = f"sqlite:///{demo_dir / 'paperfeed.db'}?timeout=1"
    ws = Workspace.open(Settings(data_dir=demo_dir, database_url=url, secret_key="faults"))
    with TestClient(create_app(ws), raise_server_exceptions=False) as client:
        token = client.get("/api/v1/me").json()["csrf_token"]
        body = {"email": "reader@example.org", "kind": "trending", "period": "daily"}
        headers = {"X-CSRF-Token": token}
        with write_lock(demo_dir / "paperfeed.db", 30):
            busy = client.post("/api/v1/subscriptions", json=body, headers=headers)
            assert busy.status_code == 503, busy.text
            assert int(busy.headers["Retry-After"]) > 0
            assert "busy" in busy.json()["error"]
            page = client.post(
                "/subscribe", data={**body, "csrf_token": token}, follow_redirects=False
            )
            assert page.status_code == 503 and "busy" in page.text
            assert int(page.headers["Retry-After"]) > 0
            read = client.get("/api/v1/search", params={"q": "speech recognition"})
            assert read.status_code == 200 and read.json()["results"]  # WAL: reads go on
        done = client.post("/subscribe", data={**body, "csrf_token": token}, follow_redirects=False)
        assert done.status_code in (200, 303), done.text  # the same form, lock released
    with ws.db.session() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Subscription)
                .where(Subscription.email == "reader@example.org")
            )
            == 1
        )
    ws.db.engine.dispose()
