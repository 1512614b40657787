"""A workspace is one data directory opened: its database and its indexes.

CLI commands and the web app each open one and hand it to the core modules. The data is
private to the account paperfeed runs as (the database holds password hashes and sessions,
``secret_key`` signs cookies): opening a workspace sets the process umask to ``0o077``, so
whatever it creates is the owner's only, and tightens what an older version left readable —
the data directory to 0700, the SQLite database (with its -wal and -shm files), the secret
and the index files to 0600.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.errors import ConfigError
from paperfeed.search.backend import SearchBackend
from paperfeed.search.index.vectors import VectorConfig

if TYPE_CHECKING:
    from paperfeed.live.arxiv_api import ArxivApi

PRIVATE_UMASK = 0o077  # new files 0600, new directories 0700
_SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


class Workspace:
    def __init__(self, settings: Settings, *, vector_config: VectorConfig | None = None) -> None:
        """``vector_config``: how the embedded dense index searches, merges and is checked
        (tests and benchmarks set it; the defaults are for use)."""
        self.settings = settings
        self.vector_config = vector_config or VectorConfig()
        os.umask(PRIVATE_UMASK)
        self.db = Database(settings.db_url, read_url=settings.database_read_url)
        self._make_private()

    @classmethod
    def create(cls, settings: Settings, *, vector_config: VectorConfig | None = None) -> Workspace:
        """Create the data directory and bring the schema up to date (idempotent)."""
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        workspace = cls(settings, vector_config=vector_config)
        workspace.db.migrate()
        return workspace

    @classmethod
    def open(cls, settings: Settings, *, vector_config: VectorConfig | None = None) -> Workspace:
        """Open an initialised workspace; a clear error if ``paperfeed init`` was never run."""
        workspace = cls(settings, vector_config=vector_config)
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

    def _make_private(self) -> None:
        """Owner-only modes on the data directory, database, secret and indexes that exist."""
        data_dir = self.settings.data_dir
        paths: list[tuple[Path, int]] = [(data_dir, 0o700), (data_dir / "secret_key", 0o600)]
        if self.db.url.startswith("sqlite") and self.db.engine.url.database:
            database = self.db.engine.url.database
            paths += [(Path(database + suffix), 0o600) for suffix in _SQLITE_SIDE_FILES]
        index_dir = self.settings.index_dir
        if index_dir.is_dir():
            paths.append((index_dir, 0o700))
            for root, dirs, files in os.walk(index_dir):
                paths += [(Path(root, d), 0o700) for d in dirs]
                paths += [(Path(root, f), 0o600) for f in files]
        for path, mode in paths:
            try:
                if (path.stat().st_mode & 0o777) != mode:
                    path.chmod(mode)
            except FileNotFoundError:
                continue
            except PermissionError:  # not ours (a shared directory): leave it as it is
                continue

    @cached_property
    def indexes(self) -> SearchBackend:
        """Where search runs: embedded index files, or PostgreSQL's own indexes."""
        return open_backend(self.settings, self.db, self.vector_config)

    @cached_property
    def arxiv_api(self) -> ArxivApi:
        """One arXiv client per process, so its 3-second spacing holds across requests."""
        from paperfeed.live.arxiv_api import ArxivApi

        return ArxivApi.from_settings(self.settings)


def backend_kind(settings: Settings, db: Database) -> Literal["embedded", "postgres"]:
    """PostgreSQL's own indexes on a PostgreSQL database (unless ``search_backend`` says
    ``embedded``), else the embedded index files in ``settings.index_dir``."""
    if settings.search_backend != "auto":
        return settings.search_backend
    return "postgres" if db.engine.dialect.name == "postgresql" else "embedded"


def open_backend(
    settings: Settings, db: Database, vector_config: VectorConfig | None = None
) -> SearchBackend:
    """The backend ``backend_kind`` names, opened (the embedded one with ``vector_config``;
    PostgreSQL's indexes have their own settings). Imported when first used: each pulls in
    its own engine (tantivy and usearch, or pgvector's SQL)."""
    if backend_kind(settings, db) == "postgres":
        from paperfeed.search.postgres import PostgresSearch

        return PostgresSearch(db)
    from paperfeed.search.index import Indexes

    return Indexes(settings.index_dir, vector_config)
