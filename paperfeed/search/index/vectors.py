"""Dense vectors: an exact float32 matrix plus a usearch HNSW graph, persisted in a directory.

The matrix answers filtered queries exactly (only the allowed rows are scored) and small
collections, where brute force is as fast as a graph; the HNSW graph answers unfiltered
queries on large collections. Both are caches of the ``embeddings`` table.

``save`` records the SHA-256 of each file in ``manifest.json``, written last; loading checks
them first and raises ``IndexDamagedError`` for anything missing, torn or altered (usearch
can crash the process on a corrupt graph file). Files from before manifests existed are
loaded unchecked, as they were; the next save adds one.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from usearch.index import Index as HNSW

from paperfeed.search.index.files import IndexDamagedError, sha256_of

EXACT_BELOW = 20_000  # rows; under this, brute force is as fast as the graph and exact
EXPANSION_SEARCH = 256  # usearch's default (64) gives recall@10 0.88 at 100k; 256: 0.97
SUBSET_ENTRIES = 64  # row subsets kept for ``search(..., key=)``, of at most len() rows in all
# Elements per matrix-vector product. OpenBLAS (0.3.31) runs larger ones (from ~460k) on
# several threads, and waking those took ~8 ms per product on a busy 2-core machine: a
# 12,594 x 384 scan took 8.0 ms in one product, 1.9 ms in blocks of 1,024 rows.
SCORE_BLOCK = 1024 * 384


@dataclass(frozen=True, slots=True)
class VectorHit:
    pk: int
    similarity: float  # cosine, in [-1, 1]


class VectorIndex:
    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._open()

    def _open(self) -> None:
        """Load the files in ``self.path``, with the state that belongs to one opening."""
        dim = self.dim
        self.path.mkdir(parents=True, exist_ok=True)
        self._keys: np.ndarray = np.zeros(0, dtype=np.int64)
        self._matrix: np.ndarray = np.zeros((0, dim), dtype=np.float32)
        self._row: dict[int, int] = {}
        self._hnsw: HNSW | None = None
        self._order: np.ndarray | None = None  # argsort of keys, for pk -> row lookups
        # Keys and matrix rows of recurring ``allowed`` sets (a filter's papers), copied out
        # once: scoring them again costs their size, not the whole matrix's. LRU; dropped
        # whenever the matrix changes (and with this object when another process's sync is
        # loaded: ``Indexes.refresh`` makes a new one).
        self._subsets: OrderedDict[Hashable, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._subset_rows = 0
        self._subset_lock = threading.Lock()
        self._load()

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def has_graph(self) -> bool:
        return self._hnsw is not None

    # -- persistence ---------------------------------------------------------------------
    @property
    def _files(self) -> tuple[Path, Path, Path]:
        return self.path / "keys.npy", self.path / "vectors.npy", self.path / "hnsw.usearch"

    @property
    def _manifest_file(self) -> Path:
        return self.path / "manifest.json"

    def _load(self) -> None:
        """Read the files, verified first; ``IndexDamagedError`` when they cannot be trusted."""
        keys_file, matrix_file, hnsw_file = self._files
        manifest = self._read_manifest()
        if manifest is None and not (keys_file.exists() or matrix_file.exists()):
            return  # a new index
        if manifest is not None:
            for name, digest in manifest["files"].items():
                file = self.path / name
                if not file.exists():
                    raise IndexDamagedError(f"{file}: missing")
                if sha256_of(file) != digest:
                    raise IndexDamagedError(f"{file}: contents do not match the manifest")
        try:
            keys = np.load(keys_file, allow_pickle=False)
            matrix = np.load(matrix_file, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise IndexDamagedError(f"{self.path}: vector files unreadable ({exc})") from None
        if (
            keys.ndim != 1
            or keys.dtype != np.int64
            or matrix.dtype != np.float32
            or matrix.shape != (len(keys), self.dim)
        ):
            raise IndexDamagedError(
                f"{self.path}: {keys.shape} keys and {matrix.shape} vectors do not fit together"
            )
        if manifest is not None and manifest.get("count") != len(keys):
            raise IndexDamagedError(f"{self.path}: {len(keys)} keys, the manifest says otherwise")
        graph = None
        if hnsw_file.exists():
            try:
                # (restore passes expansion_search on to the Index it makes; load keeps it)
                graph = HNSW.restore(str(hnsw_file), expansion_search=EXPANSION_SEARCH)
            except (ValueError, RuntimeError) as exc:
                raise IndexDamagedError(f"{hnsw_file}: unreadable ({exc})") from None
            if graph is None or len(graph) != len(keys) or graph.ndim != self.dim:
                raise IndexDamagedError(f"{hnsw_file}: does not match the vectors beside it")
        self._keys, self._matrix, self._hnsw = keys, matrix, graph
        self._row = {int(k): i for i, k in enumerate(keys)}

    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            manifest = json.loads(self._manifest_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise IndexDamagedError(f"{self._manifest_file}: unreadable ({exc})") from None
        if not isinstance(manifest, dict):
            raise IndexDamagedError(f"{self._manifest_file}: not a vector manifest")
        files = manifest.get("files")
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise IndexDamagedError(f"{self._manifest_file}: not a vector manifest")
        return manifest

    def save(self) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file, then
        the manifest of their digests. A crash between two renames leaves files that do not
        match the manifest: the next load calls them damaged and they are rebuilt."""
        keys_file, matrix_file, hnsw_file = self._files
        digests: dict[str, str] = {}
        tmp_files = (
            keys_file.with_suffix(".tmp.npy"),
            matrix_file.with_suffix(".tmp.npy"),
            hnsw_file.with_suffix(".tmp"),
        )
        try:
            for target, tmp, array in zip(
                (keys_file, matrix_file), tmp_files, (self._keys, self._matrix), strict=False
            ):
                np.save(tmp, array)
                digests[target.name] = sha256_of(tmp)
                tmp.replace(target)
            if self._hnsw is not None:
                self._hnsw.save(str(tmp_files[2]))
                digests[hnsw_file.name] = sha256_of(tmp_files[2])
                tmp_files[2].replace(hnsw_file)
            else:
                hnsw_file.unlink(missing_ok=True)
            manifest = {"count": len(self._keys), "dim": self.dim, "files": digests}
            tmp = self._manifest_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(manifest))
            tmp.replace(self._manifest_file)
        finally:
            for tmp in tmp_files:  # left only by a failed write (a full disk): give it back
                tmp.unlink(missing_ok=True)

    @property
    def keys(self) -> np.ndarray:
        """Every pk held, in row order (``paperfeed check`` compares them with the database)."""
        return self._keys

    @property
    def graph_size(self) -> int | None:
        return None if self._hnsw is None else len(self._hnsw)

    def clear(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._open()

    # -- build ---------------------------------------------------------------------------
    def upsert(self, pks: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace rows. Call ``save`` afterwards to persist."""
        if len(pks) == 0:
            return
        pks = np.asarray(pks, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        existing = np.array([k in self._row for k in pks.tolist()], dtype=bool)
        for pk, vector in zip(pks[existing], vectors[existing], strict=True):
            self._matrix[self._row[int(pk)]] = vector
        new_keys, new_vectors = pks[~existing], vectors[~existing]
        start = len(self._keys)
        self._keys = np.concatenate([self._keys, new_keys])
        self._matrix = np.concatenate([self._matrix, new_vectors])
        self._row.update({int(k): start + i for i, k in enumerate(new_keys)})
        self._order = None
        with self._subset_lock:
            self._subsets.clear()
            self._subset_rows = 0
        self._update_graph(pks[existing], vectors[existing], new_keys, new_vectors)

    def _update_graph(
        self,
        changed: np.ndarray,
        changed_vecs: np.ndarray,
        added: np.ndarray,
        added_vecs: np.ndarray,
    ) -> None:
        if len(self._keys) < EXACT_BELOW:
            self._hnsw = None  # small: exact search only
            return
        if self._hnsw is None:  # crossed the threshold: build the graph from everything
            self._hnsw = HNSW(
                ndim=self.dim,
                metric="cos",
                dtype="f16",
                multi=False,
                expansion_search=EXPANSION_SEARCH,
            )
            self._hnsw.add(self._keys, self._matrix)
            return
        if len(changed):
            self._hnsw.remove(changed)
            self._hnsw.add(changed, changed_vecs)
        if len(added):
            self._hnsw.add(added, added_vecs)

    # -- query ---------------------------------------------------------------------------
    def vector(self, pk: int) -> np.ndarray | None:
        row = self._row.get(pk)
        return None if row is None else self._matrix[row]

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: list[int] | np.ndarray | None = None,
        key: Hashable | None = None,
    ) -> list[VectorHit]:
        """Top-k by cosine; ``allowed`` restricts (exactly) to those pks.

        ``key`` names ``allowed`` (a key must always come with the same pks): its rows are
        then copied out of the matrix once and kept, for the next search with that key.
        """
        return as_hits(*self.nearest(query, k, allowed, key))

    def nearest(
        self,
        query: np.ndarray,
        k: int,
        allowed: list[int] | np.ndarray | None = None,
        key: Hashable | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``search`` as arrays: pks (int64) and similarities (float64), best first. Callers
        that filter or cut the list further need not build a ``VectorHit`` per candidate."""
        if k <= 0 or len(self._keys) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        if allowed is None:
            return self._graph(query, k) if self._hnsw is not None else self._exact(query, k, None)
        subset = self._cached_subset(key) if key is not None else None
        if subset is None:
            rows = self._rows_of(np.asarray(allowed, dtype=np.int64))
            # A set above half the matrix is not copied: scoring every row costs little more.
            if key is None or len(rows) * 2 > len(self._keys):
                return self._exact(query, k, rows)
            subset = self._keep_subset(key, rows)
        keys, matrix = subset
        return _top(_scores(matrix, query.astype(np.float32)), keys, k)

    def _graph(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self._hnsw is not None
        matches = self._hnsw.search(query, k, threads=1)
        # float64 before subtracting: the same values as ``1.0 - float(distance)``.
        return matches.keys.astype(np.int64), 1.0 - matches.distances.astype(np.float64)

    def _cached_subset(self, key: Hashable) -> tuple[np.ndarray, np.ndarray] | None:
        with self._subset_lock:
            if (entry := self._subsets.get(key)) is not None:
                self._subsets.move_to_end(key)
            return entry

    def _keep_subset(self, key: Hashable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Copy the keys and matrix rows of ``rows`` (in their order: the same copy the exact
        scan makes) and keep them under ``key``, evicting the least recently used."""
        entry = self._keys[rows], self._matrix[rows]
        with self._subset_lock:
            if key not in self._subsets:
                self._subsets[key] = entry
                self._subset_rows += len(rows)
                while len(self._subsets) > SUBSET_ENTRIES or self._subset_rows > len(self._keys):
                    _, (evicted, _) = self._subsets.popitem(last=False)
                    self._subset_rows -= len(evicted)
        return entry

    def _rows_of(self, pks: np.ndarray) -> np.ndarray:
        """Matrix rows of the given pks (unknown pks are skipped), without a Python loop."""
        if self._order is None:
            self._order = np.argsort(self._keys, kind="stable")
        sorted_keys = self._keys[self._order]
        positions = np.clip(np.searchsorted(sorted_keys, pks), 0, len(sorted_keys) - 1)
        rows: np.ndarray = self._order[positions[sorted_keys[positions] == pks]]
        return rows

    def exact_search(self, query: np.ndarray, k: int) -> list[VectorHit]:
        """Brute force over every row: the baseline the benchmarks compare the graph with."""
        return as_hits(*self._exact(query, k, None))

    def _exact(
        self, query: np.ndarray, k: int, rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        query = query.astype(np.float32)
        if rows is None or len(rows) * 4 >= len(self._keys):
            # Scoring every row beats copying a large subset out of the matrix first.
            scores = _scores(self._matrix, query)
            if rows is None:
                return _top(scores, self._keys, k)
            return _top(scores[rows], self._keys[rows], k)
        return _top(_scores(self._matrix[rows], query), self._keys[rows], k)


def _scores(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``matrix @ query`` (float32) in blocks of rows small enough for OpenBLAS to keep each
    product on this thread (``SCORE_BLOCK``): the same dot products, no thread wake-ups."""
    block = max(1, SCORE_BLOCK // max(1, matrix.shape[1]))
    if len(matrix) <= block:
        scores: np.ndarray = matrix @ query
        return scores
    out = np.empty(len(matrix), dtype=np.float32)
    for start in range(0, len(matrix), block):
        np.matmul(matrix[start : start + block], query, out=out[start : start + block])
    return out


def _top(scores: np.ndarray, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best scores and their keys, best first (float32 scores made float64)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    return keys[top].astype(np.int64), scores[top].astype(np.float64)


def as_hits(keys: np.ndarray, similarities: np.ndarray) -> list[VectorHit]:
    """``nearest``'s arrays as hits."""
    return [
        VectorHit(pk, similarity)
        for pk, similarity in zip(keys.tolist(), similarities.tolist(), strict=True)
    ]
