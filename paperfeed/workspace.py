"""A workspace is one data directory opened: its database and its indexes.

CLI commands and the web app each open one and hand it to the core modules.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.errors import ConfigError
from paperfeed.index import Indexes

if TYPE_CHECKING:
    from paperfeed.live.arxiv_api import ArxivApi


class Workspace:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.db_url)

    @classmethod
    def create(cls, settings: Settings) -> Workspace:
        """Create the data directory and bring the schema up to date (idempotent)."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        workspace = cls(settings)
        workspace.db.migrate()
        return workspace

    @classmethod
    def open(cls, settings: Settings) -> Workspace:
        """Open an initialised workspace; a clear error if ``paperfeed init`` was never run."""
        workspace = cls(settings)
        sqlite_file = (
            workspace.db.engine.url.database if workspace.db.url.startswith("sqlite") else None
        )
        missing = sqlite_file is not None and not Path(sqlite_file).exists()
        if missing or not workspace.db.is_current():
            raise ConfigError(
                f"no paperfeed database at {settings.data_dir.resolve()} (or it is out of date); "
                "run `paperfeed init` first"
            )
        return workspace

    @cached_property
    def indexes(self) -> Indexes:
        return Indexes(self.settings.index_dir)

    @cached_property
    def arxiv_api(self) -> ArxivApi:
        """One arXiv client per process, so its 3-second spacing holds across requests."""
        from paperfeed.live.arxiv_api import ArxivApi

        return ArxivApi.from_settings(self.settings)
