"""Damaged index files: no crash, a logged warning, a rebuild from the database, right
answers; ``paperfeed check`` reports the damage before and nothing after."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from _fault_helpers import QUERIES, check_json, ok, run, search_ids, served

from paperfeed.config import Settings
from paperfeed.ops.check import check
from paperfeed.search.catchup import catch_up
from paperfeed.search.index import Indexes
from paperfeed.search.index.vectors import VectorConfig
from paperfeed.workspace import Workspace


def _segment_file(data_dir: Path, ext: str) -> Path:
    return max((data_dir / "index" / "lexical").glob(f"*.{ext}"), key=lambda p: p.stat().st_size)


def _vector_file(data_dir: Path, name: str) -> Path:
    """A file of the main vector segment ``CURRENT`` names."""
    vectors = data_dir / "index" / "vectors"
    return vectors / json.loads((vectors / "CURRENT").read_text())["main"] / name


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(np.random.default_rng(7).bytes(max(path.stat().st_size, 64)))


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for position in range(len(data) // 3, len(data) - 200, max(1, len(data) // 300)):
        data[position] ^= 0x5A
    path.write_bytes(data)


DAMAGE = {
    "vectors.npy truncated": lambda d: _truncate(_vector_file(d, "vectors.npy")),
    "keys.npy garbage": lambda d: _garbage(_vector_file(d, "keys.npy")),
    "vectors.npy missing": lambda d: _vector_file(d, "vectors.npy").unlink(),
    "tantivy .term truncated": lambda d: _truncate(_segment_file(d, "term")),
    "tantivy .store garbage": lambda d: _garbage(_segment_file(d, "store")),
    "tantivy .idx bytes flipped": lambda d: _flip(_segment_file(d, "idx")),
    "tantivy .pos missing": lambda d: _segment_file(d, "pos").unlink(),
    "tantivy meta.json garbage": lambda d: _garbage(d / "index" / "lexical" / "meta.json"),
    "state.json garbage": lambda d: _garbage(d / "index" / "state.json"),
    "index directory deleted": lambda d: shutil.rmtree(d / "index"),
}


@pytest.fixture(scope="module")
def expected(demo_workspace: Workspace) -> dict[str, list[str]]:
    """What the intact demo copy answers, through the same command."""
    data_dir = demo_workspace.settings.data_dir
    return {query: search_ids(data_dir, query)[0] for query in QUERIES}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_index_is_reported_then_rebuilt_by_the_next_command(
    demo_dir: Path, expected: dict[str, list[str]], damage: str
) -> None:
    assert check_json(demo_dir)["ok"]
    DAMAGE[damage](demo_dir)

    before = check_json(demo_dir)
    assert not before["ok"]
    assert all(p["repair"].startswith("paperfeed reindex") for p in before["problems"])

    query = QUERIES[0]
    ids, stderr = search_ids(demo_dir, query)  # repairs, then answers
    assert ids == expected[query]
    if damage != "index directory deleted":  # nothing to warn about: a first start
        assert "rebuilding" in stderr and "from the database" in stderr, stderr
    after = check_json(demo_dir)
    assert after["ok"] and after["problems"] == []


def test_a_server_started_on_damaged_indexes_repairs_them_and_answers(
    demo_dir: Path, expected: dict[str, list[str]]
) -> None:
    DAMAGE["tantivy .term truncated"](demo_dir)
    DAMAGE["keys.npy garbage"](demo_dir)
    with served(demo_dir) as base:
        for query in QUERIES:
            answer = httpx.get(f"{base}/api/v1/search", params={"q": query, "limit": 10})
            assert answer.status_code == 200, answer.text
            assert [hit["id"] for hit in answer.json()["results"]] == expected[query]
    assert ok(run(demo_dir, "check"))


def test_a_damaged_graph_file_never_reaches_usearch(
    demo_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """usearch crashes the process on a graph file with flipped bytes (seen as a segfault);
    the demo has too few papers for a graph, so the threshold is lowered here."""
    config = VectorConfig(exact_below=500)
    ws = Workspace.open(Settings(data_dir=demo_dir), vector_config=config)
    # ``check`` expects a graph by the workspace's threshold: the demo's files have none
    assert any("no HNSW graph" in p.message for p in check(ws).problems)
    ws.indexes.reset()
    catch_up(ws)
    assert ws.indexes.vector_index.has_graph
    query = ws.indexes.vector_index.vector(1)
    assert query is not None
    intact = ws.indexes.vector_index.search(query, 10)
    graph = _vector_file(demo_dir, "hnsw.usearch")
    _flip(graph)
    assert any("hnsw.usearch" in p.message for p in check(ws).problems)

    with caplog.at_level(logging.WARNING, logger="paperfeed.search.index"):
        reopened = Indexes(demo_dir / "index", config)
    assert "hnsw.usearch" in caplog.text and "rebuilding it from the database" in caplog.text
    reopened.sync(ws.db)
    assert reopened.vector_index.has_graph
    # The graph is rebuilt, not restored: an approximate graph built again (usearch adds in
    # parallel) may swap a near-tie at the tail, so the answer is compared as recall.
    rebuilt = reopened.vector_index.search(query, 10)
    assert rebuilt[0] == intact[0]
    assert len({h.pk for h in rebuilt} & {h.pk for h in intact}) >= 9
    assert check(ws).ok
    ws.db.engine.dispose()


def test_a_running_process_keeps_answering_while_another_rebuilds_a_deleted_index(
    demo_dir: Path,
) -> None:
    """The directory deleted under a server: its loaded indexes go on answering; the next
    sync anywhere (here another process's) rebuilds it, and the server picks that up."""
    ws = Workspace.open(Settings(data_dir=demo_dir))
    serving = ws.indexes
    query = serving.vector_index.vector(5)
    assert query is not None
    before = serving.vector_index.search(query, 10)
    shutil.rmtree(demo_dir / "index")
    serving.refresh()
    assert serving.vector_index.search(query, 10) == before

    ok(run(demo_dir, "reindex"))
    serving.refresh()
    assert serving.vector_index.search(query, 10) == before
    assert serving.lexical_index.num_docs == len(serving.vector_index) == 2076
    assert check(ws).ok
    ws.db.engine.dispose()
