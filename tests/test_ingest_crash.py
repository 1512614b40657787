"""A real crash: `paperfeed ingest` killed with SIGKILL mid-import, then run again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

DAYS = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv_daily_cs" / "days"
PAPERFEED = Path(sys.executable).parent / "paperfeed"


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data_dir), "PAPERFEED_INGEST_BATCH_SIZE": "100"}
    return subprocess.run(
        [str(PAPERFEED), *args], env=env, capture_output=True, text=True, timeout=600, check=True
    )


def _papers(data_dir: Path) -> dict[str, tuple]:
    with sqlite3.connect(data_dir / "paperfeed.db") as db:
        rows = db.execute("SELECT id, title, abstract, categories, version FROM papers").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_kill_9_mid_ingest_then_rerun_gives_the_same_database(tmp_path: Path) -> None:
    files = sorted(DAYS.glob("*.jsonl.gz"))[:6]
    if len(files) < 6:
        pytest.skip(f"arXiv daily listings not found in {DAYS}")
    paths = [str(p) for p in files]

    clean = tmp_path / "clean"
    _run(clean, "ingest", "arxiv-daily", *paths, "--no-index")

    crashed = tmp_path / "crashed"
    _run(crashed, "init")
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(crashed), "PAPERFEED_INGEST_BATCH_SIZE": "100"}
    process = subprocess.Popen(
        [str(PAPERFEED), "ingest", "arxiv-daily", *paths, "--no-index"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        with sqlite3.connect(crashed / "paperfeed.db", timeout=30) as db:
            query = "SELECT COALESCE(SUM(items_done), 0) FROM ingest_checkpoints"
            done = db.execute(query).fetchone()[0]
        if done >= 500:
            break
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.skip("the import finished before it could be killed (machine too fast)")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert done >= 500
    assert 0 < len(_papers(crashed)) < len(_papers(clean))  # some batches made it, not all

    with sqlite3.connect(crashed / "paperfeed.db") as db:
        partial = db.execute(
            "SELECT COUNT(*) FROM ingest_checkpoints WHERE NOT complete AND items_done > 0"
        ).fetchone()[0]
        runs = db.execute("SELECT status FROM ingest_runs").fetchall()
    assert runs == [("running",)]  # SIGKILL leaves no chance to record an end

    rerun = _run(crashed, "ingest", "arxiv-daily", *paths, "--no-index")
    # Killed mid-file, the re-run skips that file's committed batches and says so.
    assert ("resumed after" in " ".join(rerun.stderr.split())) == bool(partial)
    with sqlite3.connect(crashed / "paperfeed.db") as db:
        runs = db.execute("SELECT status FROM ingest_runs ORDER BY pk").fetchall()
    assert runs == [("crashed",), ("done",)]  # the killed run is recognised as such
    assert _papers(crashed) == _papers(clean)
    stats = json.loads(_run(crashed, "stats", "--json").stdout)
    assert stats["papers"] == len(_papers(clean))
