"""The dense index's files: immutable segments in a directory, named by a pointer file.

``<vectors>/CURRENT`` (JSON, replaced atomically) names the main segment and the delta
segments that make up the index now. The main segment (``main-NNNNNN/``) holds every vector
as of its merge, sorted by key: ``keys.npy`` (int64), ``vectors.npy`` (float16, for exact
scoring) and, on large collections, ``hnsw.usearch`` (the graph). Each sync adds one delta
segment (``delta-NNNNNN/``: ``keys.npy`` and float32 ``vectors.npy``); a key in a delta
supersedes the same key in the main segment and in older deltas. A merge writes a new main
segment and a new ``CURRENT``; segments no ``CURRENT`` names are deleted (processes that
still map their files keep them until they let go: Linux unlinks, it does not truncate).

Every segment is immutable once ``CURRENT`` names it, so every process maps the same files
(``np.load(mmap_mode="r")``, usearch's ``view``): the page cache holds one copy per machine.

Each segment has a ``manifest.json``, written last, with each file's size and SHA-256. Opening
checks sizes and headers, and hashes only small files and the first and last MiB of large
ones (``verify=False``); ``paperfeed check`` hashes everything (``verify=True``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from usearch.index import Index as HNSW

from paperfeed.search.index.files import IndexDamagedError, sha256_of

POINTER = "CURRENT"
LAYOUT = 2  # the version of this layout, in ``CURRENT``
FULL_HASH_BELOW = 16 << 20  # bytes: files smaller than this are hashed on every open
EDGE = 1 << 20  # bytes hashed at each end of a larger file on open


class OldLayoutError(IndexDamagedError):
    """Vector files written by an earlier version (one private copy per process)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One opened segment: memory-mapped keys and vectors, and the graph when it has one."""

    name: str
    keys: np.ndarray  # int64; sorted (main) or in write order (delta)
    matrix: np.ndarray  # one row per key: float32 (deltas, small mains) or float16
    graph: HNSW | None = None
    removed: int = 0  # rows removed from the graph (superseded) since it was built afresh


@dataclass(frozen=True, slots=True)
class Pointer:
    main: str | None
    deltas: tuple[str, ...]
    count: int
    next: int  # the number the next segment written gets

    def to_json(self) -> str:
        return json.dumps(
            {
                "layout": LAYOUT,
                "main": self.main,
                "deltas": list(self.deltas),
                "count": self.count,
                "next": self.next,
            }
        )


def read_pointer(root: Path) -> Pointer | None:
    """``CURRENT``, or None for a new index. Raises ``IndexDamagedError`` for an unreadable
    pointer and for a directory of an earlier layout (its files straight in ``root``)."""
    try:
        data = json.loads((root / POINTER).read_text())
    except FileNotFoundError:
        if (root / "keys.npy").exists() or (root / "vectors.npy").exists():
            raise OldLayoutError(f"{root}: vector files of an earlier version's layout") from None
        return None
    except (OSError, ValueError) as exc:
        raise IndexDamagedError(f"{root / POINTER}: unreadable ({exc})") from None
    try:
        if data["layout"] != LAYOUT:
            raise IndexDamagedError(f"{root / POINTER}: layout {data['layout']!r}, not {LAYOUT}")
        main = data["main"]
        deltas = tuple(str(d) for d in data["deltas"])
        pointer = Pointer(
            main if main is None else str(main), deltas, int(data["count"]), int(data["next"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexDamagedError(f"{root / POINTER}: not a vector index pointer ({exc})") from None
    return pointer


def write_pointer(root: Path, pointer: Pointer) -> None:
    tmp = root / f"{POINTER}.{os.getpid()}.tmp"
    tmp.write_text(pointer.to_json())
    os.replace(tmp, root / POINTER)


def remove_unnamed(root: Path, pointer: Pointer) -> None:
    """Delete segments ``pointer`` does not name (superseded ones, or a crashed write's)."""
    named = {pointer.main, *pointer.deltas}
    for entry in root.iterdir():
        if (
            entry.is_dir()
            and entry.name.startswith(("main-", "delta-"))
            and entry.name not in named
        ):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)


# -- writing --------------------------------------------------------------------------------
def write_delta(root: Path, name: str, keys: np.ndarray, matrix: np.ndarray) -> None:
    directory = _fresh(root / name)
    np.save(directory / "keys.npy", keys.astype(np.int64, copy=False))
    np.save(directory / "vectors.npy", matrix.astype(np.float32, copy=False))
    _write_manifest(directory, "delta", len(keys), matrix.shape[1], ("keys.npy", "vectors.npy"))


def start_main(
    root: Path, name: str, keys: np.ndarray, dim: int, dtype: type[np.floating[Any]]
) -> tuple[Path, np.memmap[Any, Any]]:
    """A new main segment's directory with its (sorted) keys written and its matrix
    allocated on disk, to be filled in blocks; ``finish_main`` completes it."""
    directory = _fresh(root / name)
    np.save(directory / "keys.npy", keys.astype(np.int64, copy=False))
    matrix = np.lib.format.open_memmap(
        directory / "vectors.npy", mode="w+", dtype=dtype, shape=(len(keys), dim)
    )
    return directory, matrix


