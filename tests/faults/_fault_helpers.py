"""Helpers for the fault tests: the real console script, a process holding the database's
write lock, a free port and a served instance."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PAPERFEED = Path(sys.executable).parent / "paperfeed"
QUERIES = ["speech recognition", "diffusion models for video", "reinforcement learning agents"]


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_") and k != "COLUMNS"}
    env |= {"PAPERFEED_DATA_DIR": str(data_dir), "PAPERFEED_SECRET_KEY": "fault-tests", **extra}
    return env


def run(
    data_dir: Path, *args: str | Path, timeout: float = 300, **extra: str
) -> subprocess.CompletedProcess[str]:
    """``paperfeed ARGS`` on ``data_dir``, as a user runs it (away from any .env file)."""
    if not PAPERFEED.exists():
        pytest.skip(f"console script not installed at {PAPERFEED}")
    return subprocess.run(
        [str(PAPERFEED), *map(str, args)],
        env=env_for(data_dir, **extra),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The command failed with exactly one line on stderr (no traceback) containing ``words``."""
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def check_json(data_dir: Path) -> dict:
    result = run(data_dir, "check", "--json")
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] == (result.returncode == 0)
    return report


def search_ids(data_dir: Path, query: str, **extra: str) -> tuple[list[str], str]:
    """The ids ``paperfeed search --json`` returns, and its stderr (warnings)."""
    result = ok(run(data_dir, "search", query, "--json", "--limit", "10", **extra))
    return [hit["id"] for hit in json.loads(result.stdout)], result.stderr


@contextmanager
def write_lock(database: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``BEGIN EXCLUSIVE`` on ``database`` for ``seconds``."""
    script = (
        "import sqlite3, sys, time\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "db.execute('COMMIT')\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(database), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(data_dir: Path, **extra: str) -> Iterator[str]:
    """``paperfeed serve --no-demo`` on a free loopback port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [str(PAPERFEED), "serve", "--no-demo", "--port", str(port)],
        env=env_for(data_dir, **extra),
        cwd=data_dir.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, f"serve exited: {process.stderr.read()}"  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not answer within 180 s"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
