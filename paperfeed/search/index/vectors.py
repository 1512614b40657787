"""Dense vectors: a memory-mapped main segment (exact matrix + HNSW graph) and small deltas.

The layout on disk is ``segments``'s: one immutable main segment, shared by every process
through the page cache, and delta segments a sync appends (the vectors new or changed since
the last merge, float32, scanned exactly). A key in a delta supersedes the main segment's
row for it, which is then skipped (a tombstone, kept as a mask in memory). When the deltas
grow past ``max(merge_min_rows, merge_fraction x main)`` rows they are merged into a new
main segment, named in ``CURRENT``: by ``save`` itself (a bulk sync, which holds the index
lock anyway), or apart from it (``prepare_merge`` builds the new segment while searches and
syncs go on, ``finish_merge`` swaps it in), which is how ``Indexes.merge`` does it after an
incremental sync, so that new papers are searchable before a long merge starts.

A search scores the main segment through its graph (unfiltered, or for a filter passing a
large enough fraction of the collection) or exactly (small collections, narrow filters), and
the deltas exactly, and merges the two. Graph candidates are rescored against the matrix, so
every similarity comes from the same float16 rows whichever path found it.

Collections below ``exact_below`` vectors keep no graph and a float32 matrix: exact search,
as fast as a graph there. Both are caches of the ``embeddings`` table.
"""

from __future__ import annotations

import logging
import math
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from usearch.index import Index as HNSW

from paperfeed.search.index import segments
from paperfeed.search.index.files import IndexDamagedError
from paperfeed.search.index.segments import Pointer, Segment
from paperfeed.search.trace import UNTRACED, SearchTrace

log = logging.getLogger(__name__)

EXACT_BELOW = 20_000  # rows; under this, brute force is as fast as the graph and exact
EXPANSION_SEARCH = 256  # usearch's default (64) gives recall@10 0.88 at 100k; 256: 0.97
# The graph's own copy of the vectors. At 100k (bench/bench_vectors.py) recall@10 against
# exact float32: f16 0.999; i8 0.862 alone, 0.993 asking it for 2 x k and rescoring them
# against the float16 matrix. i8 halves the graph (2.7M x 384: ~1.4 GB instead of ~2.5 GB).
GRAPH_DTYPE = "i8"
# Elements per matrix-vector product. OpenBLAS (0.3.31) runs larger ones (from ~460k) on
# several threads, and waking those took ~8 ms per product on a busy 2-core machine: a
# 12,594 x 384 scan took 8.0 ms in one product, 1.9 ms in blocks of 1,024 rows.
SCORE_BLOCK = 1024 * 384
_MERGE_BLOCK = 65_536  # rows copied (and added to a new graph) at a time by a merge

Contains = Callable[[np.ndarray], np.ndarray]  # pks -> bool mask: which pass a filter


@dataclass(frozen=True, slots=True)
class VectorConfig:
    """How the dense index searches, when it merges and how much of it opening hashes
    (tests and benchmarks set these; ``Workspace(vector_config=...)`` hands one to a
    workspace's indexes and to ``paperfeed check``)."""

    exact_below: int = EXACT_BELOW  # rows: no graph below this
    expansion_search: int = EXPANSION_SEARCH
    graph_dtype: str = GRAPH_DTYPE  # "f16" or "i8"
    # Unfiltered searches ask the graph for this many times k and keep the k best after
    # rescoring against the matrix (more than 1 makes up for a coarser graph, e.g. "i8").
    graph_oversample: float = 2.0
    # Filters passing less than this fraction of the collection are scored exactly; broader
    # ones ask the graph for ``oversample x depth / fraction`` neighbours and keep those
    # passing (an exact scan after all when fewer than ``depth`` pass). The exact scan is
    # also chosen when it is cheaper: when the passing rows are fewer than
    # ``graph_candidate_cost`` times the neighbours the graph would be asked for (one graph
    # candidate cost ~30 us, one exact row 0.3-1 us at 384-d: bench/bench_vectors.py),
    # and when the graph would be asked for more than ``max_graph_candidates``.
    exact_filtered_below: float = 0.02
    oversample: float = 1.5
    graph_candidate_cost: float = 64.0
    max_graph_candidates: int = 4096
    merge_min_rows: int = 20_000
    merge_fraction: float = 0.05
    max_deltas: int = 16  # more delta segments than this are compacted into one
    # A merge builds the graph afresh once this fraction of its rows were removed from it
    # (superseded); until then it removes and adds (usearch keeps removed nodes as tombstones).
    graph_rebuild_fraction: float = 0.2
    subset_entries: int = 64  # filters' rows kept (float32, private to each process) for
    subset_rows: int = 50_000  # ``key=`` searches, of at most this many rows in all (75 MB)
    score_block: int = SCORE_BLOCK  # elements per matrix-vector product of an exact scan
    # Opening hashes segment files smaller than this whole, larger ones only at their ends
    # (``verify=True`` hashes every file whole).
    full_hash_below: int = segments.FULL_HASH_BELOW  # bytes


