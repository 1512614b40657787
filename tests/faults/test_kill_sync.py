"""``kill -9`` during an index sync (the embedding after an import, a full reindex): the next
command or ``serve`` catches up by itself and ``paperfeed check`` is clean."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from _core_helpers import SEED_COUNT, SHARED
from _fault_helpers import PAPERFEED, QUERIES, check_json, env_for, search_ids, served

from paperfeed.workspace import Workspace


def _start(data_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    if not PAPERFEED.exists():
        pytest.skip(f"console script not installed at {PAPERFEED}")
    return subprocess.Popen(
        [str(PAPERFEED), *args],
        env=env_for(data_dir),
        cwd=data_dir.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_when(process: subprocess.Popen[bytes], ready: object, what: str) -> None:
    """SIGKILL ``process`` as soon as ``ready()`` holds; skip if it finished first."""
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.01)
    process.kill()
    process.wait()
    pytest.skip(f"the command finished before it could be killed {what} (machine too fast)")


def _state(data_dir: Path) -> dict:
    try:
        return json.loads((data_dir / "index" / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def test_kill_9_while_a_full_reindex_writes_then_serve_catches_up(
    demo_dir: Path, demo_workspace: Workspace
) -> None:
    expected = {query: search_ids(demo_workspace.settings.data_dir, query)[0] for query in QUERIES}
    process = _start(demo_dir, "reindex", "--full")
    # Reset done (no progress recorded), the text index being written: kill it there.
    _kill_when(
        process,
        lambda: "model" in _state(demo_dir) and "lexical_seq" not in _state(demo_dir),
        "while writing the indexes",
    )
    assert process.returncode == -signal.SIGKILL
    report = check_json(demo_dir)
    assert not report["ok"]
    assert {p["repair"] for p in report["problems"]} <= {
        "paperfeed reindex",
        "paperfeed reindex --full",
    }

    with served(demo_dir) as base:  # serve syncs before it listens
        for query in QUERIES:
            answer = httpx.get(f"{base}/api/v1/search", params={"q": query, "limit": 10})
            assert [hit["id"] for hit in answer.json()["results"]] == expected[query]
    after = check_json(demo_dir)
    assert after["ok"], after["problems"]


def test_kill_9_while_embedding_after_an_import_then_the_next_command_catches_up(
    tmp_path: Path,
) -> None:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    if len(seeds) != 5:
        pytest.skip(f"seed pages not found in {SHARED / 'seeds'}")
    data_dir = tmp_path / "data"
    process = _start(data_dir, "ingest", "hf-page", *map(str, seeds))

    def some_embedded() -> bool:  # the first batch of 256 vectors is committed
        try:
            with sqlite3.connect(data_dir / "paperfeed.db", timeout=30) as db:
                return db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] > 0
        except sqlite3.OperationalError:
            return False  # not created yet

    _kill_when(process, some_embedded, "while embedding")
    report = check_json(data_dir)
    assert not report["ok"]
    assert report["counts"]["papers"] == SEED_COUNT
    assert any(p["part"] == "embeddings" for p in report["problems"]) or any(
        p["part"].endswith("index") and p["repair"] == "paperfeed reindex"
        for p in report["problems"]
    )

    ids, _ = search_ids(data_dir, "2D Matryoshka sentence embeddings")  # syncs first
    assert ids
    after = check_json(data_dir)
    assert after["ok"], after["problems"]
    assert after["counts"]["embeddings"] == after["counts"]["vectors"] == SEED_COUNT
