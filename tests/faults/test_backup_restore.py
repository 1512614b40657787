"""``paperfeed backup`` while ``serve`` and an import write; ``paperfeed restore`` into an
empty directory, then the restored instance serves searches."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
from pathlib import Path

import httpx
import pytest
from _core_helpers import SHARED
from _fault_helpers import (
    PAPERFEED,
    QUERIES,
    check_json,
    env_for,
    ok,
    one_line_error,
    run,
    search_ids,
    served,
)

DAYS = SHARED / "data" / "arxiv_daily_cs" / "days"


def _count(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]


def test_backup_while_serving_and_importing_then_restore_and_serve(
    demo_dir: Path, tmp_path: Path
) -> None:
    files = sorted(DAYS.glob("*.jsonl.gz"))[:3]
    if len(files) < 3:
        pytest.skip(f"arXiv daily listings not found in {DAYS}")
    expected = {query: search_ids(demo_dir, query)[0] for query in QUERIES}
    before = _count(demo_dir / "paperfeed.db")
    backup_dir = tmp_path / "backups" / "today"
    with served(demo_dir) as base:
        importing = subprocess.Popen(
            [str(PAPERFEED), "ingest", "arxiv-daily", *map(str, files), "--no-index"],
            env={**env_for(demo_dir), "PAPERFEED_INGEST_BATCH_SIZE": "100"},
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            result = ok(run(demo_dir, "backup", backup_dir))
            assert httpx.get(f"{base}/healthz").status_code == 200  # served throughout
        finally:
            assert importing.wait(300) == 0  # the import was not disturbed either
    after = _count(demo_dir / "paperfeed.db")
    assert "backed up" in result.stderr

    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    names = {p.name for p in backup_dir.iterdir()}
    assert names == {"paperfeed.db", "secret_key", "paperfeed-backup.json"}
    for file in backup_dir.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    manifest = json.loads((backup_dir / "paperfeed-backup.json").read_text())
    assert before <= manifest["papers"] <= after  # one snapshot, taken mid-import
    assert (backup_dir / "secret_key").read_text() == "fault-tests"

    restored = tmp_path / "restored"
    out = ok(run(restored, "restore", backup_dir))
    assert f"restored {manifest['papers']} papers" in out.stderr
    assert _count(restored / "paperfeed.db") == manifest["papers"]
    assert (restored / "secret_key").read_text() == "fault-tests"
    report = check_json(restored)
    assert report["ok"], report["problems"]
    with served(restored) as base:
        for query in QUERIES[:2]:
            answer = httpx.get(f"{base}/api/v1/search", params={"q": query, "limit": 10})
            assert answer.status_code == 200
            ids = [hit["id"] for hit in answer.json()["results"]]
            assert ids and set(ids) & set(expected[query])


def test_restore_refuses_a_used_data_directory_unless_forced(
    demo_dir: Path, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "backup"
    ok(run(demo_dir, "backup", backup_dir))
    one_line_error(run(demo_dir, "backup", backup_dir), "already exists")
    one_line_error(run(demo_dir, "restore", backup_dir), "not empty", "--force")
    (backup_dir / "paperfeed.db").write_bytes(b"not a database")
    one_line_error(run(tmp_path / "elsewhere", "restore", backup_dir), "damaged")


def test_restore_force_replaces_the_database_and_rebuilds_the_indexes(
    demo_dir: Path, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "backup"
    ok(run(demo_dir, "backup", backup_dir))
    with sqlite3.connect(demo_dir / "paperfeed.db") as db:  # a change after the backup
        db.execute("DELETE FROM listings")
        db.execute("UPDATE papers SET title = 'changed since' WHERE pk = 1")
    ok(run(demo_dir, "restore", backup_dir, "--force"))
    with sqlite3.connect(demo_dir / "paperfeed.db") as db:
        assert db.execute("SELECT title FROM papers WHERE pk = 1").fetchone()[0] != "changed since"
    report = check_json(demo_dir)
    assert report["ok"], report["problems"]


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_postgresql_is_pointed_to_pg_dump(tmp_path: Path, command: str) -> None:
    url = "postgresql+psycopg://paperfeed:secret@127.0.0.1:9/paperfeed"
    result = run(tmp_path / "data", command, tmp_path / "b", PAPERFEED_DATABASE_URL=url)
    one_line_error(result, "pg_dump", "pg_restore")


def test_cached_images_go_with_the_backup(demo_dir: Path, tmp_path: Path) -> None:
    media = demo_dir / "media"
    media.mkdir(exist_ok=True)
    image = media / "0f3a.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n an image a live source cached")
    try:
        backup_dir = tmp_path / "backup"
        ok(run(demo_dir, "backup", backup_dir))
        assert json.loads((backup_dir / "paperfeed-backup.json").read_text())["media"] >= 1
        restored = tmp_path / "restored"
        ok(run(restored, "restore", backup_dir))
        assert (restored / "media" / image.name).read_bytes() == image.read_bytes()
    finally:
        image.unlink()
