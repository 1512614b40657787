"""A real crash: `paperfeed mail send` killed with SIGKILL mid-batch, then run again."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _mail_helpers import SmtpServer, cli_env, mail_settings, query_rows, queue_mails

from paperfeed.config import Settings
from paperfeed.workspace import Workspace

PAPERFEED = Path(sys.executable).parent / "paperfeed"
CLAIM_SECONDS = 4  # longer than a `paperfeed` start, so the restart sees the claim held


def _send(settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PAPERFEED), "mail", "send"],
        env=cli_env(settings, PAPERFEED_MAIL_CLAIM_TIMEOUT=str(CLAIM_SECONDS)),
        cwd=settings.data_dir.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _claimed_until(settings: Settings) -> datetime:
    [(value,)] = query_rows(settings, "SELECT claimed_until FROM outbox WHERE status = 'sending'")
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _statuses(settings: Settings) -> Counter[str]:
    return Counter(str(status) for (status,) in query_rows(settings, "SELECT status FROM outbox"))


def test_kill_9_mid_batch_then_restart_delivers_every_mail_exactly_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    if not PAPERFEED.exists():
        pytest.skip(f"console script not installed at {PAPERFEED}")
    settings = mail_settings(tmp_path / "data", smtp_server.port)
    ws = Workspace.create(settings)
    ids = queue_mails(ws, 10)
    ws.db.engine.dispose()
    handler = smtp_server.handler
    handler.hold_next(after=4)  # the 5th mail: sent by the client, not yet accepted

    process = subprocess.Popen(
        [str(PAPERFEED), "mail", "send"],
        env=cli_env(settings, PAPERFEED_MAIL_CLAIM_TIMEOUT=str(CLAIM_SECONDS)),
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
    assert _statuses(settings) == {"sent": 4, "sending": 1, "pending": 5}

    claimed_until = _claimed_until(settings)
    _send(settings)
    if datetime.now(UTC) < claimed_until:  # the killed sender's claim held all along
        assert _statuses(settings) == {"sent": 9, "sending": 1}
    if _statuses(settings) != {"sent": 10}:
        time.sleep(max((claimed_until - datetime.now(UTC)).total_seconds(), 0) + 0.2)
        _send(settings)  # the claim has expired
    assert _statuses(settings) == {"sent": 10}
    assert Counter(handler.ids()) == Counter(ids)  # every mail, exactly once
