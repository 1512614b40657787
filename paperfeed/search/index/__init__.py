"""The search indexes (lexical + dense) and how they catch up with the database.

Both are caches. ``Indexes.sync`` brings them up to date from the database: it feeds every
paper and vector changed since the last sync to the indexes, found by the data version they
were committed at (``paperfeed.db.changes``), which follows commit order (a clock would not).
``rebuild`` starts them from scratch. A crash anywhere leaves them behind, never ahead: the
next sync repeats the missed work. Embedding is not done here: ``paperfeed.search.catchup``
embeds what is queued, then calls ``sync``.

Several processes may share one index directory (web workers, ``paperfeed worker``, CLI
commands). Writes to the indexes hold an exclusive ``flock`` on ``<index>/.lock``; a reader
(``refresh``, called before each search) takes it shared, without waiting, to pick up what
another process wrote: a new ``state.json`` means new index files. The vector files are
memory-mapped (``index.segments``): reopening them copies nothing, and every process shares
one copy in the page cache.

Damage is repaired, never fatal. Opening verifies each part's files (``index.files``); a part
that is missing, torn or corrupt, that holds another number of documents than the last sync
recorded, or a ``state.json`` that cannot be read, is logged as a warning, emptied and
forgotten, so the next sync rebuilds it from the database. A sync that finds the directory
deleted or replaced under it (by hand, or by another process's repair) reopens it the same
way. A full disk while writing raises ``DiskFullError``: the indexes stay behind, the next
sync after space is freed catches up.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from sqlalchemy import func, select

from paperfeed.db import Database, DiskFullError, Embedding, Paper
from paperfeed.errors import ConflictError
from paperfeed.progress import Progress
from paperfeed.search import embed
from paperfeed.search.backend import IndexCounts, SyncReport
from paperfeed.search.index.files import IndexDamagedError
from paperfeed.search.index.lexical import SCHEMA_VERSION, LexicalDoc, LexicalHit, LexicalIndex
from paperfeed.search.index.segments import POINTER, OldLayoutError
from paperfeed.search.index.vectors import VectorConfig, VectorHit, VectorIndex, as_hits
from paperfeed.search.query import ParsedQuery
from paperfeed.search.trace import UNTRACED, SearchTrace

log = logging.getLogger(__name__)

SYNC_BATCH = 2000  # rows a sync reads from the database at a time
# A sync saves the vectors (and records its progress) every this many rows, so a long one
# (a rebuild) neither holds them all in memory nor loses them all to a crash.
SAVE_EVERY = 200_000

Part = TypeVar("Part", LexicalIndex, VectorIndex)
T = TypeVar("T")
_CURRENT_MODEL = Embedding.model == embed.MODEL_ID


class IndexBusyError(ConflictError):
    """Another process (or thread) is writing the indexes right now."""


class Indexes:
    def __init__(
        self,
        path: Path,
        vector_config: VectorConfig | None = None,
        *,
        sync_batch: int = SYNC_BATCH,
        save_every: int = SAVE_EVERY,
    ) -> None:
        """``vector_config``: how the dense index searches and merges (defaults for use).
        A sync reads ``sync_batch`` rows from the database at a time and saves the vectors
        (recording its progress) every ``save_every`` rows (:data:`SAVE_EVERY`)."""
        self.path = path
        self.sync_batch, self.save_every = sync_batch, save_every
        path.mkdir(parents=True, exist_ok=True)
        self._state_file = path / "state.json"
        self._refresh_lock = threading.Lock()
        self.vector_config = vector_config or VectorConfig()
        with self._locked(exclusive=True, wait=True), _disk_full_as_error():
            self._open()  # may clear a part

    def _open(self) -> None:
        """Open both parts (under the exclusive lock), emptying what is damaged or foreign."""
        path = self.path
        state = self._read_state()
        if state.get("schema") != SCHEMA_VERSION or state.get("model") != embed.MODEL_ID:
            if self._state_file.exists() and not state:
                log.warning(
                    "search indexes: %s is unreadable; rebuilding them from the database",
                    self._state_file,
                )
            # A new index layout or embedding model: start the caches afresh.
            shutil.rmtree(path / "lexical", ignore_errors=True)  # may not even open any more
            shutil.rmtree(path / "vectors", ignore_errors=True)
            state = {"schema": SCHEMA_VERSION, "model": embed.MODEL_ID}
            self._write_state(state)
        self._state = state
        self.lexical_index = self._open_part(
            "lexical", lambda: LexicalIndex(path / "lexical", True)
        )
        self.vector_index = self._open_part(
            "vectors", lambda: VectorIndex(path / "vectors", embed.DIM, self.vector_config)
        )
        # A part that lost or gained documents since the last sync (deleted, torn, or written
        # by a sync killed before it could record them) starts over.
        if self.lexical_index.num_docs != state.get("lexical_docs", 0):
            self._damaged(
                "lexical",
                f"{self.lexical_index.num_docs} documents, the last sync "
                f"recorded {state.get('lexical_docs', 0)}",
            )
            self.lexical_index.clear()
        if len(self.vector_index) != state.get("vectors_count", 0):
            self._damaged(
                "vectors",
                f"{len(self.vector_index)} vectors, the last sync "
                f"recorded {state.get('vectors_count', 0)}",
            )
            self.vector_index.clear()
        self._stamp = self._state_stamp()

    def _open_part(self, name: str, opener: Callable[[], Part]) -> Part:
        try:
            return opener()
        except OldLayoutError as exc:
            log.warning("search index %r: %s; rebuilding it from the database", name, exc)
            self._forget(name)
            shutil.rmtree(self.path / name, ignore_errors=True)
            return opener()
        except IndexDamagedError as exc:
            self._damaged(name, str(exc))
            shutil.rmtree(self.path / name, ignore_errors=True)
            return opener()

    def _damaged(self, name: str, why: str) -> None:
        """Log it and forget the part's progress: the next sync refills it from the database."""
        log.warning("search index %r is damaged (%s); rebuilding it from the database", name, why)
        self._forget(name)

    def _gone_from_disk(self) -> bool:
        """True when the files this process has open were deleted or replaced by a repair:
        ``state.json`` missing, unreadable or foreign, or a part's files gone."""
        state = self._read_state()
        if state.get("schema") != SCHEMA_VERSION or state.get("model") != embed.MODEL_ID:
            return True
        if state.get("lexical_docs") and not (self.path / "lexical" / "meta.json").exists():
            return True
        return bool(state.get("vectors_count")) and not (self.path / "vectors" / POINTER).exists()

    def _locked(self, exclusive: bool, wait: bool) -> contextlib.AbstractContextManager[None]:
        return _flock(self.path, exclusive, wait)

    def _state_stamp(self) -> tuple[int, int] | None:
        """Identifies the state file's version: it is replaced (a new inode) on every write."""
        try:
            stat = self._state_file.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def refresh(self) -> bool:
        """Load what another process's sync wrote since this one last looked (a ``stat`` when
        nothing changed). Never waits: while a sync is writing, keep the current view and
        look again next time. True when something was reloaded."""
        if self._state_stamp() == self._stamp:
            return False
        if not self._refresh_lock.acquire(blocking=False):
            return False  # another thread of this process is refreshing: use what we have
        try:
            with self._locked(exclusive=False, wait=False):
                return self._reload_changed()
        except IndexBusyError:
            return False
        finally:
            self._refresh_lock.release()

    def _reload_changed(self) -> bool:
        """Catch up with ``state.json`` (under the refresh lock and a flock). Reopening the
        vectors maps the segments ``CURRENT`` names: nothing is copied, searches already
        running keep the object (and the mapped files) they started with."""
        stamp, state = self._state_stamp(), self._read_state()
        if state.get("schema") != SCHEMA_VERSION or state.get("model") != embed.MODEL_ID:
            return False  # a layout this process cannot read: left to a restart
        reloaded = False
        lexical_keys = ("lexical_seq", "lexical_docs")
        if any(state.get(k) != self._state.get(k) for k in lexical_keys):
            self.lexical_index.reload()
            self._state.update({k: state.get(k) for k in lexical_keys})
            reloaded = True
        vector_keys = ("vectors_seq", "vectors_count", "vectors_merges")
        if any(state.get(k) != self._state.get(k) for k in vector_keys):
            fresh = self._read_vectors()
            if fresh is None or len(fresh) != state.get("vectors_count", 0):
                return reloaded  # files and state disagree: keep the old view, retry later
            self.vector_index = fresh
            reloaded = True
        self._state, self._stamp = state, stamp
        return reloaded

    def _read_vectors(self) -> VectorIndex | None:
        """Another process's vector files; None when they cannot be read (keep the old view:
        the writer's next open repairs them)."""
        try:
            return VectorIndex(self.path / "vectors", embed.DIM, self.vector_config)
        except IndexDamagedError as exc:
            log.warning("search index 'vectors' unreadable (%s); keeping the loaded one", exc)
            return None

    def _read_state(self) -> dict[str, object]:
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _write_state(self, state: dict[str, object]) -> None:
        tmp = self._state_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self._state_file)
        self._stamp = self._state_stamp()

    def seen(self, name: str) -> int:
        """The newest data version (``change_seq``/``embeddings.seq``) part ``name``
        (``"lexical"`` or ``"vectors"``) holds, as recorded on disk by the last sync or by
        a long sync's last checkpoint (0: none)."""
        return _as_int(self._state.get(f"{name}_seq"))

    def _set_seen(self, name: str, value: int) -> None:
        self._state[f"{name}_seq"] = value
        self._state["lexical_docs"] = self.lexical_index.num_docs
        self._state["vectors_count"] = len(self.vector_index)
        self._write_state(self._state)

    def _forget(self, name: str) -> None:
        self._state.pop(f"{name}_seq", None)
        self._state["lexical_docs" if name == "lexical" else "vectors_count"] = 0
        self._write_state(self._state)

    # ------------------------------------------------------------------------------------
    def sync(self, db: Database, progress: Progress | None = None, wait: bool = True) -> SyncReport:
        """Write the papers and vectors changed since the last sync to both indexes.

        Embeds nothing: ``paperfeed.search.catchup.catch_up`` embeds what is queued first.
        The writes hold the directory's lock: with ``wait=False`` a sync running in another
        process makes this one raise ``IndexBusyError`` (nothing is lost: the database has
        the papers, the next sync indexes them) instead of waiting for it.
        """
        report = SyncReport()
        with self._writing(wait):
            report.lexical = self._write_lexical(db, progress)
            report.vectors = self._write_vectors(db, progress)
        return report

    def sync_lexical(
        self, db: Database, progress: Progress | None = None, wait: bool = True
    ) -> int:
        """``sync``'s lexical half alone: index the papers changed since the last sync.

        ``sync_lexical`` and ``sync_vectors`` in turn do what one ``sync`` does (the
        benchmarks time them apart); each holds the lock itself.
        """
        with self._writing(wait):
            return self._write_lexical(db, progress)

    def sync_vectors(
        self, db: Database, progress: Progress | None = None, wait: bool = True
    ) -> int:
        """``sync``'s dense half alone: index the vectors stored since the last sync (see
        ``sync_lexical``)."""
        with self._writing(wait):
            return self._write_vectors(db, progress)

    @contextlib.contextmanager
    def _writing(self, wait: bool) -> Iterator[None]:
        """Hold the exclusive lock, caught up with what other processes wrote (or reopened
        when the directory was deleted or repaired meanwhile), a full disk as an error."""
        with self._locked(exclusive=True, wait=wait), _disk_full_as_error():
            with self._refresh_lock:
                if self._gone_from_disk():
                    self._open()  # deleted or repaired elsewhere: reopen, rebuild what is lost
                else:
                    self._reload_changed()  # start from what other processes wrote
            yield

    # -- searching (the ``SearchBackend`` interface) --------------------------------------
    def lexical(self, query: ParsedQuery, depth: int, *, title_boost: float) -> list[LexicalHit]:
        return self.lexical_index.search(query, depth, title_boost=title_boost)

    def dense(
        self, vector: np.ndarray, depth: int, query: ParsedQuery, trace: SearchTrace = UNTRACED
    ) -> list[VectorHit]:
        """Nearest papers that also pass the query's filters.

        The passing papers come from ``LexicalIndex.allowed`` (cached per filter); the
        vector index chooses between its graph (oversampled, keeping those that pass) and
        an exact scan of the passing papers by the fraction of the collection they are
        (``VectorConfig.exact_filtered_below``), and keeps a copy of a narrow filter's rows
        under the same ``Allowed`` for its next search.
        """
        vectors = self.vector_index  # one object throughout: a refresh may replace it meanwhile
        if not query.has_filters:
            return vectors.search(vector, depth, trace=trace)
        allowed = self.lexical_index.allowed(query, self.lexical_index.num_docs)
        trace.lap("filters")
        if allowed is None:  # filters that constrain nothing (e.g. a phrase of stopwords)
            return vectors.search(vector, depth, trace=trace)
        trace.count("filters", len(allowed.pks))
        return as_hits(
            *vectors.nearest_filtered(
                vector, depth, allowed.pks, allowed.contains, key=allowed, trace=trace
            )
        )

    def browse(self, query: ParsedQuery, limit: int, offset: int) -> tuple[list[int], int]:
        return self.lexical_index.browse(query, limit, offset)

    def vector(self, pk: int) -> np.ndarray | None:
        return self.vector_index.vector(pk)

    def counts(self) -> IndexCounts:
        return IndexCounts(self.lexical_index.num_docs, len(self.vector_index))

    # -- maintenance -----------------------------------------------------------------------
    def reset(self) -> None:
        """Empty both indexes; the next sync refills them from the database."""
        with self._locked(exclusive=True, wait=True), _disk_full_as_error():
            self.lexical_index.clear()
            self.vector_index.clear()
            self._state = {"schema": SCHEMA_VERSION, "model": embed.MODEL_ID}
            self._write_state(self._state)

    def rebuild(self, db: Database, progress: Progress | None = None) -> SyncReport:
        self.reset()
        return self.sync(db, progress)

    def is_stale(self, db: Database) -> bool:
        """True when the database holds changes the indexes have not seen."""
        with db.session() as session:
            newest_paper = session.scalar(select(func.max(Paper.change_seq))) or 0
            newest_vector = (
                session.scalar(select(func.max(Embedding.seq)).where(_CURRENT_MODEL)) or 0
            )
        return newest_paper > self.seen("lexical") or newest_vector > self.seen("vectors")

    def _write_lexical(self, db: Database, progress: Progress | None) -> int:
        since = self.seen("lexical")
        query = select(Paper).where(Paper.change_seq > since).order_by(Paper.change_seq)
        newest = since
        with db.session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0

            def docs() -> Iterator[LexicalDoc]:  # streamed into one writer and one commit
                nonlocal newest
                rows = session.scalars(query.execution_options(yield_per=self.sync_batch))
                for batch in _chunks(rows, self.sync_batch):
                    for p in batch:
                        yield LexicalDoc(
                            p.pk, p.title, p.abstract, p.authors, p.categories, p.published
                        )
                    newest = batch[-1].change_seq
                    if progress:
                        progress("index text", len(batch), total)

            count = self.lexical_index.upsert(docs()) if total else 0
        if newest > since:
            self._set_seen("lexical", newest)
        return count

    def _write_vectors(self, db: Database, progress: Progress | None) -> int:
        since = self.seen("vectors")
        query = (
            select(Embedding.paper_pk, Embedding.vector, Embedding.seq)
            .where(_CURRENT_MODEL, Embedding.seq > since)
            .order_by(Embedding.seq)
        )
        count = unsaved = 0
        newest = since
        with db.session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.execute(query.execution_options(yield_per=self.sync_batch))
            for batch in _chunks(rows, self.sync_batch):
                pks = np.array([row.paper_pk for row in batch], dtype=np.int64)
                vectors = np.stack([np.frombuffer(row.vector, dtype=np.float32) for row in batch])
                self.vector_index.upsert(pks, vectors)
                newest = batch[-1].seq
                count += len(batch)
                unsaved += len(batch)
                if unsaved >= self.save_every:
                    # Every row before the last batch's last version is in: record that
                    # (rows of that version may follow; the next sync rewrites them).
                    self.vector_index.save()
                    if newest - 1 > self.seen("vectors"):
                        self._set_seen("vectors", newest - 1)
                    unsaved = 0
                if progress:
                    progress("index vectors", len(batch), total)
        if count:
            self.vector_index.save(merge=False)  # searchable now; ``merge`` folds it in later
        if newest > since:
            self._set_seen("vectors", newest)
        return count

    def merge(self) -> bool:
        """Merge the vector deltas into a new main segment when they are due.

        The new segment is built without the write lock, so searches (in every process) and
        syncs go on meanwhile; only the swap takes it, and the deltas saved during the build
        stay in front of the new segment. One merge at a time per directory: while another
        process merges this returns at once. True when a merge was swapped in.
        """
        if not self.vector_index.merge_due:
            return False
        try:
            with (
                _flock(self.path, exclusive=True, wait=False, name=".merge.lock"),
                _disk_full_as_error(),
            ):
                prepared = self.vector_index.prepare_merge()
                if prepared is None:
                    return False
                with self._writing(wait=True):
                    if not self.vector_index.finish_merge(prepared):
                        return False
                    merges = _as_int(self._state.get("vectors_merges")) + 1
                    self._state["vectors_merges"] = merges
                    self._write_state(self._state)  # other processes reopen the vectors
                return True
        except IndexBusyError:
            return False  # another process is merging


