"""Filtered dense search (``Indexes.dense``) against brute force, on a synthetic
corpus of 2,000 papers in five categories with an HNSW graph.

The passing papers come from ``LexicalIndex.allowed`` (cached per filter) and are tested with
a numpy mask; the vector index chooses the graph (oversampled, keeping those that pass) or an
exact scan of the passing rows by the fraction of the collection the filter passes, and keeps
a copy of a narrow filter's rows (``VectorIndex.search(..., key=)``). These tests pin that
the answers are brute force's where the exact scan answers, and close to it where the graph
does. Brute force scores the float16-rounded vectors the main segment stores.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from paperfeed.search.index import Indexes
from paperfeed.search.index.lexical import LexicalDoc, LexicalIndex
from paperfeed.search.index.vectors import VectorConfig, VectorHit, VectorIndex
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.search.trace import SearchTrace

DIM = 32
N = 2000
CATEGORIES = ("cs.CL", "cs.LG", "cs.CV", "math.ST", "q-bio.NC")
# cs.CL a third of the papers, the others fewer, q-bio.NC rare: broad and narrow filters.
WEIGHTS = (0.34, 0.3, 0.2, 0.12, 0.04)
AUTHORS = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra")
# A graph even for this small corpus, and the graph first for any filter it can serve.
GRAPH_FIRST = VectorConfig(
    exact_below=100, exact_filtered_below=0.0, graph_candidate_cost=0.0, max_graph_candidates=N
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("filtered")
    pks = np.arange(1, N + 1, dtype=np.int64) * 3  # not row numbers: pk -> row must be looked up
    centers = rng.normal(size=(20, DIM))
    matrix = centers[rng.integers(20, size=N)] + 0.6 * rng.normal(size=(N, DIM))
    matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
    categories: dict[int, list[str]] = {}
    authors: dict[int, list[str]] = {}
    docs = []
    for pk in pks.tolist():
        cats = [str(rng.choice(CATEGORIES, p=WEIGHTS))]
        if rng.random() < 0.2:  # cross-listed
            cats.append(str(rng.choice(CATEGORIES)))
        names = [str(AUTHORS[pk % 4])] if rng.random() < 0.02 else ["Someone Else"]
        categories[pk], authors[pk] = cats, names
        docs.append(LexicalDoc(pk, f"paper {pk}", "an abstract", names, cats, None))
    lexical = LexicalIndex(root / "lexical")
    lexical.upsert(docs)
    vectors = VectorIndex(root / "vectors", DIM, GRAPH_FIRST)
    vectors.upsert(pks, matrix)
    vectors.save()
    assert vectors.has_graph
    indexes = Indexes(root / "index")  # serving the parts built here
    indexes.lexical_index, indexes.vector_index = lexical, vectors
    workspace = SimpleNamespace(indexes=indexes)
    queries = [m / np.linalg.norm(m) for m in rng.normal(size=(12, DIM)).astype(np.float32)]
    return SimpleNamespace(
        workspace=workspace,
        root=root,
        pks=pks,
        matrix=matrix.astype(np.float16).astype(np.float32),  # as the main segment stores it
        categories=categories,
        authors=authors,
        queries=queries,
    )


def with_config(corpus: SimpleNamespace, config: VectorConfig) -> VectorIndex:
    """The corpus's vectors opened again (mapped: nothing is copied) with another config."""
    vectors = VectorIndex(corpus.root / "vectors", DIM, config)
    corpus.workspace.indexes.vector_index = vectors
    return vectors


@pytest.fixture(autouse=True)
def graph_first(corpus: SimpleNamespace) -> None:
    with_config(corpus, GRAPH_FIRST)


def passes(corpus: SimpleNamespace, parsed: ParsedQuery, pk: int) -> bool:
    ok = not parsed.categories or any(c in parsed.categories for c in corpus.categories[pk])
    return ok and all(a in corpus.authors[pk] for a in parsed.authors)


def brute_force(corpus: SimpleNamespace, parsed: ParsedQuery, query: np.ndarray, k: int) -> list:
    scores = corpus.matrix @ query
    ranked = sorted(
        (
            (float(scores[i]), pk)
            for i, pk in enumerate(corpus.pks.tolist())
            if passes(corpus, parsed, pk)
        ),
        reverse=True,
    )
    return [pk for _, pk in ranked[:k]]


def dense(
    corpus: SimpleNamespace, query: np.ndarray, depth: int, parsed: ParsedQuery
) -> tuple[list[VectorHit], int | None]:
    """``Indexes.dense``'s hits, and how many neighbours it asked the graph for (None: the
    graph was not asked)."""
    trace = SearchTrace()
    hits = corpus.workspace.indexes.dense(query, depth, parsed, trace)
    return hits, trace.counts.get("graph")


