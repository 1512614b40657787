"""Filtered dense search (``search._filtered_dense``) against brute force, on a synthetic
corpus of 2,000 papers in five categories with an HNSW graph.

The passing papers come from ``LexicalIndex.allowed`` (cached per filter) and are tested with
a numpy mask; these tests pin that the results are exactly those of the earlier path (tantivy
checking the filter for the graph's candidates, then an exact scan when too few pass) and of
a brute-force filtered ranking where the exact scan answers.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from paperfeed import search as search_module
from paperfeed.index import vectors as vectors_module
from paperfeed.index.lexical import LexicalDoc, LexicalIndex
from paperfeed.index.vectors import VectorHit, VectorIndex
from paperfeed.query import ParsedQuery, parse_query

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
    workspace = SimpleNamespace(indexes=SimpleNamespace(lexical=lexical, vectors=vectors))
    queries = [m / np.linalg.norm(m) for m in rng.normal(size=(12, DIM)).astype(np.float32)]
    return SimpleNamespace(
        workspace=workspace,
        pks=pks,
        matrix=matrix,
        categories=categories,
        authors=authors,
        queries=queries,
    )


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
    """``_filtered_dense`` as it was: tantivy checks the filter for the graph's candidates."""
    indexes = workspace.indexes
    if indexes.vectors.has_graph:
        candidates = indexes.vectors.search(vector, depth * search_module.OVERSAMPLE)
        among = [h.pk for h in candidates]
        passing = set(indexes.lexical.filter_pks(parsed, len(among), among=among) or ())
        hits = [h for h in candidates if h.pk in passing]
        if len(hits) >= depth:
            return hits[:depth]
    allowed = indexes.lexical.filter_pks(
        parsed, min(search_module.MAX_FILTERED, indexes.lexical.num_docs)
    )
    return indexes.vectors.search(vector, depth, allowed)


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
    graph_answers = exact_answers = 0
    for query in corpus.queries:
        hits = search_module._filtered_dense(corpus.workspace, parsed, query, depth)
        assert [(h.pk, h.similarity) for h in hits] == [
            (h.pk, h.similarity) for h in earlier_path(corpus.workspace, parsed, query, depth)
        ]
        assert all(passes(corpus, parsed, h.pk) for h in hits)
        similarities = [h.similarity for h in hits]
        assert similarities == sorted(similarities, reverse=True)
        # Where the graph's oversampled neighbours hold enough passing papers they answer
        # (approximate: the graph stores f16 vectors); otherwise the exact scan, which must
        # equal brute force.
        neighbours = corpus.workspace.indexes.vectors.search(
            query, depth * search_module.OVERSAMPLE
        )
        exact = brute_force(corpus, parsed, query, depth)
        if len(expected_pass) >= depth and (
            sum(passes(corpus, parsed, h.pk) for h in neighbours) >= depth
        ):
            graph_answers += 1
            assert len(hits) == depth
            assert len({h.pk for h in hits} & set(exact)) >= 0.9 * depth
        else:
            exact_answers += 1
            assert [h.pk for h in hits] == exact
    if len(expected_pass) < depth:
        assert graph_answers == 0
    assert graph_answers + exact_answers == len(corpus.queries)


def test_both_paths_are_exercised(corpus: SimpleNamespace) -> None:
    """The cases above include answers from the graph and from the exact scan."""
    broad, narrow = parse_query("w cat:cs.CL"), parse_query("w cat:q-bio.NC")
    query = corpus.queries[0]
    neighbours = corpus.workspace.indexes.vectors.search(query, 5 * search_module.OVERSAMPLE)
    assert sum(passes(corpus, broad, h.pk) for h in neighbours) >= 5
    neighbours = corpus.workspace.indexes.vectors.search(query, 100 * search_module.OVERSAMPLE)
    assert sum(passes(corpus, narrow, h.pk) for h in neighbours) < 100


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
