"""Filtered dense search (``Indexes.dense``) against brute force, on a synthetic
corpus of 2,000 papers in five categories with an HNSW graph.

The passing papers come from ``LexicalIndex.allowed`` (cached per filter) and are tested with
a numpy mask, and the exact scan multiplies a copy of the filter's rows kept by the vector
index (``VectorIndex.search(..., key=)``); these tests pin that the results are those of the
earlier path (tantivy checking the filter for the graph's candidates, then an exact scan of
the whole matrix when too few pass: the same papers in the same order, similarities to float
precision) and of a brute-force filtered ranking where the exact scan answers.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from paperfeed.search import index as index_module
from paperfeed.search.index import Indexes
from paperfeed.search.index import vectors as vectors_module
from paperfeed.search.index.lexical import LexicalDoc, LexicalIndex
from paperfeed.search.index.vectors import VectorHit, VectorIndex
from paperfeed.search.query import ParsedQuery, parse_query

DIM = 32
N = 2000
CATEGORIES = ("cs.CL", "cs.LG", "cs.CV", "math.ST", "q-bio.NC")
# cs.CL a third of the papers, the others fewer, q-bio.NC rare: broad and narrow filters.
WEIGHTS = (0.34, 0.3, 0.2, 0.12, 0.04)
AUTHORS = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra")


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
    old_threshold = vectors_module.EXACT_BELOW
    vectors_module.EXACT_BELOW = 100  # a graph even for this small corpus
    try:
        vectors = VectorIndex(root / "vectors", DIM)
        vectors.upsert(pks, matrix)
    finally:
        vectors_module.EXACT_BELOW = old_threshold
    assert vectors.has_graph
    indexes = Indexes(root / "index")  # serving the parts built here
    indexes.lexical_index, indexes.vector_index = lexical, vectors
    workspace = SimpleNamespace(indexes=indexes)
    queries = [m / np.linalg.norm(m) for m in rng.normal(size=(12, DIM)).astype(np.float32)]
    return SimpleNamespace(
        workspace=workspace,
        pks=pks,
        matrix=matrix,
        categories=categories,
        authors=authors,
        queries=queries,
    )


@pytest.fixture(autouse=True)
def graph_for_any_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every filter of this small corpus is below ``EXACT_FILTERED_BELOW``: without this, the
    graph path would never run here (``test_filters_below_the_threshold_skip_the_graph``
    restores it)."""
    monkeypatch.setattr(index_module, "EXACT_FILTERED_BELOW", 0)


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


def earlier_path(
    workspace: SimpleNamespace, parsed: ParsedQuery, vector: np.ndarray, depth: int
) -> list[VectorHit]:
    """Filtered dense search as it once was: tantivy checks the graph's candidates."""
    indexes = workspace.indexes
    if indexes.vector_index.has_graph:
        candidates = indexes.vector_index.search(vector, depth * index_module.OVERSAMPLE)
        among = [h.pk for h in candidates]
        passing = set(indexes.lexical_index.filter_pks(parsed, len(among), among=among) or ())
        hits = [h for h in candidates if h.pk in passing]
        if len(hits) >= depth:
            return hits[:depth]
    allowed = indexes.lexical_index.filter_pks(parsed, indexes.lexical_index.num_docs)
    return indexes.vector_index.search(vector, depth, allowed)


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
def test_filtered_dense_equals_the_earlier_path_and_brute_force(
    corpus: SimpleNamespace, filters: str, depth: int
) -> None:
    parsed = parse_query(f"words {filters}")
    expected_pass = [pk for pk in corpus.pks.tolist() if passes(corpus, parsed, pk)]
    assert expected_pass, filters
    graph_answers = exact_answers = found = 0
    for query in corpus.queries:
        hits = corpus.workspace.indexes.dense(query, depth, parsed)
        earlier = earlier_path(corpus.workspace, parsed, query, depth)
        assert [h.pk for h in hits] == [h.pk for h in earlier]
        # The exact scan now multiplies the filter's own copy of its rows: the same float32
        # dot products, but BLAS may sum a few rows (at the ends of its blocks) in another
        # order, so similarities may differ in the last bit.
        assert [h.similarity for h in hits] == pytest.approx([h.similarity for h in earlier])
        assert all(passes(corpus, parsed, h.pk) for h in hits)
        similarities = [h.similarity for h in hits]
        assert similarities == sorted(similarities, reverse=True)
        # Where the graph's oversampled neighbours hold enough passing papers they answer
        # (approximate: the graph stores f16 vectors); otherwise the exact scan, which must
        # equal brute force.
        neighbours = corpus.workspace.indexes.vector_index.search(
            query, depth * index_module.OVERSAMPLE
        )
        exact = brute_force(corpus, parsed, query, depth)
        if len(expected_pass) >= depth and (
            sum(passes(corpus, parsed, h.pk) for h in neighbours) >= depth
        ):
            graph_answers += 1
            assert len(hits) == depth
            found += len({h.pk for h in hits} & set(exact))
        else:
            exact_answers += 1
            assert [h.pk for h in hits] == exact
    if len(expected_pass) < depth:
        assert graph_answers == 0
    assert graph_answers + exact_answers == len(corpus.queries)
    # Recall over all the graph's answers, not per query: the graph is built by several
    # threads, so which neighbour a single query misses varies from one build to the next.
    assert found >= 0.9 * depth * graph_answers


def test_both_paths_are_exercised(corpus: SimpleNamespace) -> None:
    """The cases above include answers from the graph and from the exact scan."""
    broad, narrow = parse_query("w cat:cs.CL"), parse_query("w cat:q-bio.NC")
    query = corpus.queries[0]
    neighbours = corpus.workspace.indexes.vector_index.search(query, 5 * index_module.OVERSAMPLE)
    assert sum(passes(corpus, broad, h.pk) for h in neighbours) >= 5
    neighbours = corpus.workspace.indexes.vector_index.search(query, 100 * index_module.OVERSAMPLE)
    assert sum(passes(corpus, narrow, h.pk) for h in neighbours) < 100