def finish_main(
    directory: Path, count: int, dim: int, graph: HNSW | None, removed: int = 0
) -> None:
    files = ["keys.npy", "vectors.npy"]
    if graph is not None:
        graph.save(str(directory / "hnsw.usearch"))
        files.append("hnsw.usearch")
    _write_manifest(directory, "main", count, dim, files, {"graph_removed": removed})


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)  # left by a write that crashed
    directory.mkdir(parents=True)
    return directory


def _write_manifest(
    directory: Path,
    kind: str,
    count: int,
    dim: int,
    names: Iterable[str],
    extra: dict[str, Any] | None = None,
) -> None:
    files: dict[str, dict[str, Any]] = {}
    for name in names:
        path = directory / name
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        files[name] = {
            "size": path.stat().st_size,
            "sha256": sha256_of(path),
            "edges": _edges(path),
        }
    manifest = {"kind": kind, "count": count, "dim": dim, "files": files, **(extra or {})}
    tmp = directory / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest))
    os.replace(tmp, directory / "manifest.json")


def _edges(path: Path) -> str:
    """SHA-256 of a file's first and last ``EDGE`` bytes (its headers and its tail)."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as handle:
        digest.update(handle.read(EDGE))
        if size > EDGE:
            handle.seek(max(EDGE, size - EDGE))
            digest.update(handle.read(EDGE))
    return digest.hexdigest()


# -- opening --------------------------------------------------------------------------------
def open_segment(
    directory: Path,
    dim: int,
    kind: str,
    verify: bool,
    expansion_search: int,
    full_hash_below: int = FULL_HASH_BELOW,
) -> Segment:
    """Map a segment's files, checked against its manifest first (see the module's doc):
    files under ``full_hash_below`` bytes are hashed whole, larger ones at their edges
    unless ``verify``."""
    manifest = _read_manifest(directory, kind, dim)
    for name, entry in manifest["files"].items():
        _check_file(directory / name, entry, verify, full_hash_below)
    count = manifest["count"]
    try:
        keys = np.load(directory / "keys.npy", mmap_mode="r", allow_pickle=False)
        matrix = np.load(directory / "vectors.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexDamagedError(f"{directory}: vector files unreadable ({exc})") from None
    dtypes = (np.float16, np.float32) if kind == "main" else (np.float32,)
    if (
        keys.ndim != 1
        or keys.dtype != np.int64
        or matrix.dtype not in dtypes
        or keys.shape != (count,)
        or matrix.shape != (count, dim)
    ):
        raise IndexDamagedError(
            f"{directory}: {keys.shape} keys and {matrix.shape} vectors do not fit together"
        )
    graph = None
    graph_file = directory / "hnsw.usearch"
    if "hnsw.usearch" in manifest["files"]:
        graph = _view_graph(graph_file, count, dim, expansion_search)
    elif graph_file.exists():
        raise IndexDamagedError(f"{graph_file}: not in the manifest")
    removed = manifest.get("graph_removed", 0)
    return Segment(directory.name, keys, matrix, graph, removed if isinstance(removed, int) else 0)


def _view_graph(path: Path, count: int, dim: int, expansion_search: int) -> HNSW:
    try:
        meta = HNSW.metadata(str(path))
        if not meta or meta.get("dimensions") != dim:
            raise IndexDamagedError(f"{path}: not a graph of {dim}-d vectors")
        # Memory-mapped; key lookups off (searches need none; they would build a private
        # hash table of every key in each process).
        graph = HNSW.restore(
            str(path), view=True, expansion_search=expansion_search, enable_key_lookups=False
        )
    except (ValueError, RuntimeError, OSError) as exc:
        raise IndexDamagedError(f"{path}: unreadable ({exc})") from None
    if graph is None or len(graph) != count or graph.ndim != dim:
        raise IndexDamagedError(f"{path}: does not match the vectors beside it")
    return graph


def _read_manifest(directory: Path, kind: str, dim: int) -> dict[str, Any]:
    file = directory / "manifest.json"
    try:
        manifest = json.loads(file.read_text())
    except FileNotFoundError:
        raise IndexDamagedError(f"{file}: missing") from None
    except (OSError, ValueError) as exc:
        raise IndexDamagedError(f"{file}: unreadable ({exc})") from None
    ok = (
        isinstance(manifest, dict)
        and manifest.get("kind") == kind
        and manifest.get("dim") == dim
        and isinstance(manifest.get("count"), int)
        and isinstance(manifest.get("files"), dict)
        and all(
            isinstance(e, dict)
            and isinstance(e.get("size"), int)
            and isinstance(e.get("sha256"), str)
            and isinstance(e.get("edges"), str)
            for e in manifest["files"].values()
        )
        and {"keys.npy", "vectors.npy"} <= set(manifest["files"])
    )
    if not ok:
        raise IndexDamagedError(f"{file}: not a {dim}-d {kind} segment manifest")
    return dict(manifest)


def _check_file(path: Path, entry: dict[str, Any], verify: bool, full_hash_below: int) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise IndexDamagedError(f"{path}: missing") from None
    if size != entry["size"]:
        raise IndexDamagedError(f"{path}: {size} bytes, the manifest says {entry['size']}")
    if verify or size < full_hash_below:
        if sha256_of(path) != entry["sha256"]:
            raise IndexDamagedError(f"{path}: contents do not match the manifest")
    elif _edges(path) != entry["edges"]:
        raise IndexDamagedError(f"{path}: contents do not match the manifest")
