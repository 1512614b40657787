"""`paperfeed sources ...` as a user runs it: a real process against the local replay server.

The headline: a harvest killed with SIGKILL while it waits for a page, then run again, ends
with exactly the database of an uninterrupted harvest, and the killed run is marked crashed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _live_helpers import REAL_OAI_IDS, OaiReplay, db_snapshot
from replay_server import ReplayServer

from paperfeed.config import Settings
from paperfeed.live.registry import add_source, build_params
from paperfeed.live.runner import run_source
from paperfeed.workspace import Workspace

PAPERFEED = Path(sys.executable).parent / "paperfeed"


def _env(data_dir: Path, replay: OaiReplay) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_") and k != "COLUMNS"}
    return env | {
        "PAPERFEED_DATA_DIR": str(data_dir),
        "PAPERFEED_ARXIV_OAI_URL": replay.url,
        "PAPERFEED_ARXIV_MIN_INTERVAL": "0",
        "PAPERFEED_CONTACT_EMAIL": "tests@example.org",
    }


def _paperfeed(data_dir: Path, replay: OaiReplay, *args: str) -> subprocess.CompletedProcess[str]:
    if not PAPERFEED.exists():
        pytest.skip(f"console script not installed at {PAPERFEED}")
    return subprocess.run(
        [str(PAPERFEED), *args],
        env=_env(data_dir, replay),
        cwd=data_dir.parent,  # away from any .env of the repository
        capture_output=True,
        text=True,
        timeout=120,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def _query(db_file: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db_file, timeout=30) as db:
        return db.execute(sql).fetchall()


def test_kill_9_mid_harvest_then_rerun_gives_the_same_database(
    tmp_path: Path, replay_server: ReplayServer
) -> None:
    replay = OaiReplay(replay_server, per_page=2)  # 4 pages

    # The reference: the same harvest, uninterrupted (in-process: the code the CLI calls).
    for name in ("clean", "crashed"):
        settings = Settings(
            data_dir=tmp_path / name, arxiv_oai_url=replay.url, arxiv_min_interval=0.0
        )
        workspace = Workspace.create(settings)
        params = build_params("arxiv-oai", from_date="2014-10-01")
        add_source(workspace, "arxiv-physics", "arxiv-oai", params)
        if name == "clean":
            assert run_source(workspace, "arxiv-physics", index=False).ok
        workspace.db.engine.dispose()
    replay_server.clear_log()

    data = tmp_path / "crashed"
    db_file = data / "paperfeed.db"
    replay.hold(2)  # the third page never comes while the harvest waits for it
    process = subprocess.Popen(
        [str(PAPERFEED), "sources", "run", "arxiv-physics", "--no-index"],
        env=_env(data, replay),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert replay.reached.wait(timeout=60), "the harvest never asked for the third page"
        # Two pages are committed, with the token of the third as the checkpoint.
        assert len(_query(db_file, "SELECT id FROM papers")) == 4
        [(cursor,)] = _query(db_file, "SELECT cursor FROM source_checkpoints")
        assert json.loads(cursor)["token"] == replay.tokens[1]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        replay.release()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert _query(db_file, "SELECT status FROM source_runs") == [("running",)]  # no chance to end

    replay.hold(None)
    replay_server.clear_log()
    rerun = _ok(_paperfeed(data, replay, "sources", "run", "arxiv-physics", "--no-index"))
    assert "resumed from checkpoint" in " ".join(rerun.stderr.split())
    # It asked again for the page it was killed waiting for, and went on from there.
    assert replay.page_requests(replay_server) == replay.tokens[1:]
    runs = _query(db_file, "SELECT status, error FROM source_runs ORDER BY pk")
    assert [status for status, _error in runs] == ["crashed", "ok"]
    assert "ended without finishing" in runs[0][1]
    assert db_snapshot(db_file) == db_snapshot(tmp_path / "clean" / "paperfeed.db")
    assert sorted(row[0] for row in db_snapshot(db_file)[0]) == sorted(REAL_OAI_IDS)


def test_add_list_run_and_remove_from_the_command_line(
    tmp_path: Path, replay_server: ReplayServer
) -> None:
    replay = OaiReplay(replay_server, per_page=4)
    data = tmp_path / "data"

    wrong = _paperfeed(data, replay, "sources", "add", "ml", "arxiv-rss", "--query", "cat:cs.LG")
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    assert " ".join(wrong.stderr.split()) == (
        "error: --query does not apply to arxiv-rss sources (they take --category)"
    )
    _ok(_paperfeed(data, replay, "sources", "add", "physics", "arxiv-oai", "--set", "physics"))

    # The old `paperfeed sources` still lists the input formats, now with the live sources.
    overview = _ok(_paperfeed(data, replay, "sources")).stdout
    assert "kaggle" in overview and "physics" in overview and "never" in overview

    replay_server.malformed_next()  # the first page is cut off: the run fails
    failed = _paperfeed(data, replay, "sources", "run", "--all", "--no-index")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "physics: failed" in failed.stderr and "not an OAI-PMH XML response" in failed.stderr

    [listed] = json.loads(_ok(_paperfeed(data, replay, "sources", "list", "--json")).stdout)
    assert listed["name"] == "physics" and listed["params"]["set"] == "physics"
    run = listed["last_run"]
    assert (run["status"], run["pages"], run["added"]) == ("failed", 0, 0)
    assert f"{replay.url}?verb=ListRecords" in run["error"]

    _ok(_paperfeed(data, replay, "sources", "remove", "physics"))
    assert _query(data / "paperfeed.db", "SELECT COUNT(*) FROM live_sources") == [(0,)]
    assert _query(data / "paperfeed.db", "SELECT COUNT(*) FROM source_runs") == [(0,)]
