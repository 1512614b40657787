"""The one database handle: engine, session factory, and migrations to the current schema.

Two faults of the storage are turned into our own errors wherever a statement runs (every
engine use, sessions and migrations alike), so the CLI prints one line and the web answers
with a status instead of a traceback:

- another process holding the SQLite write lock longer than the busy timeout (30 s, or the
  ``timeout`` of a ``sqlite:///...?timeout=SECONDS`` URL): ``DatabaseBusyError``;
- a full disk (``database or disk is full``): ``DiskFullError``.

Nothing committed is lost by either: the failed transaction is rolled back, and commands
that import in checkpointed batches resume where they stopped when run again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from paperfeed.db import changes
from paperfeed.errors import ConfigError, PaperfeedError

_MIGRATIONS = Path(__file__).parent / "migrations"
# How long a writer waits for another one's lock before giving up (SQLite's busy timeout).
# Imports commit a batch of 500 papers in well under a second, so 30 s only runs out when
# something holds the lock on purpose (a long manual transaction, a stuck process).
BUSY_TIMEOUT = 30.0
RETRY_AFTER = 5  # seconds a client is told to wait before trying again after a busy error


class DatabaseBusyError(PaperfeedError):
    """Another process held the database's write lock longer than the busy timeout."""

    retry_after = RETRY_AFTER


class DiskFullError(PaperfeedError):
    """The disk holding the data directory is full: free space, then run the command again."""


class DatabaseDamagedError(PaperfeedError):
    """The database file cannot be read (damaged on disk): restore a backup."""


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE run by ``Session.execute`` matched."""
    # The session types every result as ``Result``; that of an UPDATE or DELETE is a
    # ``CursorResult``, which has the count.
    return cast(CursorResult[Any], result).rowcount


def _sqlite_pragmas(
    busy_timeout: float,
) -> Callable[[DBAPIConnection, ConnectionPoolEntry], None]:
    def apply(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        # Set first: even switching to WAL below waits for a lock held by another process.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        # WAL lets the web server read while an ingest writes; foreign keys are off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return apply


def _storage_fault(context: ExceptionContext) -> None:
    """Raise our error for a locked database, a full disk or a damaged file."""
    error = context.original_exception
    if not isinstance(error, sqlite3.DatabaseError):
        return
    message = str(error)
    if message.startswith(("database is locked", "database table is locked")):
        raise DatabaseBusyError(
            "the database is busy (another process is writing to it); try again in a moment"
        ) from error
    if "database or disk is full" in message:
        raise DiskFullError(
            "the disk holding the database is full; free some space and run the command "
            "again (what was committed is kept)"
        ) from error
    if message.startswith(("database disk image is malformed", "file is not a database")):
        raise DatabaseDamagedError(
            f"the database file is damaged ({message}); `paperfeed check` tells more, "
            "`paperfeed restore BACKUP --force` puts back the latest backup"
        ) from error


def _engine(url: str) -> Engine:
    try:
        return create_engine(url)
    except Exception as exc:  # bad URL or missing driver: the user's configuration
        raise ConfigError(f"cannot use database URL {url!r}: {exc}") from exc


class Database:
    """Owns the engine and hands out sessions. Create one per process.

    With a ``read_url`` (a PostgreSQL read replica), ``reading()`` sessions read from it; the
    replica may lag the primary by a moment, so only reads that can show a slightly older
    state use it (feeds, paper pages, search results), never a read that decides a write.
    """

    def __init__(self, url: str, read_url: str | None = None) -> None:
        self.url = url
        self.engine: Engine = _engine(url)
        self.read_engine: Engine = self.engine
        if read_url:
            if self.engine.dialect.name != "postgresql":
                raise ConfigError("a read replica (PAPERFEED_DATABASE_READ_URL) needs PostgreSQL")
            self.read_engine = _engine(read_url)
        if self.engine.dialect.name == "sqlite":
            # A ``?timeout=SECONDS`` in the URL (the driver's own parameter) sets the busy timeout.
            timeout = self.engine.url.query.get("timeout")
            try:
                busy_timeout = float(timeout) if isinstance(timeout, str) else BUSY_TIMEOUT
            except ValueError:
                raise ConfigError(f"database URL {url!r}: timeout must be seconds") from None
            event.listen(self.engine, "connect", _sqlite_pragmas(busy_timeout))
            event.listen(self.engine, "handle_error", _storage_fault)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reads = sessionmaker(self.read_engine, expire_on_commit=False)
        changes.track(self._sessions)  # the data version, change sequence and embed queue

    @property
    def sqlite_file(self) -> Path | None:
        """The database file when this is SQLite (None for other databases or in memory)."""
        if self.engine.dialect.name != "sqlite" or not self.engine.url.database:
            return None
        return None if self.engine.url.database == ":memory:" else Path(self.engine.url.database)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any exception."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads that may lag a moment: the replica's when there is one, else
        the same as ``session()``. Anything written in it is rolled back."""
        if self.read_engine is self.engine:
            with self.session() as session:
                yield session
            return
        with self._reads() as session:
            try:
                yield session
            finally:
                session.rollback()

    def alembic_config(self) -> Config:
        """Alembic's configuration for this database: its migrations and its URL (tests and
        tools upgrade or downgrade to a given revision with it)."""
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return config

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        config = self.alembic_config()
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as connection:
            if sqlite:
                # Alembic rebuilds SQLite tables (copy, drop, rename); with foreign keys on,
                # dropping ``papers`` would cascade-delete every listing and vector. SQLite's
                # own procedure for table rebuilds turns them off first (outside a transaction).
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
        self.analyze()

    def analyze(self) -> None:
        """Refresh the query planner's statistics (SQLite ``ANALYZE``; ~0.3 s at 100k papers).

        Without them SQLite guesses, and guessed wrong for the feeds (a scan of every paper
        through ``ix_papers_hidden``). Run after migrations and after large ingests. Other
        databases keep their own statistics (PostgreSQL's autovacuum): nothing to do.
        """
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()

    def is_current(self) -> bool:
        """True when the database exists and is at the newest schema revision."""
        head = ScriptDirectory.from_config(self.alembic_config()).get_current_head()
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision() == head
