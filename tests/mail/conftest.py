"""A real SMTP server on loopback (aiosmtpd) and workspaces whose settings point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import _backends
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
    settings = mail_settings(data_dir, smtp_server.port)
    if _backends.backend() == "postgres":  # the same settings, in a database of its own
        settings = settings.model_copy(
            update={"database_url": _backends.settings_for(data_dir).database_url}
        )
    ws = Workspace.create(settings)
    yield ws
    ws.db.engine.dispose()