@pytest.mark.parametrize("filters", FILTERS)
def test_filters_below_the_threshold_skip_the_graph(
    corpus: SimpleNamespace, filters: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter passing fewer than ``EXACT_FILTERED_BELOW`` papers is scored exactly without
    asking the graph first: the answer is brute force's, also where the graph would answer."""
    monkeypatch.setattr(index_module, "EXACT_FILTERED_BELOW", N + 1)
    vectors = corpus.workspace.indexes.vector_index
    graph_calls: list[int] = []
    graph = vectors._graph
    monkeypatch.setattr(vectors, "_graph", lambda q, k: graph_calls.append(k) or graph(q, k))
    parsed = parse_query(f"words {filters}")
    for depth in (5, 100):
        for query in corpus.queries:
            hits = corpus.workspace.indexes.dense(query, depth, parsed)
            assert [h.pk for h in hits] == brute_force(corpus, parsed, query, depth)
    assert graph_calls == []
    # With the threshold at 0 the same broad filter goes to the graph first.
    monkeypatch.setattr(index_module, "EXACT_FILTERED_BELOW", 0)
    broad = parse_query("w cat:cs.CL")
    corpus.workspace.indexes.dense(corpus.queries[0], 5, broad)
    assert graph_calls == [5 * index_module.OVERSAMPLE]


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
    """A narrow filter (too few of the graph's neighbours pass) is scored from a copy of its
    own rows, made once and kept under its ``Allowed`` until the vectors change."""
    workspace, vectors = corpus.workspace, corpus.workspace.indexes.vector_index
    parsed = parse_query("w cat:q-bio.NC")
    allowed = workspace.indexes.lexical_index.allowed(parsed, N)
    first = workspace.indexes.dense(corpus.queries[1], 100, parsed)
    keys, matrix = vectors._subsets[allowed]
    rows = [corpus.pks.tolist().index(pk) for pk in allowed.pks.tolist()]
    assert keys.tolist() == allowed.pks.tolist()
    assert np.array_equal(matrix, corpus.matrix[rows])
    again = workspace.indexes.dense(corpus.queries[1], 100, parsed)
    assert again == first and vectors._subsets[allowed][1] is matrix  # not copied again
    assert [h.pk for h in first] == brute_force(corpus, parsed, corpus.queries[1], 100)


@pytest.fixture
def small_index(tmp_path: Path) -> SimpleNamespace:
    """1,000 random unit vectors, no graph (the subsets do not depend on one)."""
    rng = np.random.default_rng(5)
    pks = rng.permutation(np.arange(10, 5010, 5, dtype=np.int64))  # keys in no order
    matrix = rng.normal(size=(len(pks), DIM)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    index = VectorIndex(tmp_path / "vectors", DIM)
    index.upsert(pks, matrix)
    queries = rng.normal(size=(5, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return SimpleNamespace(index=index, pks=pks, rng=rng, queries=queries)


def same_hits(a: list[VectorHit], b: list[VectorHit]) -> bool:
    return [h.pk for h in a] == [h.pk for h in b] and [h.similarity for h in a] == pytest.approx(
        [h.similarity for h in b]
    )


def test_cached_subsets_answer_as_the_uncached_scan_and_stay_within_bounds(
    small_index: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors_module, "SUBSET_ENTRIES", 8)
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
            assert ("set", i) in index._subsets
            assert len(index._subsets) <= vectors_module.SUBSET_ENTRIES
            assert index._subset_rows == sum(len(k) for k, _ in index._subsets.values())
            assert index._subset_rows <= len(index)
    broad = small_index.pks[: len(small_index.pks) // 2 + 1]  # above half: every row is scored
    assert same_hits(
        index.search(small_index.queries[0], 20, broad, key="broad"),
        index.search(small_index.queries[0], 20, broad),
    )
    assert "broad" not in index._subsets


def test_cached_subsets_are_dropped_when_the_vectors_change(small_index: SimpleNamespace) -> None:
    index, query = small_index.index, small_index.queries[0]
    allowed = small_index.pks[:100]
    before = index.search(query, 5, allowed, key="f")
    target = int(allowed[-1])
    assert target not in [h.pk for h in before]
    index.upsert(np.array([target]), query[None, :])
    assert not index._subsets
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


def test_scores_in_blocks_of_rows_rank_as_one_product(
    small_index: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exact scans multiply in blocks of rows (``SCORE_BLOCK``, so OpenBLAS stays on one
    thread): the same ranking as one product of the whole matrix or subset."""
    monkeypatch.setattr(vectors_module, "SCORE_BLOCK", 7 * DIM)  # blocks of 7 rows
    index, pks = small_index.index, small_index.pks
    matrix = index._matrix
    for query in small_index.queries:
        scores = vectors_module._scores(matrix, query)
        assert scores.dtype == np.float32 and np.allclose(scores, matrix @ query, atol=1e-6)
        for allowed, key in ((None, None), (pks[:900], None), (pks[:100], None), (pks[:100], 2)):
            rows = np.arange(len(pks)) if allowed is None else index._rows_of(allowed)
            expected = np.argsort(-(matrix[rows] @ query), kind="stable")[:20]
            hits = index.search(query, 20, allowed, key)
            assert [h.pk for h in hits] == index._keys[rows][expected].tolist()
            assert [h.similarity for h in hits] == pytest.approx(
                (matrix[rows] @ query)[expected].tolist()
            )
