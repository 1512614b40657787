"""The dense index's segments: a save writes only a delta, deltas merge into a new main
segment past a threshold, superseded rows never come back, and filtered search finds the
true nearest at any selectivity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from paperfeed.search.index import segments
from paperfeed.search.index.vectors import VectorConfig, VectorIndex
from paperfeed.search.trace import SearchTrace

DIM = 64


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(
    rng: np.random.Generator, n: int, clusters: int = 40
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in clusters (like paper embeddings), and each one's cluster."""
    centres = unit(rng.normal(size=(clusters, DIM)))
    labels = rng.integers(0, clusters, n)
    return unit(centres[labels] + 0.12 * rng.normal(size=(n, DIM))), labels


def pointer(path: Path) -> dict:
    return json.loads((path / "CURRENT").read_text())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


SMALL = VectorConfig(exact_below=200, merge_min_rows=50, merge_fraction=0.05, max_deltas=3)


@pytest.fixture
def built(tmp_path: Path, rng: np.random.Generator) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    """1,000 vectors in one main segment with a graph (keys 10, 20, ...)."""
    keys = np.arange(1, 1001, dtype=np.int64) * 10
    matrix, _ = clustered(rng, 1000)
    index = VectorIndex(tmp_path / "v", DIM, SMALL)
    index.upsert(keys, matrix)
    index.save()
    assert index.has_graph and pointer(tmp_path / "v")["deltas"] == []
    return index, keys, matrix


