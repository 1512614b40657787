"""The dense index's layout: memory-mapped segments vs the earlier private copies.

    .venv/bin/python bench/bench_vectors.py [--n 100000] [--queries 200] [--old-ref REF]

On ``--n`` synthetic clustered 384-d unit vectors, one HNSW graph is built and written in
both layouts: the earlier one (``keys.npy`` in row order, a float32 ``vectors.npy``, the
graph, each process loading them all and a pk -> row dict; its code taken from git at
``--old-ref``) and the segments (``paperfeed.search.index.segments``: sorted keys, a float16
matrix and the graph, all mapped). Then, each beside the earlier layout where it applies:

* resident memory (PSS, ``/proc/PID/smaps_rollup``) of 3 processes that opened the index
  and ran the same searches (and of one that opened nothing, the interpreter's own);
* time to add 1,000 vectors (upsert + save, as a sync does), and for a reader to open what
  was written;
* recall@10 against exact float32 search: the graph (rescored) unfiltered, and exact scans
  of a float16 matrix and of an int8 one with a scale per row;
* filtered search (``VectorIndex.nearest_filtered``, depth 100) p50/p95 and recall@10 at
  several selectivities (random filters).

Progress goes to stderr; the report (Markdown) to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from usearch.index import Index as HNSW  # noqa: E402

from paperfeed.search.index import segments  # noqa: E402
from paperfeed.search.index.vectors import (  # noqa: E402
    EXPANSION_SEARCH,
    GRAPH_DTYPE,
    VectorConfig,
    VectorIndex,
)
from paperfeed.search.trace import SearchTrace  # noqa: E402

DIM = 384
SELECTIVITIES = (0.001, 0.01, 0.1, 0.5)
DEPTH = 100


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def collection(n: int, queries: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keys, vectors in ``n // 500`` clusters (a cluster's members about as similar as
    papers on one topic: cosine ~0.6), and queries drawn the same way."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(max(20, n // 500), DIM)))

    def draw(size: int) -> np.ndarray:
        labels = rng.integers(0, len(centres), size)
        noise = 0.06 * rng.normal(size=(size, DIM)).astype(np.float32)
        return unit(centres[labels] + noise)

    matrix = np.concatenate([draw(min(50_000, n - s)) for s in range(0, n, 50_000)])
    keys = rng.permutation(np.arange(1, 3 * n + 1, 3, dtype=np.int64))
    return keys, matrix, draw(queries)


def old_module(ref: str) -> ModuleType | None:
    """The earlier ``vectors.py``, from git."""
    try:
        source = subprocess.run(
            ["git", "show", f"{ref}:paperfeed/search/index/vectors.py"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        log(f"no earlier layout to compare with ({exc})")
        return None
    path = Path(tempfile.mkdtemp()) / "old_vectors.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_vectors", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_vectors"] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def write_layouts(root: Path, keys: np.ndarray, matrix: np.ndarray, graph_file: Path) -> None:
    """Both layouts from one graph file (the graph is keyed by pk: the same in both)."""
    old = root / "old"
    old.mkdir(parents=True)
    np.save(old / "keys.npy", keys)
    np.save(old / "vectors.npy", matrix)
    os.link(graph_file, old / "hnsw.usearch")
    digests = {}
    for name in ("keys.npy", "vectors.npy", "hnsw.usearch"):
        with (old / name).open("rb") as file:
            digests[name] = hashlib.file_digest(file, "sha256").hexdigest()
    (old / "manifest.json").write_text(
        json.dumps({"count": len(keys), "dim": DIM, "files": digests})
    )
    new = root / "new"
    new.mkdir()
    order = np.argsort(keys)
    directory, out = segments.start_main(new, "main-000001", keys[order], DIM, np.float16)
    out[:] = matrix[order]
    out.flush()
    del out
    graph = HNSW.restore(str(graph_file), view=True, enable_key_lookups=False)
    segments.finish_main(directory, len(keys), DIM, graph)
    segments.write_pointer(new, segments.Pointer("main-000001", (), len(keys), 2))


def child(layout: str, path: Path, old_ref: str, queries_file: Path) -> None:
    """One process: open the index, run the searches, report, wait to be measured."""
    queries = np.load(queries_file)
    if layout == "none":
        pass
    elif layout == "old":
        module = old_module(old_ref)
        assert module is not None
        index = module.VectorIndex(path, DIM)
        for query in queries:
            index.search(query, 10)
    else:
        index = VectorIndex(path, DIM)
        for query in queries:
            index.search(query, 10)
    print("ready", flush=True)
    sys.stdin.readline()


def pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise RuntimeError("no Pss line")


def measure_pss(layout: str, path: Path, old_ref: str, queries_file: Path, count: int) -> int:
    """Total PSS (KiB) of ``count`` processes that opened ``path`` and searched it."""
    argv = [sys.executable, __file__, "--child", layout, str(path), old_ref, str(queries_file)]
    processes = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout and process.stdout.readline().strip() == "ready"
        return sum(pss_kib(p.pid) for p in processes)
    finally:
        for process in processes:
            assert process.stdin
            process.stdin.write("\n")
            process.stdin.flush()
            process.wait(60)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return len(set(found.tolist()) & set(truth.tolist())) / max(1, len(truth))


def exact_top(keys: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return keys[top[np.argsort(-scores[top])]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="vectors (100,000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per measure (200)")
    parser.add_argument("--old-ref", default="4d53f88", help="git ref of the earlier layout")
    parser.add_argument(
        "--graph-dtype", default=GRAPH_DTYPE, help=f"the graph's dtype ({GRAPH_DTYPE}; f16, i8)"
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        layout, path, old_ref, queries_file = args.child
        child(layout, Path(path), old_ref, Path(queries_file))
        return

    n = args.n
    log(f"{n:,} synthetic clustered {DIM}-d unit vectors")
    keys, matrix, queries = collection(n, args.queries)
    root = Path(tempfile.mkdtemp(prefix="bench-vectors-"))
    queries_file = root / "queries.npy"
    np.save(queries_file, queries)
    log(f"building the {args.graph_dtype} graph (usearch, expansion_search {EXPANSION_SEARCH})")
    started = time.perf_counter()
    graph = HNSW(ndim=DIM, metric="cos", dtype=args.graph_dtype, expansion_search=EXPANSION_SEARCH)
    graph.add(keys, matrix)
    build_s = time.perf_counter() - started
    graph_file = root / "graph.usearch"
    graph.save(str(graph_file))
    del graph
    write_layouts(root, keys, matrix, graph_file)
    old = old_module(args.old_ref)
    rows: list[tuple[str, str, str, str]] = []
    print(f"## Dense index layout, {n:,} x {DIM}-d vectors\n")
    print(f"`{' '.join(sys.argv)}`; graph {args.graph_dtype}, built in {build_s:.0f} s.\n")

    # -- memory --------------------------------------------------------------------------
    log("PSS of 3 processes per layout")
    base = measure_pss("none", root, args.old_ref, queries_file, 1)
    new_pss = measure_pss("new", root / "new", args.old_ref, queries_file, 3)
    old_pss = measure_pss("old", root / "old", args.old_ref, queries_file, 3) if old else None
    rows.append(
        (
            "PSS, 3 processes (interpreter's own subtracted)",
            f"{(new_pss - 3 * base) / 1024:,.0f} MiB",
            "-" if old_pss is None else f"{(old_pss - 3 * base) / 1024:,.0f} MiB",
            "-" if old_pss is None else f"{(new_pss - 3 * base) / (old_pss - 3 * base):.2f}",
        )
    )
    rows.append(("PSS of one bare interpreter (numpy, usearch)", f"{base / 1024:,.0f} MiB", "", ""))

    # -- adding 1,000 --------------------------------------------------------------------
    log("adding 1,000 vectors")
    extra_keys = np.arange(3 * n + 2, 3 * n + 2 + 3000, 3, dtype=np.int64)
    extra = unit(np.random.default_rng(3).normal(size=(1000, DIM)))
    index = VectorIndex(root / "new", DIM)
    started = time.perf_counter()
    index.upsert(extra_keys, extra)
    index.save()
    new_add = time.perf_counter() - started
    started = time.perf_counter()
    reopened = VectorIndex(root / "new", DIM)
    new_open = time.perf_counter() - started
    assert len(reopened) == n + 1000
    old_add = old_open = None
    if old:
        old_index = old.VectorIndex(root / "old", DIM)
        started = time.perf_counter()
        old_index.upsert(extra_keys, extra)
        old_index.save()
        old_add = time.perf_counter() - started
        started = time.perf_counter()
        old.VectorIndex(root / "old", DIM)
        old_open = time.perf_counter() - started

    def ratio(new: float, earlier: float | None) -> str:
        return "-" if earlier is None else f"{new / earlier:.3f}"

    rows.append(
        (
            "add 1,000 vectors (upsert + save)",
            f"{new_add * 1000:,.0f} ms",
            "-" if old_add is None else f"{old_add * 1000:,.0f} ms",
            ratio(new_add, old_add),
        )
    )
    rows.append(
        (
            "a reader opens the result",
            f"{new_open * 1000:,.1f} ms",
            "-" if old_open is None else f"{old_open * 1000:,.0f} ms",
            ratio(new_open, old_open),
        )
    )

    # -- recall ------------------------------------------------------------------------------
    log("recall@10 against exact float32")
    all_keys = np.concatenate([keys, extra_keys])
    full = np.concatenate([matrix, extra])
    truths = [exact_top(all_keys, full @ q, 10) for q in queries]
    graph_recall = np.mean(
        [recall(reopened.nearest(q, 10)[0], t) for q, t in zip(queries, truths, strict=True)]
    )
    f16 = full.astype(np.float16)
    scale = np.abs(full).max(axis=1, keepdims=True) / 127
    i8 = np.round(full / scale).astype(np.int8)
    f16_recall = np.mean(
        [
            recall(exact_top(all_keys, f16.astype(np.float32) @ q, 10), t)
            for q, t in zip(queries[:50], truths[:50], strict=True)
        ]
    )
    i8_recall = np.mean(
        [
            recall(exact_top(all_keys, (i8.astype(np.float32) * scale) @ q, 10), t)
            for q, t in zip(queries[:50], truths[:50], strict=True)
        ]
    )
    old_recall = None
    if old:
        old_index = old.VectorIndex(root / "old", DIM)
        old_recall = np.mean(
            [recall(old_index.nearest(q, 10)[0], t) for q, t in zip(queries, truths, strict=True)]
        )
    rows.append(
        (
            f"recall@10, graph ({args.graph_dtype}) asked for "
            f"{VectorConfig().graph_oversample:g} x k, rescored, vs exact",
            f"{graph_recall:.3f}",
            "-" if old_recall is None else f"{old_recall:.3f}",
            "",
        )
    )
    for oversample in (2.0, 4.0):
        wider = VectorIndex(root / "new", DIM, VectorConfig(graph_oversample=oversample))
        started = time.perf_counter()
        wider_recall = np.mean(
            [recall(wider.nearest(q, 10)[0], t) for q, t in zip(queries, truths, strict=True)]
        )
        per_query = (time.perf_counter() - started) / len(queries) * 1000
        rows.append(
            (
                f"recall@10, graph asked for {oversample:g} x k, rescored",
                f"{wider_recall:.3f} ({per_query:.1f} ms/query)",
                "",
                "",
            )
        )
    rows.append(("recall@10, exact scan of a float16 matrix", f"{f16_recall:.3f}", "", ""))
    rows.append(("recall@10, exact scan of int8 + scale per row", f"{i8_recall:.3f}", "", ""))

    # -- filtered ----------------------------------------------------------------------------
    log("filtered search by selectivity")
    for selectivity in SELECTIVITIES:
        passing = np.random.default_rng(int(selectivity * 1e4)).random(len(all_keys)) < selectivity
        allowed = np.sort(all_keys[passing])

        def contains(pks: np.ndarray, allowed: np.ndarray = allowed) -> np.ndarray:
            pos = np.clip(np.searchsorted(allowed, pks), 0, len(allowed) - 1)
            found: np.ndarray = allowed[pos] == pks
            return found

        times, recalls = [], []
        graph_calls: list[int] = []
        for query in queries:
            trace = SearchTrace()
            started = time.perf_counter()
            found, _ = reopened.nearest_filtered(
                query, DEPTH, allowed, contains, key=selectivity, trace=trace
            )
            times.append(time.perf_counter() - started)
            if "graph" in trace.counts:
                graph_calls.append(trace.counts["graph"])
            truth = exact_top(all_keys[passing], full[passing] @ query, 10)
            recalls.append(recall(found[:10], truth))
        p50, p95 = np.percentile(np.array(times) * 1000, [50, 95])
        path = f"graph first for {len(graph_calls)}/{len(queries)}" if graph_calls else "exact"
        rows.append(
            (
                f"filtered {selectivity:.1%} ({path}): p50 / p95, recall@10",
                f"{p50:.1f} / {p95:.1f} ms, {np.mean(recalls):.3f}",
                "",
                "",
            )
        )

    print("| measure | segments (mapped) | earlier layout | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"\nGraph build {build_s:.0f} s on this machine (load average "
        f"{os.getloadavg()[0]:.1f} at the end)."
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
