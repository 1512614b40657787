"""A full disk under the data directory, on a real small filesystem (a tmpfs mounted for the
test; needs root, as in CI): a clear one-line error, nothing committed lost, and the same
command completes once space is freed."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from _core_helpers import SHARED
from _fault_helpers import check_json, ok, one_line_error, run

DAYS = SHARED / "data" / "arxiv_daily_cs" / "days"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs the suite as root)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """A ballast file taking all the space but ``leave`` bytes."""
    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free - leave
    with ballast.open("wb") as file:
        file.truncate(0)
        chunk = b"\0" * (1 << 20)
        while free > 0:
            file.write(chunk[: min(len(chunk), free)])
            free -= len(chunk)
    return ballast


def _papers(data_dir: Path) -> dict[str, tuple]:
    with sqlite3.connect(data_dir / "paperfeed.db") as db:
        rows = db.execute("SELECT id, title, abstract, version FROM papers").fetchall()
    return {row[0]: row[1:] for row in rows}


def test_ingest_into_a_full_disk_stops_cleanly_and_resumes_after_space_is_freed(
    small_disk: Path, tmp_path: Path
) -> None:
    files = sorted(DAYS.glob("*.jsonl.gz"))[:4]
    if len(files) < 4:
        pytest.skip(f"arXiv daily listings not found in {DAYS}")
    clean = tmp_path / "clean"
    ok(run(clean, "ingest", "arxiv-daily", *files, "--no-index"))
    expected = _papers(clean)

    data_dir = small_disk / "data"
    ok(run(data_dir, "init"))
    ballast = _fill(small_disk, leave=2 << 20)
    small = {"PAPERFEED_INGEST_BATCH_SIZE": "100"}
    failed = run(data_dir, "ingest", "arxiv-daily", *files, "--no-index", **small)
    one_line_error(failed, "disk", "full")
    committed = _papers(data_dir)
    assert 0 < len(committed) < len(expected)
    assert all(expected[key] == value for key, value in committed.items())

    ballast.unlink()  # space freed: the same command again
    resumed = ok(run(data_dir, "ingest", "arxiv-daily", *files, "--no-index", **small))
    assert "added" in resumed.stderr
    assert _papers(data_dir) == expected


def test_indexing_into_a_full_disk_stops_cleanly_and_catches_up_after(
    small_disk: Path, demo_dir: Path
) -> None:
    data_dir = small_disk / "data"
    shutil.copytree(demo_dir, data_dir, ignore=shutil.ignore_patterns("index"))
    ballast = _fill(small_disk, leave=1 << 20)  # the database fits, its indexes do not
    failed = run(data_dir, "reindex")
    one_line_error(failed, "disk", "full")
    assert not check_json(data_dir)["ok"]
    assert not list((data_dir / "index").rglob("*.tmp*"))  # no half-written file kept

    ballast.unlink()
    ok(run(data_dir, "reindex"))
    report = check_json(data_dir)
    assert report["ok"], report["problems"]
    assert report["counts"]["lexical_docs"] == report["counts"]["vectors"] == 2076