@dataclass(frozen=True, slots=True)
class VectorHit:
    pk: int
    similarity: float  # cosine, in [-1, 1]


class _View:
    """What one search reads: the segments, the main rows they supersede, the live delta
    rows. Never changed once made (``upsert`` makes a new one), so a search in one thread
    is not disturbed by a sync in another. Keeps the filters' row copies it made."""

    def __init__(self, main: Segment | None, deltas: list[Segment], config: VectorConfig) -> None:
        self.main, self.deltas, self.config = main, deltas, config
        seen = np.zeros(0, dtype=np.int64)
        self.live: list[np.ndarray] = [np.zeros(0, dtype=np.intp)] * len(deltas)
        for i in range(len(deltas) - 1, -1, -1):  # newest first: later rows win
            keys = np.asarray(deltas[i].keys)
            # the last occurrence of each key in this segment, not superseded by a newer one
            _, last = np.unique(keys[::-1], return_index=True)
            rows = np.sort(len(keys) - 1 - last)
            rows = rows[~np.isin(keys[rows], seen)]
            self.live[i] = rows
            seen = np.union1d(seen, keys[rows])
        self.delta_keys = seen  # sorted
        n_main = 0 if main is None else len(main.keys)
        self.dead = np.zeros(n_main, dtype=bool)
        if main is not None and len(seen) and n_main:
            pos = np.clip(np.searchsorted(main.keys, seen), 0, n_main - 1)
            self.dead[pos[np.asarray(main.keys[pos]) == seen]] = True
        self.n_dead = int(self.dead.sum())
        self.count = n_main - self.n_dead + len(seen)
        self.subsets: OrderedDict[Hashable, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.subset_rows = 0
        self.lock = threading.Lock()

    @property
    def graph(self) -> HNSW | None:
        return None if self.main is None else self.main.graph

    def main_rows(self, pks: np.ndarray) -> np.ndarray:
        """Main-segment rows of ``pks`` (sorted; unknown and superseded pks skipped)."""
        if self.main is None or len(self.main.keys) == 0 or len(pks) == 0:
            return np.zeros(0, dtype=np.intp)
        keys = self.main.keys
        pos = np.clip(np.searchsorted(keys, pks), 0, len(keys) - 1)
        rows = np.unique(pos[np.asarray(keys[pos]) == pks])
        live: np.ndarray = rows[~self.dead[rows]]
        return live


_MERGING = "merging-"  # a merge's directory until ``finish_merge`` names it a main segment


@dataclass(frozen=True)
class PreparedMerge:
    """A merged main segment, built from the main segment and deltas it names."""

    directory: Path
    main: str | None
    deltas: tuple[str, ...]


class VectorIndex:
    def __init__(
        self,
        path: Path,
        dim: int,
        config: VectorConfig | None = None,
        *,
        verify: bool = False,
    ) -> None:
        """Open the index in ``path`` (a new one if empty). ``verify`` hashes every file
        (``paperfeed check``); otherwise sizes, headers and small files are checked."""
        self.path = path
        self.dim = dim
        self.config = config or VectorConfig()
        self._verify = verify
        self._lock = threading.Lock()
        self._open()

    def _open(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._pointer: Pointer | None = segments.read_pointer(self.path)
        self._main: Segment | None = None
        self._deltas: list[Segment] = []
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # upserted, not yet saved
        if self._pointer is not None:
            if self._pointer.main is not None:
                self._main = self._segment(self._pointer.main, "main")
            self._deltas = [self._segment(name, "delta") for name in self._pointer.deltas]
        self._view: _View | None = None
        view = self._current()
        if self._pointer is not None and view.count != self._pointer.count:
            raise IndexDamagedError(
                f"{self.path}: {view.count} vectors, {segments.POINTER} says {self._pointer.count}"
            )

    def _segment(self, name: str, kind: str) -> Segment:
        config = self.config
        return segments.open_segment(
            self.path / name,
            self.dim,
            kind,
            self._verify,
            config.expansion_search,
            config.full_hash_below,
        )

    def _current(self) -> _View:
        """The view of the segments and unsaved rows, made anew after an ``upsert``."""
        view = self._view
        if view is None:
            with self._lock:
                if (view := self._view) is None:
                    pending = [Segment("", k, m) for k, m in self._pending]
                    view = self._view = _View(self._main, self._deltas + pending, self.config)
        return view

    def __len__(self) -> int:
        return self._current().count

    @property
    def has_graph(self) -> bool:
        return self._current().graph is not None

    @property
    def keys(self) -> np.ndarray:
        """Every pk held (``paperfeed check`` compares them with the database)."""
        view = self._current()
        parts = [np.asarray(d.keys)[rows] for d, rows in zip(view.deltas, view.live, strict=True)]
        if view.main is not None:
            parts.insert(0, np.asarray(view.main.keys)[~view.dead])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    @property
    def graph(self) -> HNSW | None:
        """The main segment's graph (benchmarks set its ``expansion_search``)."""
        return self._current().graph

    @property
    def graph_size(self) -> int | None:
        graph = self._current().graph
        return None if graph is None else len(graph)

    @property
    def segment_names(self) -> tuple[str | None, tuple[str, ...]]:
        """The main segment's and the deltas' directory names, as ``CURRENT`` has them."""
        return (None, ()) if self._pointer is None else (self._pointer.main, self._pointer.deltas)

    def clear(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._open()

    # -- build ---------------------------------------------------------------------------
    def upsert(self, pks: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace rows: kept in memory (and searched) until ``save`` writes them as a
        delta segment. No copy of what is already held is made."""
        if len(pks) == 0:
            return
        keys = np.array(pks, dtype=np.int64)
        matrix = np.array(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        with self._lock:
            self._pending.append((keys, matrix))
            self._view = None

    def save(self, merge: bool = True) -> None:
        """Write the unsaved rows as a delta segment, merge when the deltas are due (and
        ``merge``; a collection too small for a graph is always rewritten whole: cheap),
        then name the result in ``CURRENT`` (atomically) and delete what it no longer names."""
        if not self._pending and self._pointer is not None:
            return
        pointer = self._pointer or Pointer(None, (), 0, 1)
        number = pointer.next
        main, deltas = self._main, list(self._deltas)
        if self._pending:
            keys = np.concatenate([k for k, _ in self._pending])
            matrix = np.concatenate([m for _, m in self._pending])
            _, last = np.unique(keys[::-1], return_index=True)  # a key twice: the last wins
            rows = np.sort(len(keys) - 1 - last)
            name = f"delta-{number:06d}"
            number += 1
            segments.write_delta(self.path, name, keys[rows], matrix[rows])
            deltas.append(self._segment(name, "delta"))
        view = _View(main, deltas, self.config)
        config = self.config
        if deltas and (
            main is None
            or main.graph is None  # small collections: one segment, rewritten (cheap)
            or (merge and self._due(view))
        ):
            main = self._merge(view, f"main-{number:06d}")
            number += 1
            deltas = []
        elif len(deltas) > config.max_deltas:
            deltas = [self._compact(view, f"delta-{number:06d}")]
            number += 1
        pointer = Pointer(
            None if main is None else main.name,
            tuple(d.name for d in deltas),
            view.count,
            number,
        )
        segments.write_pointer(self.path, pointer)
        segments.remove_unnamed(self.path, pointer)
        with self._lock:
            self._pointer, self._main, self._deltas = pointer, main, deltas
            self._pending = []
            self._view = None

    def _due(self, view: _View) -> bool:
        """The deltas hold more than ``max(merge_min_rows, merge_fraction x main)`` rows."""
        main_rows = 0 if view.main is None else len(view.main.keys) - view.n_dead
        delta_rows = view.count - main_rows
        config = self.config
        return delta_rows > max(config.merge_min_rows, config.merge_fraction * main_rows)

    @property
    def merge_due(self) -> bool:
        """Saved deltas wait to be merged into the main segment (``prepare_merge``)."""
        view = self._current()
        return not self._pending and bool(view.deltas) and self._due(view)

    def prepare_merge(self) -> PreparedMerge | None:
        """Build the merge of the saved segments into a directory ``CURRENT`` does not name
        (so no save deletes it), without changing what searches read; None when no merge is
        due. ``finish_merge`` swaps it in. One merge at a time per index (the caller's
        lock): a crashed one's directory is deleted by the next."""
        view = self._current()
        if self._pointer is None or self._pending or not view.deltas or not self._due(view):
            return None
        for stale in self.path.glob(f"{_MERGING}*"):
            shutil.rmtree(stale, ignore_errors=True)
        name = f"{_MERGING}{self._pointer.next:06d}"
        self._merge(view, name)
        return PreparedMerge(self.path / name, self._pointer.main, self._pointer.deltas)

    def finish_merge(self, prepared: PreparedMerge) -> bool:
        """Swap a prepared merge in (the caller holds the index's write lock): the new main
        segment, and the deltas saved since it was prepared, which supersede its rows. False
        (and the merge discarded) when the main segment changed meanwhile."""
        pointer = segments.read_pointer(self.path)
        if pointer is None or pointer.main != prepared.main:
            shutil.rmtree(prepared.directory, ignore_errors=True)
            return False
        name = f"main-{pointer.next:06d}"
        prepared.directory.rename(self.path / name)
        deltas = tuple(d for d in pointer.deltas if d not in prepared.deltas)
        view = _View(
            self._segment(name, "main"), [self._segment(d, "delta") for d in deltas], self.config
        )
        if view.count != pointer.count:  # cannot happen: every saved row is in one of them
            shutil.rmtree(self.path / name, ignore_errors=True)
            raise IndexDamagedError(
                f"{self.path}: a merge holds {view.count} vectors, {segments.POINTER} "
                f"{pointer.count}"
            )
        merged = Pointer(name, deltas, view.count, pointer.next + 1)
        segments.write_pointer(self.path, merged)
        segments.remove_unnamed(self.path, merged)
        self._open()
        return True

    def _compact(self, view: _View, name: str) -> Segment:
        keys = np.concatenate(
            [np.asarray(d.keys)[rows] for d, rows in zip(view.deltas, view.live, strict=True)]
        )
        matrix = np.concatenate(
            [np.asarray(d.matrix)[rows] for d, rows in zip(view.deltas, view.live, strict=True)]
        )
        segments.write_delta(self.path, name, keys, matrix)
        return self._segment(name, "delta")

    def _merge(self, view: _View, name: str) -> Segment:
        """A new main segment of every live row, sorted by key, with a graph when large:
        the old graph loaded, superseded keys removed and the deltas added (or built afresh
        when the old segment had none)."""
        config = self.config
        sources: list[tuple[np.ndarray, np.ndarray]] = []  # (matrix, rows) per part
        key_parts: list[np.ndarray] = []
        old = view.main
        if old is not None:
            rows = np.flatnonzero(~view.dead)
            sources.append((old.matrix, rows))
            key_parts.append(np.asarray(old.keys)[rows])
        for delta, rows in zip(view.deltas, view.live, strict=True):
            sources.append((delta.matrix, rows))
            key_parts.append(np.asarray(delta.keys)[rows])
        all_keys = np.concatenate(key_parts) if key_parts else np.zeros(0, dtype=np.int64)
        order = np.argsort(all_keys, kind="stable")
        count = len(order)
        large = count >= config.exact_below
        dtype = np.float16 if large else np.float32
        sorted_keys = all_keys[order]
        directory, out = segments.start_main(self.path, name, sorted_keys, self.dim, dtype)
        offsets = np.cumsum([0] + [len(rows) for _, rows in sources])
        for start in range(0, count, _MERGE_BLOCK):
            out[start : start + _MERGE_BLOCK] = _gather(
                sources, offsets, order[start : start + _MERGE_BLOCK]
            )
        out.flush()
        graph, removed = None, 0
        if large:
            graph, removed = self._merged_graph(view, old, sorted_keys, out)
        segments.finish_main(directory, count, self.dim, graph, removed)
        del out
        return self._segment(name, "main")

    def _merged_graph(
        self, view: _View, old: Segment | None, keys: np.ndarray, matrix: np.ndarray
    ) -> tuple[HNSW, int]:
        """The new segment's graph, and how many rows it had removed since built afresh."""
        config = self.config
        removed = 0 if old is None else old.removed + view.n_dead
        if (
            old is not None
            and old.graph is not None
            and removed <= config.graph_rebuild_fraction * len(keys)
        ):
            graph = HNSW.restore(
                str(self.path / old.name / "hnsw.usearch"),
                expansion_search=config.expansion_search,
            )
            if graph is not None:
                if view.n_dead:
                    graph.remove(np.asarray(old.keys)[view.dead])
                for delta, rows in zip(view.deltas, view.live, strict=True):
                    if len(rows):
                        graph.add(
                            np.asarray(delta.keys)[rows],
                            np.asarray(delta.matrix[rows], dtype=np.float32),
                        )
                return graph, removed
        graph = HNSW(
            ndim=self.dim,
            metric="cos",
            dtype=config.graph_dtype,
            multi=False,
            expansion_search=config.expansion_search,
        )
        for start in range(0, len(matrix), _MERGE_BLOCK):
            block = np.asarray(matrix[start : start + _MERGE_BLOCK], dtype=np.float32)
            graph.add(keys[start : start + _MERGE_BLOCK], block)
        return graph, 0

    # -- query ---------------------------------------------------------------------------
    def vector(self, pk: int) -> np.ndarray | None:
        view = self._current()
        for delta, rows in zip(reversed(view.deltas), reversed(view.live), strict=True):
            found = rows[np.asarray(delta.keys)[rows] == pk]
            if len(found):
                return np.asarray(delta.matrix[found[0]], dtype=np.float32)
        main_rows = view.main_rows(np.array([pk], dtype=np.int64))
        if len(main_rows) and view.main is not None:
            return np.asarray(view.main.matrix[main_rows[0]], dtype=np.float32)
        return None

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: list[int] | np.ndarray | None = None,
        key: Hashable | None = None,
        trace: SearchTrace = UNTRACED,
    ) -> list[VectorHit]:
        """Top-k by cosine; ``allowed`` restricts (exactly) to those pks.

        ``key`` names ``allowed`` (a key must always come with the same pks): its rows are
        then copied out of the matrix once and kept, for the next search with that key.
        When the graph is asked, ``trace`` counts the neighbours asked for as ``graph``.
        """
        return as_hits(*self.nearest(query, k, allowed, key, trace))

    def nearest(
        self,
        query: np.ndarray,
        k: int,
        allowed: list[int] | np.ndarray | None = None,
        key: Hashable | None = None,
        trace: SearchTrace = UNTRACED,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``search`` as arrays: pks (int64) and similarities (float64), best first. Callers
        that filter or cut the list further need not build a ``VectorHit`` per candidate."""
        view = self._current()
        query = np.asarray(query, dtype=np.float32)
        if k <= 0 or view.count == 0:
            return _empty()
        if allowed is None:
            if view.graph is not None:
                wanted = math.ceil(k * self.config.graph_oversample) + _extra(view, k)
                main = self._graph(view, query, wanted, trace)
            else:
                main = _exact_main(view, query, k, None)
            return _best(k, main, _exact_deltas(view, query, k, None))
        pks = np.unique(np.asarray(allowed, dtype=np.int64))
        return self._exact_filtered(view, query, k, pks, _membership(pks), key)

    def nearest_filtered(
        self,
        query: np.ndarray,
        k: int,
        pks: np.ndarray,
        contains: Contains,
        key: Hashable | None = None,
        trace: SearchTrace = UNTRACED,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k among ``pks`` (``contains`` tells them apart), the path chosen by the
        filter's selectivity: the fraction of the collection it passes (``VectorConfig``).
        Exact below ``exact_filtered_below``; above, the graph's oversampled neighbours,
        and an exact scan after all if fewer than ``k`` of them pass. ``trace`` counts the
        neighbours asked of the graph as ``graph`` (nothing when it was not asked)."""
        view = self._current()
        query = np.asarray(query, dtype=np.float32)
        if k <= 0 or view.count == 0:
            return _empty()
        config = self.config
        selectivity = min(1.0, len(pks) / view.count)
        if (
            view.graph is not None
            and len(pks) >= k
            and selectivity >= config.exact_filtered_below
            and (wanted := math.ceil(k * config.oversample / selectivity) + _extra(view, k))
            <= config.max_graph_candidates
            and wanted * config.graph_candidate_cost <= len(pks)
        ):
            keys, sims = self._graph(view, query, wanted, trace)
            passing = contains(keys)
            if int(passing.sum()) >= k:
                return _best(
                    k, (keys[passing], sims[passing]), _exact_deltas(view, query, k, contains)
                )
        return self._exact_filtered(view, query, k, np.asarray(pks, dtype=np.int64), contains, key)

    def _graph(
        self, view: _View, query: np.ndarray, count: int, trace: SearchTrace
    ) -> tuple[np.ndarray, np.ndarray]:
        """The graph's ``count`` nearest main rows, superseded ones dropped, rescored against
        the matrix (the same similarities as an exact scan), best first."""
        trace.count("graph", count)
        main = view.main
        assert main is not None and main.graph is not None
        matches = main.graph.search(query, count, threads=1)
        rows = view.main_rows(np.asarray(matches.keys, dtype=np.int64))
        block = view.config.score_block
        return _top(
            _scores(main.matrix[rows], query, block), np.asarray(main.keys[rows]), len(rows)
        )

    def _exact_filtered(
        self,
        view: _View,
        query: np.ndarray,
        k: int,
        pks: np.ndarray,
        contains: Contains,
        key: Hashable | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        subset = None if key is None else _cached_subset(view, key)
        block = view.config.score_block
        if subset is not None:
            main = _top(_scores(subset[1], query, block), subset[0], k)
        else:
            rows = view.main_rows(pks)
            main_size = 0 if view.main is None else len(view.main.keys)
            if (
                key is not None
                and len(rows) * 2 <= main_size
                and len(rows) <= self.config.subset_rows
            ):
                keys, matrix = _keep_subset(view, key, rows)
                main = _top(_scores(matrix, query, block), keys, k)
            else:
                main = _exact_main(view, query, k, rows)
        return _best(k, main, _exact_deltas(view, query, k, contains))

    def exact_search(self, query: np.ndarray, k: int) -> list[VectorHit]:
        """Brute force over every row: the baseline the benchmarks compare the graph with."""
        view = self._current()
        query = np.asarray(query, dtype=np.float32)
        if k <= 0 or view.count == 0:
            return []
        return as_hits(
            *_best(k, _exact_main(view, query, k, None), _exact_deltas(view, query, k, None))
        )


# -- scoring --------------------------------------------------------------------------------
def _extra(view: _View, k: int) -> int:
    """Graph neighbours asked for beyond ``k``, for the superseded rows among them."""
    if view.n_dead == 0 or view.main is None:
        return 0
    return math.ceil(4 * k * view.n_dead / len(view.main.keys)) + 8


def _exact_main(
    view: _View, query: np.ndarray, k: int, rows: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    main, block = view.main, view.config.score_block
    if main is None or len(main.keys) == 0:
        return _empty()
    if rows is None or len(rows) * 4 >= len(main.keys):
        # Scoring every row beats gathering a large subset out of the matrix first.
        scores = _scores(main.matrix, query, block)
        if rows is None:
            scores[view.dead] = -np.inf
            keep = min(k, len(main.keys) - view.n_dead)
            return _top(scores, np.asarray(main.keys), keep)
        return _top(scores[rows], np.asarray(main.keys[rows]), k)
    return _top(_scores(main.matrix[rows], query, block), np.asarray(main.keys[rows]), k)


def _exact_deltas(
    view: _View, query: np.ndarray, k: int, contains: Contains | None
) -> tuple[np.ndarray, np.ndarray]:
    parts = []
    for delta, rows in zip(view.deltas, view.live, strict=True):
        if contains is not None and len(rows):
            rows = rows[contains(np.asarray(delta.keys[rows]))]
        if len(rows):
            scores = _scores(delta.matrix[rows], query, view.config.score_block)
            parts.append(_top(scores, np.asarray(delta.keys[rows]), k))
    return _best(k, *parts) if parts else _empty()


def _membership(pks: np.ndarray) -> Contains:
    """``contains`` for a sorted array of pks."""

    def contains(keys: np.ndarray) -> np.ndarray:
        if len(pks) == 0:
            return np.zeros(len(keys), dtype=bool)
        pos = np.clip(np.searchsorted(pks, keys), 0, len(pks) - 1)
        found: np.ndarray = pks[pos] == keys
        return found

    return contains


def _cached_subset(view: _View, key: Hashable) -> tuple[np.ndarray, np.ndarray] | None:
    with view.lock:
        if (entry := view.subsets.get(key)) is not None:
            view.subsets.move_to_end(key)
        return entry


def _keep_subset(view: _View, key: Hashable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copy the keys and matrix rows (as float32) of ``rows`` and keep them under ``key``,
    evicting the least recently used beyond the config's bounds."""
    assert view.main is not None
    entry = np.asarray(view.main.keys[rows]), np.asarray(view.main.matrix[rows], dtype=np.float32)
    config = view.config
    with view.lock:
        if key not in view.subsets:
            view.subsets[key] = entry
            view.subset_rows += len(rows)
            while (
                len(view.subsets) > config.subset_entries or view.subset_rows > config.subset_rows
            ):
                _, (evicted, _) = view.subsets.popitem(last=False)
                view.subset_rows -= len(evicted)
    return entry


def _gather(
    sources: list[tuple[np.ndarray, np.ndarray]], offsets: np.ndarray, index: np.ndarray
) -> np.ndarray:
    """Rows ``index`` of the concatenation of ``matrix[rows]`` over ``sources``, float32."""
    dim = sources[0][0].shape[1]
    out = np.empty((len(index), dim), dtype=np.float32)
    part = np.searchsorted(offsets, index, side="right") - 1
    for p, (matrix, rows) in enumerate(sources):
        mine = np.flatnonzero(part == p)
        if len(mine):
            picked = rows[index[mine] - offsets[p]]
            order = np.argsort(picked)  # read the mapped file front to back
            out[mine[order]] = matrix[picked[order]]
    return out


def _scores(matrix: np.ndarray, query: np.ndarray, score_block: int) -> np.ndarray:
    """``matrix @ query`` (float32) in blocks of rows small enough for OpenBLAS to keep each
    product on this thread (``score_block`` elements); float16 rows are widened a block at
    a time."""
    block = max(1, score_block // max(1, matrix.shape[1]))
    if len(matrix) <= block:
        scores: np.ndarray = np.asarray(matrix, dtype=np.float32) @ query
        return scores
    out = np.empty(len(matrix), dtype=np.float32)
    for start in range(0, len(matrix), block):
        rows = np.asarray(matrix[start : start + block], dtype=np.float32)
        np.matmul(rows, query, out=out[start : start + block])
    return out


def _top(scores: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best scores and their keys, best first (float32 scores made float64)."""
    k = min(k, len(scores))
    if k <= 0:
        return _empty()
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return keys[top].astype(np.int64), scores[top].astype(np.float64)


def _best(k: int, *parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of several best-first lists (of disjoint keys)."""
    parts = tuple(p for p in parts if len(p[0]))
    if not parts:
        return _empty()
    if len(parts) == 1:
        keys, sims = parts[0]
        return keys[:k], sims[:k]
    keys = np.concatenate([p[0] for p in parts])
    sims = np.concatenate([p[1] for p in parts])
    order = np.argsort(-sims, kind="stable")[:k]
    return keys[order], sims[order]


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)


def as_hits(keys: np.ndarray, similarities: np.ndarray) -> list[VectorHit]:
    """``nearest``'s arrays as hits."""
    return [
        VectorHit(pk, similarity)
        for pk, similarity in zip(keys.tolist(), similarities.tolist(), strict=True)
    ]
