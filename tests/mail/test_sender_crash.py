"""A real crash: `paperfeed mail send` killed with SIGKILL mid-batch, then run again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _mail_helpers import SmtpServer, mail_settings, queue_mails

from paperfeed.workspace import Workspace

PAPERFEED = Path(sys.executable).parent / "paperfeed"
CLAIM_SECONDS = 4  # longer than a `paperfeed` start, so the restart sees the claim held


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env |= {
        "PAPERFEED_DATA_DIR": str(data_dir),
        "PAPERFEED_SECRET_KEY": "test-secret",
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(port),
        "PAPERFEED_SMTP_TIMEOUT": "10",
        "PAPERFEED_MAIL_CLAIM_TIMEOUT": str(CLAIM_SECONDS),
    }
    return env


def _send(data_dir: Path, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PAPERFEED), "mail", "send"],
        env=_env(data_dir, port),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _claimed_until(data_dir: Path) -> datetime:
    with sqlite3.connect(data_dir / "paperfeed.db") as db:
        [(value,)] = db.execute("SELECT claimed_until FROM outbox WHERE status = 'sending'")
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _statuses(data_dir: Path) -> Counter[str]:
    with sqlite3.connect(data_dir / "paperfeed.db") as db:
        return Counter(row[0] for row in db.execute("SELECT status FROM outbox"))


def test_kill_9_mid_batch_then_restart_delivers_every_mail_exactly_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    if not PAPERFEED.exists():
        pytest.skip(f"console script not installed at {PAPERFEED}")
    data_dir = tmp_path / "data"
    ws = Workspace.create(mail_settings(data_dir, smtp_server.port))
    ids = queue_mails(ws, 10)
    ws.db.engine.dispose()
    handler = smtp_server.handler
    handler.hold_next(after=4)  # the 5th mail: sent by the client, not yet accepted

    process = subprocess.Popen(
        [str(PAPERFEED), "mail", "send"],
        env=_env(data_dir, smtp_server.port),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert handler.holding.wait(30), "the sender never reached the 5th mail"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    handler.release()  # the server refuses it (451) to a dead client: never accepted
    assert len(handler.ids()) == 4
    assert _statuses(data_dir) == {"sent": 4, "sending": 1, "pending": 5}

    claimed_until = _claimed_until(data_dir)
    _send(data_dir, smtp_server.port)
    if datetime.now(UTC) < claimed_until:  # the killed sender's claim held all along
        assert _statuses(data_dir) == {"sent": 9, "sending": 1}
    if _statuses(data_dir) != {"sent": 10}:
        time.sleep(max((claimed_until - datetime.now(UTC)).total_seconds(), 0) + 0.2)
        _send(data_dir, smtp_server.port)  # the claim has expired
    assert _statuses(data_dir) == {"sent": 10}
    assert Counter(handler.ids()) == Counter(ids)  # every mail, exactly once
