"""What the web app may remember between requests, and when it must forget it.

Every entry is stored with the *data version* it was computed at and is used only while the
version is unchanged. The version is SQLite's ``PRAGMA data_version`` read on a connection of
its own that never writes: it changes whenever any other connection, of this process or
another (``paperfeed ingest``, a live sync), commits to the database. So a vote, a comment, a
moderation action or a new paper invalidates everything at once; nothing expires by time.
Any commit counts (also a log-in or a subscription change): forgetting too much is cheap,
serving a stale page is not. On other databases there is no version and nothing is cached.

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

from paperfeed.db import Database

T = TypeVar("T")


class DataVersion:
    """A number that changes whenever anyone commits to the database (None: not SQLite)."""

    def __init__(self, db: Database) -> None:
        url = db.engine.url
        path = url.database if url.get_backend_name() == "sqlite" else None
        self._connection: sqlite3.Connection | None = None
        if path and path != ":memory:" and not path.startswith("file:"):
            self._connection = sqlite3.connect(Path(path), check_same_thread=False)
        self._lock = threading.Lock()

    def current(self) -> int | None:
        if self._connection is None:
            return None
        with self._lock:
            return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


class VersionedCache:
    """A bounded LRU map whose entries hold only while the data version is unchanged."""

    def __init__(self, version: DataVersion, size: int = 512) -> None:
        self.version = version
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key`` at the current data version, computing it on a miss."""
        version = self.version.current()
        if version is None:
            return compute()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version:
                self._entries.move_to_end(key)
                return entry[1]
        value = compute()
        with self._lock:
            self._entries[key] = (version, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
