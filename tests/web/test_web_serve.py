"""`paperfeed serve --workers 2`: two uvicorn worker processes over one data directory.

A real subprocess on a free port over a small data directory (the demo corpus serve imports
into an empty one): it answers /healthz and a search, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _web_helpers import card_ids

PAPERFEED = str(Path(sys.executable).parent / "paperfeed")  # the installed console script


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server not up within {timeout} s")


def test_serve_with_two_workers_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path / "data")}
    env.pop("PAPERFEED_SERVE_WORKERS", None)
    process = subprocess.Popen(
        [PAPERFEED, "serve", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", process)
        with httpx.Client(base_url=base, timeout=30) as client:
            health = client.get("/healthz").json()
            assert health["status"] == "ok" and health["papers"] > 0
            # Several requests: each worker process answers some (new connections each).
            for _ in range(4):
                results = httpx.get(
                    f"{base}/api/v1/search", params={"q": "language models"}, timeout=30
                ).json()["results"]
                assert results
            page = client.get("/search", params={"q": "language models -vision"})
            assert page.status_code == 200 and card_ids(page.text)
        workers = _children(process.pid)
        assert len(workers) >= 2  # uvicorn's supervisor starts one process per worker
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            raise AssertionError(f"serve did not stop on SIGTERM:\n{output}") from None
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert f"on http://127.0.0.1:{port} (2 worker processes)" in output
    # The workers are gone too (an orphaned worker may take a moment to finish exiting).
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)], "worker processes outlived serve"


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


def _children(pid: int) -> list[int]:
    """Worker processes of the uvicorn supervisor (its children that run Python)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and "python" in (entry / "comm").read_text():
                out.append(int(entry.name))
    return out


def _is_zombie(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