@contextlib.contextmanager
def _flock(path: Path, exclusive: bool, wait: bool, name: str = ".lock") -> Iterator[None]:
    """Hold ``<index>/<name>`` (flock: per open file, so threads exclude each other too):
    ``.lock`` for writes, ``.merge.lock`` for a vector merge."""
    path.mkdir(parents=True, exist_ok=True)  # the directory may have been deleted
    fd = os.open(path / name, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(
                "the search indexes are being written by another process; the next sync catches up"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


@dataclass
class OnDisk:
    """The indexes as they are on disk, read without repairing anything (``paperfeed check``).
    A part that cannot be read has ``*_error`` set and no pks."""

    exists: bool
    state: dict[str, object] | None  # None: state.json missing or unreadable
    lexical_pks: np.ndarray | None = None
    lexical_error: str | None = None
    vector_pks: np.ndarray | None = None
    vectors_error: str | None = None
    graph_size: int | None = None  # vectors in the HNSW graph; None: no graph (exact search)

    def seen(self, name: str) -> int:
        """The newest data version part ``name`` holds (0: none)."""
        return _as_int((self.state or {}).get(f"{name}_seq"))


def read_on_disk(path: Path, vector_config: VectorConfig | None = None) -> OnDisk:
    """What the index directory holds, under a shared lock (so no sync writes meanwhile);
    the vectors opened with ``vector_config`` (the one the indexes are used with)."""
    if not path.exists():
        return OnDisk(exists=False, state=None)
    with _flock(path, exclusive=False, wait=True):
        try:
            state = json.loads((path / "state.json").read_text())
        except (OSError, ValueError):
            state = None
        on_disk = OnDisk(exists=True, state=state if isinstance(state, dict) else None)
        if (path / "lexical" / "meta.json").exists():
            try:
                lexical = LexicalIndex(path / "lexical", verify=True)
                on_disk.lexical_pks = np.asarray(lexical.all_pks(), dtype=np.int64)
            except IndexDamagedError as exc:
                on_disk.lexical_error = str(exc)
        else:
            on_disk.lexical_error = f"{path / 'lexical'}: missing"
        try:
            vectors = VectorIndex(path / "vectors", embed.DIM, vector_config, verify=True)
            on_disk.vector_pks, on_disk.graph_size = vectors.keys, vectors.graph_size
        except IndexDamagedError as exc:
            on_disk.vectors_error = str(exc)
    return on_disk


@contextlib.contextmanager
def _disk_full_as_error() -> Iterator[None]:
    """An index write that ran out of space (numpy/usearch: OSError; tantivy: ValueError
    with the OS message) becomes ``DiskFullError``, one clear line for the user."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(_DISK_FULL) from exc
        raise
    except ValueError as exc:
        if "No space left on device" in str(exc):
            raise DiskFullError(_DISK_FULL) from exc
        raise


_DISK_FULL = (
    "the disk holding the search indexes is full; free some space and run the command again "
    "(the database keeps every paper, the indexes catch up then)"
)


def _as_int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