FILTERS = [
    "cat:cs.CL",
    "cat:cs.LG",
    "cat:q-bio.NC",
    "cat:cs.CV cat:math.ST",
    'author:"Alan Turing"',
    'cat:cs.CL author:"Grace Hopper"',
]


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("depth", [5, 20, 100])
def test_filtered_dense_passes_the_filter_and_finds_what_brute_force_finds(
    corpus: SimpleNamespace, filters: str, depth: int
) -> None:
    parsed = parse_query(f"words {filters}")
    expected_pass = [pk for pk in corpus.pks.tolist() if passes(corpus, parsed, pk)]
    assert expected_pass, filters
    graph_answers = found = 0
    for query in corpus.queries:
        hits, asked = dense(corpus, query, depth, parsed)
        assert all(passes(corpus, parsed, h.pk) for h in hits)
        similarities = [h.similarity for h in hits]
        assert similarities == sorted(similarities, reverse=True)
        # Every similarity is the exact one (graph candidates are rescored).
        scores = dict(zip(corpus.pks.tolist(), (corpus.matrix @ query).tolist(), strict=True))
        assert similarities == pytest.approx([scores[h.pk] for h in hits], abs=1e-5)
        exact = brute_force(corpus, parsed, query, depth)
        if asked is not None:  # the graph was asked (then it answered, or the exact scan)
            graph_answers += 1
            found += len({h.pk for h in hits} & set(exact))
        else:
            assert [h.pk for h in hits] == exact
    if len(expected_pass) < depth:
        assert graph_answers == 0  # fewer passing papers than the depth: always exact
    # Recall over all the graph's answers, not per query: the graph is built by several
    # threads, so which neighbour a single query misses varies from one build to the next.
    assert found >= 0.9 * depth * graph_answers


def test_both_paths_are_exercised(corpus: SimpleNamespace) -> None:
    """A broad filter is answered by the graph, a narrow one (at depth 100) by the exact
    scan after the graph came up short."""
    broad, narrow = parse_query("w cat:cs.CL"), parse_query("w cat:q-bio.NC")
    vectors = corpus.workspace.indexes.vector_index
    query = corpus.queries[0]
    hits, asked = dense(corpus, query, 5, broad)
    assert asked is not None and len(hits) == 5
    neighbours = vectors.search(query, asked)
    assert sum(passes(corpus, broad, h.pk) for h in neighbours) >= 5  # the graph answered
    hits = corpus.workspace.indexes.dense(query, 100, narrow)
    assert [h.pk for h in hits] == brute_force(corpus, narrow, query, 100)


@pytest.mark.parametrize("filters", FILTERS)
def test_filters_below_the_threshold_skip_the_graph(corpus: SimpleNamespace, filters: str) -> None:
    """A filter passing less than ``exact_filtered_below`` of the collection is scored
    exactly without asking the graph first: the answer is brute force's."""
    with_config(corpus, replace(GRAPH_FIRST, exact_filtered_below=1.01))
    parsed = parse_query(f"words {filters}")
    for depth in (5, 100):
        for query in corpus.queries:
            hits, asked = dense(corpus, query, depth, parsed)
            assert [h.pk for h in hits] == brute_force(corpus, parsed, query, depth)
            assert asked is None
    # With the threshold at 0 the same broad filter goes to the graph first, asking for
    # ``oversample x depth / selectivity`` neighbours.
    with_config(corpus, GRAPH_FIRST)
    broad = parse_query("w cat:cs.CL")
    passing = len(corpus.workspace.indexes.lexical_index.allowed(broad, N).pks)
    _, asked = dense(corpus, corpus.queries[0], 5, broad)
    assert asked == math.ceil(5 * GRAPH_FIRST.oversample / (passing / N))


def test_allowed_is_cached_per_filter_and_dropped_on_reload(
    corpus: SimpleNamespace, tmp_path: Path
) -> None:
    lexical = LexicalIndex(tmp_path / "lexical")
    lexical.upsert([LexicalDoc(1, "a", "b", ["X Y"], ["cs.CL"], None)])
    parsed = parse_query("w cat:cs.CL")
    first = lexical.allowed(parsed, 100)
    assert first is not None and first.pks.tolist() == [1]
    assert lexical.allowed(parse_query("other words cat:cs.CL"), 100) is first  # same filter
    assert lexical.allowed(parse_query("w"), 100) is None  # no constraint
    lexical.upsert([LexicalDoc(2, "c", "d", ["X Y"], ["cs.CL"], None)])  # commits and reloads
    again = lexical.allowed(parsed, 100)
    assert again is not first and sorted(again.pks.tolist()) == [1, 2]
    assert again.contains(np.array([1, 2, 3, -1, 10**6])).tolist() == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_the_exact_scan_reads_a_cached_copy_of_the_filters_rows(corpus: SimpleNamespace) -> None:
    """A narrow filter is scored from a float32 copy of its own rows, made once and kept
    under its ``Allowed`` until the vectors change."""
    workspace = corpus.workspace
    vectors = with_config(corpus, replace(GRAPH_FIRST, exact_filtered_below=0.5))
    parsed = parse_query("w cat:q-bio.NC")
    allowed = workspace.indexes.lexical_index.allowed(parsed, N)
    first = workspace.indexes.dense(corpus.queries[1], 100, parsed)
    keys, matrix = vectors._current().subsets[allowed]
    rows = [corpus.pks.tolist().index(pk) for pk in keys.tolist()]
    assert sorted(keys.tolist()) == sorted(allowed.pks.tolist())
    assert np.array_equal(matrix, corpus.matrix[rows])
    again = workspace.indexes.dense(corpus.queries[1], 100, parsed)
    assert again == first and vectors._current().subsets[allowed][1] is matrix  # not copied
    assert [h.pk for h in first] == brute_force(corpus, parsed, corpus.queries[1], 100)


