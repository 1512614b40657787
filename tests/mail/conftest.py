"""A real SMTP server on loopback (aiosmtpd) and workspaces whose settings point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _mail_helpers import SmtpServer, mail_settings

from paperfeed.workspace import Workspace


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.controller.start()
    yield server
    server.handler.release()
    server.controller.stop()


@pytest.fixture
def mail_ws(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Workspace]:
    data_dir = tmp_path / "data"
    ws = Workspace.create(mail_settings(data_dir, smtp_server.port))
    yield ws
    ws.db.engine.dispose()
