"""``kill -9`` of ``paperfeed mail digests`` mid-run: each digest is queued in one
transaction with its subscription's watermark, so the next run queues exactly the missing
ones: every due subscription gets one digest, none gets two. (Sending is covered by
tests/mail/test_sender_crash.py.)"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _fault_helpers import PAPERFEED, env_for, ok, run
from sqlalchemy import update

from paperfeed.config import Settings
from paperfeed.db import Paper, Subscription
from paperfeed.workspace import Workspace

SUBSCRIBERS = 60


def _subscribe_many(data_dir: Path) -> None:
    """Active daily trending subscriptions, confirmed two days ago; the papers new since."""
    ws = Workspace.open(Settings(data_dir=data_dir))
    now = datetime.now(UTC)
    with ws.db.session() as session:
        session.execute(update(Paper).values(first_seen=now - timedelta(hours=1)))
        for number in range(SUBSCRIBERS):
            session.add(
                Subscription(
                    email=f"reader{number}@example.org",
                    kind="trending",
                    params={"period": "daily"},
                    status="active",
                    confirmed_at=now - timedelta(days=2),
                )
            )
    ws.db.engine.dispose()


def _digests(data_dir: Path) -> Counter[str]:
    with sqlite3.connect(data_dir / "paperfeed.db", timeout=30) as db:
        return Counter(row[0] for row in db.execute("SELECT to_addr FROM outbox"))


def test_kill_9_mid_digests_then_rerun_queues_each_digest_exactly_once(demo_dir: Path) -> None:
    if not PAPERFEED.exists():
        pytest.skip(f"console script not installed at {PAPERFEED}")
    _subscribe_many(demo_dir)
    process = subprocess.Popen(
        [str(PAPERFEED), "mail", "digests"],
        env=env_for(demo_dir),
        cwd=demo_dir.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = sqlite3.connect(demo_dir / "paperfeed.db", timeout=30, isolation_level=None)
    try:
        deadline = time.monotonic() + 300
        while sum(_digests(demo_dir).values()) < 10 and process.poll() is None:
            assert time.monotonic() < deadline, "no digest queued within 300 s"
            time.sleep(0.02)
        # Hold the write lock: the builder stops at its next commit, where it is killed.
        lock.execute("BEGIN IMMEDIATE")
        time.sleep(1.0)
        if process.poll() is not None:
            pytest.skip("the digests were all queued before the builder could be killed")
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if lock.in_transaction:
            lock.execute("COMMIT")
        lock.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    queued = _digests(demo_dir)
    assert 10 <= sum(queued.values()) < SUBSCRIBERS
    assert set(queued.values()) == {1}

    rerun = ok(run(demo_dir, "mail", "digests"))
    assert f"{SUBSCRIBERS - sum(queued.values())} digests queued" in rerun.stderr
    after = _digests(demo_dir)
    assert after == Counter({f"reader{n}@example.org": 1 for n in range(SUBSCRIBERS)})
    assert "0 digests queued" in ok(run(demo_dir, "mail", "digests")).stderr  # none due now