@pytest.fixture
def small_index(tmp_path: Path) -> SimpleNamespace:
    """1,000 random unit vectors, saved (one float32 main segment), no graph (the subsets do
    not depend on one); at most 8 filters' rows are kept."""
    rng = np.random.default_rng(5)
    pks = rng.permutation(np.arange(10, 5010, 5, dtype=np.int64))  # keys in no order
    matrix = rng.normal(size=(len(pks), DIM)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    index = VectorIndex(tmp_path / "vectors", DIM, VectorConfig(subset_entries=8))
    index.upsert(pks, matrix)
    index.save()
    queries = rng.normal(size=(5, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return SimpleNamespace(index=index, pks=pks, matrix=matrix, rng=rng, queries=queries)


def same_hits(a: list[VectorHit], b: list[VectorHit]) -> bool:
    return [h.pk for h in a] == [h.pk for h in b] and [h.similarity for h in a] == pytest.approx(
        [h.similarity for h in b]
    )


def test_cached_subsets_answer_as_the_uncached_scan_and_stay_within_bounds(
    small_index: SimpleNamespace,
) -> None:
    index, rng = small_index.index, small_index.rng
    sets = [
        rng.choice(small_index.pks, size, replace=False)
        for size in rng.integers(1, len(small_index.pks) // 2, 30)
    ]
    sets.append(np.array([10, 15, 999_999]))  # an unknown pk is skipped, as without a key
    for _ in range(2):  # the second time from the cache (or rebuilt after eviction)
        for i, pks in enumerate(sets):
            for query in small_index.queries:
                cached = index.search(query, 20, pks, key=("set", i))
                assert same_hits(cached, index.search(query, 20, pks))
                assert {h.pk for h in cached} <= set(pks.tolist())
            view = index._current()
            assert ("set", i) in view.subsets
            assert len(view.subsets) <= index.config.subset_entries
            assert view.subset_rows == sum(len(k) for k, _ in view.subsets.values())
            assert view.subset_rows <= index.config.subset_rows
    broad = small_index.pks[: len(small_index.pks) // 2 + 1]  # above half: every row is scored
    assert same_hits(
        index.search(small_index.queries[0], 20, broad, key="broad"),
        index.search(small_index.queries[0], 20, broad),
    )
    assert "broad" not in index._current().subsets


def test_cached_subsets_are_dropped_when_the_vectors_change(small_index: SimpleNamespace) -> None:
    index, query = small_index.index, small_index.queries[0]
    allowed = small_index.pks[:100]
    before = index.search(query, 5, allowed, key="f")
    target = int(allowed[-1])
    assert target not in [h.pk for h in before]
    assert "f" in index._current().subsets
    index.upsert(np.array([target]), query[None, :])
    assert not index._current().subsets
    after = index.search(query, 5, allowed, key="f")
    assert after[0].pk == target and after[0].similarity == pytest.approx(1.0)


def test_nearest_is_search_as_arrays(small_index: SimpleNamespace) -> None:
    index, query = small_index.index, small_index.queries[0]
    for allowed, key in ((None, None), (small_index.pks[:300], None), (small_index.pks[:300], 1)):
        keys, similarities = index.nearest(query, 25, allowed, key)
        hits = index.search(query, 25, allowed, key)
        assert keys.dtype == np.int64 and similarities.dtype == np.float64
        assert [(h.pk, h.similarity) for h in hits] == list(
            zip(keys.tolist(), similarities.tolist(), strict=True)
        )


def test_scores_in_blocks_of_rows_rank_as_one_product(small_index: SimpleNamespace) -> None:
    """Exact scans multiply in blocks of rows (``VectorConfig.score_block``, so OpenBLAS
    stays on one thread): the same ranking as one product of the whole matrix or subset."""
    blocks_of_7 = VectorConfig(subset_entries=8, score_block=7 * DIM)
    index = VectorIndex(small_index.index.path, DIM, blocks_of_7)  # the same files
    pks, matrix = small_index.pks, small_index.matrix  # a small main segment: exact float32
    for query in small_index.queries:
        for allowed, key in ((None, None), (pks[:900], None), (pks[:100], None), (pks[:100], 2)):
            rows = np.arange(len(pks)) if allowed is None else np.flatnonzero(np.isin(pks, allowed))
            scores = matrix[rows] @ query
            expected = np.argsort(-scores, kind="stable")[:20]
            hits = index.search(query, 20, allowed, key)
            assert [h.pk for h in hits] == pks[rows][expected].tolist()
            assert [h.similarity for h in hits] == pytest.approx(scores[expected].tolist())
