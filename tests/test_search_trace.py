"""``search(..., trace=)``: the stages one search ran, their times and the candidate counts."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from paperfeed.bounds import MAX_SEARCH_DEPTH
from paperfeed.db import Paper
from paperfeed.search import SearchResults, SearchTrace, search
from paperfeed.workspace import Workspace

QUERY = "2D Matryoshka sentence embeddings"
FILTERED = "quark mass cat:hep-ph"  # the Kaggle sample has categories; the seed pages do not

STAGES = {
    "lexical": ["parse", "refresh", "lexical", "fusion", "load papers"],
    # lexical evidence decides what matches in every mode
    "dense": ["parse", "refresh", "lexical", "embed query", "dense", "fusion", "load papers"],
    "hybrid": ["parse", "refresh", "lexical", "embed query", "dense", "fusion", "load papers"],
}


def traced(ws: Workspace, query: str, **kw: object) -> tuple[SearchResults, SearchTrace, float]:
    """The results, the trace and the wall time of one call."""
    trace = SearchTrace()
    t0 = time.perf_counter()
    results = search(ws, query, trace=trace, **kw)  # type: ignore[arg-type]
    return results, trace, time.perf_counter() - t0


def ranking(results: SearchResults) -> list[tuple[str, float, dict[str, object]]]:
    return [(h.paper.id, h.score, h.explanation.as_dict()) for h in results.hits]


def check_times(trace: SearchTrace, wall: float) -> None:
    assert all(seconds >= 0.0 for seconds in trace.stages.values())
    assert trace.total == pytest.approx(sum(trace.stages.values()))
    assert trace.total <= wall


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_the_trace_names_the_stages_each_mode_runs_in_order(
    seeded_workspace: Workspace, mode: str
) -> None:
    results, trace, wall = traced(seeded_workspace, QUERY, mode=mode, limit=5)
    assert list(trace.stages) == STAGES[mode]
    check_times(trace, wall)
    retrievers = {"lexical": ["lexical"], "dense": ["lexical", "dense"]}
    assert sorted(trace.counts) == sorted(retrievers.get(mode, ["lexical", "dense"]))
    assert 0 < trace.counts["lexical"] <= MAX_SEARCH_DEPTH  # counted deep: it decides `total`
    assert 0 < trace.counts.get("dense", 1) <= 100  # SearchConfig.candidates
    if mode == "dense":  # ranked by meaning: the matches are among the dense candidates
        assert 0 < results.total <= trace.counts["dense"]
    else:  # every paper holding a query word matches
        assert results.total >= trace.counts["lexical"]


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_a_filtered_query_traces_the_filter_before_dense_retrieval(
    kaggle_workspace: Workspace, mode: str
) -> None:
    results, trace, wall = traced(kaggle_workspace, FILTERED, mode=mode, limit=10)
    assert results.hits
    check_times(trace, wall)
    if mode == "lexical":  # tantivy applies the filter within the lexical query
        assert list(trace.stages) == STAGES["lexical"]
        return
    stages = list(trace.stages)
    assert stages[stages.index("embed query") + 1 : stages.index("dense")] == ["filters"]
    with kaggle_workspace.db.session() as session:
        categories = session.scalars(select(Paper.categories)).all()
    assert trace.counts["filters"] == sum("hep-ph" in c for c in categories)
    assert trace.counts["dense"] <= trace.counts["filters"]


def test_a_filters_only_query_traces_browsing(kaggle_workspace: Workspace) -> None:
    results, trace, wall = traced(kaggle_workspace, "cat:hep-ph", limit=10)
    assert list(trace.stages) == ["parse", "refresh", "browse", "load papers"]
    assert trace.counts == {"browse": results.total}
    check_times(trace, wall)


def test_explain_is_a_stage_of_its_own(seeded_workspace: Workspace) -> None:
    _, trace, wall = traced(seeded_workspace, QUERY, explain=True)
    assert list(trace.stages) == [*STAGES["hybrid"], "explain"]
    check_times(trace, wall)


@pytest.mark.parametrize(
    ("query", "kw"),
    [
        (QUERY, {"mode": "lexical"}),
        (QUERY, {"mode": "dense"}),
        (QUERY, {"mode": "hybrid", "explain": True}),
        (QUERY, {"mode": "hybrid", "limit": 5, "offset": 5}),
        (FILTERED, {"mode": "hybrid"}),
        (FILTERED, {"mode": "dense"}),
        ("cat:hep-ph", {}),
    ],
)
def test_results_are_the_same_with_and_without_a_trace(
    seeded_workspace: Workspace, kaggle_workspace: Workspace, query: str, kw: dict[str, object]
) -> None:
    ws = kaggle_workspace if "cat:" in query else seeded_workspace
    plain = search(ws, query, **kw)  # type: ignore[arg-type]
    with_trace, trace, _ = traced(ws, query, **kw)
    assert trace.stages
    assert ranking(with_trace) == ranking(plain)
    assert (with_trace.total, with_trace.offset, with_trace.limit) == (
        plain.total,
        plain.offset,
        plain.limit,
    )


def test_a_reused_trace_holds_only_the_last_call(seeded_workspace: Workspace) -> None:
    trace = SearchTrace()
    search(seeded_workspace, QUERY, mode="hybrid", explain=True, trace=trace)
    search(seeded_workspace, QUERY, mode="lexical", trace=trace)
    assert list(trace.stages) == STAGES["lexical"]
    assert list(trace.counts) == ["lexical"]