def test_a_save_writes_only_a_delta_that_supersedes_the_main_rows(
    tmp_path: Path, rng: np.random.Generator, built: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    index, keys, matrix = built
    root = tmp_path / "v"
    main_name = pointer(root)["main"]
    main_files = {f.name: f.stat() for f in (root / main_name).iterdir()}
    replaced = keys[[3, 500, 999]]
    moved = unit(rng.normal(size=(3, DIM)))
    added = unit(rng.normal(size=(10, DIM)))
    index.upsert(replaced, moved)
    new_keys = np.arange(1, 11, dtype=np.int64) * 10 - 5  # 5, 15, ...: not in the main segment
    index.upsert(new_keys, added)
    index.save()

    current = pointer(root)
    assert current["main"] == main_name and len(current["deltas"]) == 1
    for name, stat in main_files.items():  # the main segment was not rewritten
        now = (root / main_name / name).stat()
        assert (now.st_ino, now.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    delta = np.load(root / current["deltas"][0] / "keys.npy")
    assert sorted(delta.tolist()) == sorted([*replaced.tolist(), *new_keys.tolist()])

    for opened in (index, VectorIndex(root, DIM, SMALL)):
        assert len(opened) == 1010
        assert sorted(opened.keys.tolist()) == sorted([*keys.tolist(), *new_keys.tolist()])
        for pk, vector in zip(replaced.tolist(), moved, strict=True):
            top = opened.search(vector, 1)[0]
            assert top.pk == pk and top.similarity == pytest.approx(1.0, abs=1e-5)
            np.testing.assert_array_equal(opened.vector(pk), vector)
        # A replaced row's old vector no longer finds it at similarity 1 (the main row is
        # superseded), by the graph, the exact scan or a filter.
        old = matrix[3]
        for hits in (
            opened.search(old, 10),
            opened.exact_search(old, 10),
            opened.search(old, 10, allowed=keys[:10]),
        ):
            assert all(h.similarity < 0.999 for h in hits if h.pk == keys[3])
            assert len({h.pk for h in hits}) == len(hits)


def test_deltas_past_the_threshold_merge_into_a_new_main_segment(
    tmp_path: Path, rng: np.random.Generator, built: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    index, _, matrix = built
    root = tmp_path / "v"
    old_main = pointer(root)["main"]
    reader = VectorIndex(root, DIM, SMALL)  # another process, mapping the old segment
    probe = matrix[17]
    before = reader.search(probe, 5)
    added, _ = clustered(rng, 60)
    index.upsert(np.arange(1, 61, dtype=np.int64) * 10 - 5, added)  # 60 > max(50, 5% of 1,000)
    index.save()

    current = pointer(root)
    assert current["main"] != old_main and current["deltas"] == []
    assert not (root / old_main).exists()  # superseded and deleted
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [current["main"]]
    assert index.graph_size == len(index) == 1060
    merged = VectorIndex(root, DIM, SMALL)
    assert np.all(np.diff(np.asarray(merged._current().main.keys)) > 0)  # sorted: no dict
    assert merged.search(added[5], 1)[0].pk == 55
    assert reader.search(probe, 5) == before  # still mapping the deleted files


def test_many_small_saves_are_compacted_into_one_delta(
    tmp_path: Path, rng: np.random.Generator, built: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    index, _, _ = built
    for i in range(5):
        index.upsert(np.array([10 * (i + 1), 5 + i]), unit(rng.normal(size=(2, DIM))))
        index.save()
        assert len(pointer(tmp_path / "v")["deltas"]) <= SMALL.max_deltas
    newest = unit(rng.normal(size=(1, DIM)))
    index.upsert(np.array([10]), newest)  # again: the newest wins
    index.save()
    reopened = VectorIndex(tmp_path / "v", DIM, SMALL)
    assert len(reopened) == len(index) == 1005
    np.testing.assert_array_equal(reopened.vector(10), newest[0])


def test_a_write_that_never_reached_the_pointer_is_ignored_then_removed(
    tmp_path: Path, rng: np.random.Generator, built: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    """A crash between writing a segment and naming it leaves the index as it was."""
    index, _, _ = built
    root = tmp_path / "v"
    segments.write_delta(root, "delta-999999", np.array([5]), unit(rng.normal(size=(1, DIM))))
    (root / "delta-999998").mkdir()  # and one cut short
    assert len(VectorIndex(root, DIM, SMALL)) == 1000
    index.upsert(np.array([6]), unit(rng.normal(size=(1, DIM))))  # not in the main segment
    index.save()
    assert not (root / "delta-999999").exists() and not (root / "delta-999998").exists()
    assert len(VectorIndex(root, DIM, SMALL)) == 1001


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """20,000 clustered vectors with a graph, and 2,000 more in a delta."""
    rng = np.random.default_rng(11)
    n = 22_000
    matrix, labels = clustered(rng, n)
    keys = rng.permutation(np.arange(1, 10 * n, 10, dtype=np.int64))
    config = VectorConfig(exact_below=1000)
    index = VectorIndex(tmp_path_factory.mktemp("collection") / "v", DIM, config)
    index.upsert(keys[:20_000], matrix[:20_000])
    index.save()
    index.upsert(keys[20_000:], matrix[20_000:])
    index.save()
    assert index.has_graph and len(pointer(index.path)["deltas"]) == 1
    queries = unit(matrix[rng.integers(0, n, 40)] + 0.1 * rng.normal(size=(40, DIM)))
    return {"index": index, "keys": keys, "matrix": matrix, "labels": labels, "queries": queries}


def exact_top(collection: dict, passing: np.ndarray, query: np.ndarray, k: int) -> set[int]:
    scores = collection["matrix"][passing] @ query
    return set(collection["keys"][passing][np.argsort(-scores)[:k]].tolist())


@pytest.mark.parametrize("selectivity", [0.001, 0.01, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("kind", ["random", "clusters"])
def test_filtered_recall_at_any_selectivity(
    collection: dict, selectivity: float, kind: str
) -> None:
    """Recall@10 against exact float32 search >= 0.95 whatever fraction a filter passes,
    whether it is unrelated to the vectors (random) or follows them (whole clusters, which
    a query may be near or far from); narrow filters are scored exactly."""
    index, keys, labels = collection["index"], collection["keys"], collection["labels"]
    rng = np.random.default_rng(int(selectivity * 1000))
    n = len(keys)
    if kind == "random":
        passing = rng.random(n) < selectivity
    else:  # whole clusters, then random members of one more up to the selectivity
        order = rng.permutation(labels.max() + 1)
        sizes = np.bincount(labels)[order]
        whole = order[np.cumsum(sizes) <= selectivity * n]
        passing = np.isin(labels, whole)
        rest = np.flatnonzero(~passing)
        extra = int(selectivity * n) - int(passing.sum())
        passing[rng.choice(rest, max(0, extra), replace=False)] = True
    allowed = np.sort(keys[passing])

    def contains_fn(pks: np.ndarray) -> np.ndarray:
        return np.isin(pks, allowed)

    calls: list[int] = []  # neighbours asked of the graph, per search that asked it
    found = 0
    for query in collection["queries"]:
        trace = SearchTrace()
        pks, sims = index.nearest_filtered(query, 10, allowed, contains_fn, trace=trace)
        if "graph" in trace.counts:
            calls.append(trace.counts["graph"])
        assert np.isin(pks, allowed).all() and np.all(np.diff(sims) <= 0)
        truth = exact_top(collection, np.flatnonzero(passing), query, 10)
        assert len(pks) == min(10, len(allowed))
        found += len(set(pks.tolist()) & truth)
    recall = found / (len(collection["queries"]) * min(10, len(allowed)))
    assert recall >= 0.95, (kind, selectivity, recall)
    if selectivity < index.config.exact_filtered_below:
        assert calls == []  # narrow: exact, never the graph
    if selectivity >= 0.5:
        assert calls  # broad: the graph first


def test_a_graph_that_lost_too_many_rows_is_built_afresh(
    tmp_path: Path, rng: np.random.Generator, built: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    """Merges remove superseded rows from the graph (usearch keeps them as tombstones) until
    ``graph_rebuild_fraction`` of it was removed; then the next merge builds it afresh."""
    index, keys, _ = built
    root = tmp_path / "v"
    removed = []
    for round_ in range(4):
        replaced = keys[60 * round_ : 60 * (round_ + 1)]  # 60 > merge_min_rows: a merge
        moved = unit(rng.normal(size=(60, DIM)))
        index.upsert(replaced, moved)
        index.save()
        manifest = json.loads((root / pointer(root)["main"] / "manifest.json").read_text())
        removed.append(manifest["graph_removed"])
        reopened = VectorIndex(root, DIM, SMALL)
        assert len(reopened) == reopened.graph_size == 1000
        assert [reopened.search(v, 1)[0].pk for v in moved[:5]] == replaced[:5].tolist()
    assert removed == [60, 120, 180, 0]  # 240 > 20% of 1,000: built afresh


def test_a_merge_built_apart_keeps_the_deltas_saved_meanwhile(
    tmp_path: Path, rng: np.random.Generator, built: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    """``prepare_merge`` builds the new main segment while searches read the old one and
    another writer saves; ``finish_merge`` swaps it in with that writer's delta in front."""
    index, keys, matrix = built
    root = tmp_path / "v"
    old_main = pointer(root)["main"]
    added, _ = clustered(rng, 60)
    added_keys = np.arange(1, 61, dtype=np.int64) * 10 - 5  # 60 > max(50, 5% of 1,000)
    index.upsert(added_keys, added)
    index.save(merge=False)  # searchable at once, not merged
    assert index.merge_due and len(pointer(root)["deltas"]) == 1
    before = [index.search(v, 5) for v in matrix[:20]]

    prepared = index.prepare_merge()
    assert prepared is not None and prepared.directory.exists()
    assert pointer(root)["main"] == old_main  # nothing swapped yet
    assert [index.search(v, 5) for v in matrix[:20]] == before

    writer = VectorIndex(root, DIM, SMALL)  # another process saves meanwhile
    newest = unit(rng.normal(size=(2, DIM)))
    writer.upsert(np.array([5, 7]), newest)  # 5: in the merged delta; 7: new
    writer.save(merge=False)
    written = pointer(root)["deltas"][-1]

    assert index.finish_merge(prepared)
    current = pointer(root)
    assert current["main"] != old_main and current["deltas"] == [written]
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(
        [current["main"], written]
    )  # the old main and the merged delta deleted, no merge directory left
    for opened in (index, VectorIndex(root, DIM, SMALL)):
        assert len(opened) == 1061 and opened.graph_size == 1060
        np.testing.assert_array_equal(opened.vector(5), newest[0])  # the newer row wins
        np.testing.assert_array_equal(opened.vector(7), newest[1])
        assert opened.search(added[9], 1)[0].pk == 95
        assert opened.search(matrix[17], 1)[0].pk == keys[17]
    assert not index.merge_due


def test_a_merge_is_dropped_when_the_main_segment_changed_meanwhile(
    tmp_path: Path, rng: np.random.Generator, built: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    index, _, _ = built
    root = tmp_path / "v"
    index.upsert(np.arange(1, 61, dtype=np.int64) * 10 - 5, clustered(rng, 60)[0])
    index.save(merge=False)
    prepared = index.prepare_merge()
    assert prepared is not None

    writer = VectorIndex(root, DIM, SMALL)
    writer.upsert(np.arange(1, 61, dtype=np.int64) * 10 - 7, clustered(rng, 60)[0])
    writer.save()  # merges itself: a new main segment
    merged_by_writer = pointer(root)

    assert not index.finish_merge(prepared)
    assert not prepared.directory.exists()
    assert pointer(root) == merged_by_writer
    assert len(VectorIndex(root, DIM, SMALL)) == 1120
