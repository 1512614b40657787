"""What the web app may remember between requests, and when it must forget it.

Every entry is stored with the *data version* it was computed at and is used only while the
version is unchanged, so a vote, a comment, a moderation action or a new paper invalidates
everything at once; nothing expires by time. Forgetting too much is cheap, serving a stale
page is not.

- On SQLite the version is ``PRAGMA data_version`` read on a connection of its own that never
  writes: it changes whenever any other connection, of this process or another
  (``paperfeed ingest``, a live sync), commits (any commit counts, also a log-in).
- On PostgreSQL it is the ``data_version`` counter that every content-changing transaction
  moves (``paperfeed.db.changes``), read from the database: a commit on any node invalidates
  every node's caches.

The version is read before the value is computed, so a commit during the computation makes
the stored entry stale at once rather than letting it outlive the data it was built from.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from paperfeed.db import Database, changes

T = TypeVar("T")


class DataVersion:
    """A number that changes whenever anyone commits content to the database (None: no
    version to be had, e.g. an in-memory SQLite database; then nothing is cached)."""

    def __init__(self, db: Database) -> None:
        url = db.engine.url
        self._db: Database | None = None
        self._connection: sqlite3.Connection | None = None
        if url.get_backend_name() != "sqlite":
            self._db = db
            return
        path = url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            self._connection = sqlite3.connect(Path(path), check_same_thread=False)
        self._lock = threading.Lock()

    def current(self) -> int | None:
        if self._db is not None:
            with self._db.read_engine.connect() as connection:  # as the pages are read
                return changes.current(connection)
        if self._connection is None:
            return None
        with self._lock:
            return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


class VersionedCache:
    """A bounded LRU map whose entries hold only while the data version is unchanged.

    The version only moves forward, so when it changes every entry is dropped at once: stale
    entries could never be used again, and kept until evicted they would make the memory of a
    busy site (a vote a second) grow to the full ``size`` of pages nobody can be served.
    """

    def __init__(self, version: DataVersion, size: int = 512) -> None:
        self.version = version
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._entries_version: int | None = None  # the data version every entry was made at
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key`` at the current data version, computing it on a miss."""
        version = self.version.current()
        if version is None:
            return compute()
        with self._lock:
            self._forget_older_than(version)
            if version == self._entries_version and key in self._entries:
                self._entries.move_to_end(key)
                # One key is always computed by the same ``compute``: the entry is a T.
                cached: T = self._entries[key]
                return cached
        value = compute()
        with self._lock:
            self._forget_older_than(version)
            if version == self._entries_version:  # else a commit came in the meantime
                self._entries[key] = value
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return value

    def _forget_older_than(self, version: int) -> None:
        # A request that read the version before a commit may come after one that read it
        # after: only a newer version clears.
        if self._entries_version is None or version > self._entries_version:
            self._entries.clear()
            self._entries_version = version

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
