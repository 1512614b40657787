"""`paperfeed mail ...` as a user runs it: subscribe, send, outbox, digests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _mail_helpers import SmtpServer

from paperfeed.config import Settings
from paperfeed.workspace import Workspace

PAPERFEED = Path(sys.executable).parent / "paperfeed"


def _run(data_dir: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    if not PAPERFEED.exists():
        pytest.skip(f"console script not installed at {PAPERFEED}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env |= {
        "PAPERFEED_DATA_DIR": str(data_dir),
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(port),
    }
    return subprocess.run(
        [str(PAPERFEED), *args],
        env=env,
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_subscribe_send_and_outbox_from_the_command_line(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    data, port = tmp_path / "data", smtp_server.port
    Workspace.create(Settings(data_dir=data)).db.engine.dispose()  # `paperfeed init`
    subscribed = _run(
        data, port, "mail", "subscribe", "a@example.org", "--kind", "search", "--query", "llm"
    )
    assert subscribed.returncode == 0, subscribed.stderr
    assert "confirmation mail queued for a@example.org" in subscribed.stderr

    bad = _run(data, port, "mail", "subscribe", "nobody", "--kind", "trending")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "error: email: 'nobody' is not one email address like name@example.org "
        "(An email address must have an @-sign.)"
    ]

    smtp_server.handler.fail_next("550 5.1.1 no such mailbox")
    _run(data, port, "mail", "subscribe", "b@example.org")
    sent = _run(data, port, "mail", "send")
    assert sent.returncode == 1  # one failed for good
    assert "1 sent, 0 to retry, 1 failed" in sent.stderr
    assert len(smtp_server.handler.messages) == 1

    status = json.loads(_run(data, port, "mail", "outbox", "--json").stdout)
    assert status["counts"] == {"pending": 0, "sending": 0, "sent": 1, "failed": 1}
    assert status["errors"][0]["error"] == "550 5.1.1 no such mailbox"

    digests = _run(data, port, "mail", "digests")
    assert digests.returncode == 0
    assert "0 digests queued" in digests.stderr  # nobody confirmed yet
