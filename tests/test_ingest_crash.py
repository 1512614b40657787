"""A real crash: `paperfeed ingest` killed with SIGKILL mid-import, then run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _backends
import pytest
from sqlalchemy import create_engine, text

from paperfeed.config import Settings

DAYS = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv_daily_cs" / "days"
PAPERFEED = Path(sys.executable).parent / "paperfeed"


def _env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_INGEST_BATCH_SIZE": "100",
    }
    if settings.database_url:  # PostgreSQL (``--backend postgres``)
        env["PAPERFEED_DATABASE_URL"] = settings.database_url
        env["PAPERFEED_SECRET_KEY"] = _backends.SECRET_KEY
    return env


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PAPERFEED), *args],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )


def _rows(settings: Settings, query: str) -> list[Any]:
    engine = create_engine(settings.db_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


def _papers(settings: Settings) -> dict[str, tuple]:
    rows = _rows(settings, "SELECT id, title, abstract, categories, version FROM papers")
    return {row[0]: row[1:] for row in rows}


def test_kill_9_mid_ingest_then_rerun_gives_the_same_database(tmp_path: Path) -> None:
    files = sorted(DAYS.glob("*.jsonl.gz"))[:6]
    if len(files) < 6:
        pytest.skip(f"arXiv daily listings not found in {DAYS}")
    paths = [str(p) for p in files]

    clean = _backends.settings_for(tmp_path / "clean")
    _run(clean, "ingest", "arxiv-daily", *paths, "--no-index")

    crashed = _backends.settings_for(tmp_path / "crashed")
    _run(crashed, "init")
    process = subprocess.Popen(
        [str(PAPERFEED), "ingest", "arxiv-daily", *paths, "--no-index"],
        env=_env(crashed),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        [(done,)] = _rows(crashed, "SELECT COALESCE(SUM(items_done), 0) FROM ingest_checkpoints")
        if done >= 500:
            break
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.skip("the import finished before it could be killed (machine too fast)")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert done >= 500
    assert 0 < len(_papers(crashed)) < len(_papers(clean))  # some batches made it, not all

    [(partial,)] = _rows(
        crashed, "SELECT COUNT(*) FROM ingest_checkpoints WHERE NOT complete AND items_done > 0"
    )
    runs = _rows(crashed, "SELECT status FROM ingest_runs")
    assert runs == [("running",)]  # SIGKILL leaves no chance to record an end

    rerun = _run(crashed, "ingest", "arxiv-daily", *paths, "--no-index")
    # Killed mid-file, the re-run skips that file's committed batches and says so.
    assert ("resumed after" in " ".join(rerun.stderr.split())) == bool(partial)
    runs = _rows(crashed, "SELECT status FROM ingest_runs ORDER BY pk")
    assert runs == [("crashed",), ("done",)]  # the killed run is recognised as such
    assert _papers(crashed) == _papers(clean)
    stats = json.loads(_run(crashed, "stats", "--json").stdout)
    assert stats["papers"] == len(_papers(clean))
