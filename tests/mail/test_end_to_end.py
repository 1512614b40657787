"""The whole mail path, as a deployment runs it: subscribe on the web → confirm from the mail →
vote → `paperfeed worker` harvests new papers, builds digests and sends them, with the SMTP
server stopped mid-run and started again: every mail arrives exactly once, and the "for you"
digests follow each reader's votes.

Real parts only: the web app (FastAPI's TestClient), `paperfeed worker` in a subprocess, an
aiosmtpd server on loopback, a local HTTP server replaying five recorded days of Hugging
Face daily papers (the worker's live source), the shipped embedding model.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from _core_helpers import serve_hf_days
from _mail_helpers import SmtpServer, cli_env, link_token, mail_settings, outbox, parts
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from replay_server import ReplayServer
from sqlalchemy import select, update

from paperfeed.catalog.demo import attach_vectors, demo_files
from paperfeed.catalog.ingest import ingest_files
from paperfeed.db import Paper
from paperfeed.db.models import utcnow
from paperfeed.formats import get_format
from paperfeed.live.registry import add_source, build_params
from paperfeed.search.catchup import catch_up
from paperfeed.web.app import create_app
from paperfeed.workspace import Workspace

PAPERFEED = Path(sys.executable).parent / "paperfeed"
PASSWORD = "correct horse battery"
VIDEO = re.compile(r"video", re.I)
ROBOT = re.compile(r"robot|embodied|manipulation|navigation", re.I)


def _workspace(data_dir: Path, port: int) -> Workspace:
    """The demo corpus up to the day before the recorded days, seen a month ago."""
    ws = Workspace.create(mail_settings(data_dir, port, digest_max_papers=5))
    older = [path for path in demo_files() if path.name < "2026-08-13"]
    ingest_files(ws.db, get_format("hf-daily"), older)
    attach_vectors(ws)
    catch_up(ws)
    with ws.db.session() as session:
        session.execute(update(Paper).values(first_seen=utcnow() - timedelta(days=30)))
    return ws


def _browser(ws: Workspace) -> TestClient:
    return TestClient(create_app(ws))


def _csrf(client: TestClient) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def _sign_up(ws: Workspace, username: str) -> TestClient:
    client = _browser(ws)
    data = {"username": username, "password": PASSWORD, "password2": PASSWORD}
    data |= {"email": f"{username}@example.org", "csrf_token": _csrf(client)}
    assert client.post("/signup", data=data).status_code == 200
    return client


def _vote_for(client: TestClient, ws: Workspace, pattern: re.Pattern[str], count: int) -> set[str]:
    """Upvote the first ``count`` papers whose title matches; their titles."""
    with ws.db.session() as session:
        papers = session.execute(select(Paper.id, Paper.title).order_by(Paper.pk)).all()
    chosen = [(pid, title) for pid, title in papers if pattern.search(title)][:count]
    assert len(chosen) == count
    headers = {"X-CSRF-Token": _csrf(client)}
    for paper_id, _ in chosen:
        assert client.put(f"/api/v1/papers/{paper_id}/vote", headers=headers).status_code == 200
    return {title for _, title in chosen}


def _wait_for(condition, what: str, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _liked(reason: str) -> str:
    match = re.fullmatch(r"like \u2018(.+)\u2019", reason.strip())
    assert match, reason
    return match.group(1)


def _picks(text: str) -> list[tuple[str, str]]:
    """(title, reason) of each paper in a digest's plain-text body."""
    found = re.findall(r"^\d+\. (.+)\n(?:.*\n)*?\s+Why: (.+)$", text, re.M)
    assert found, text
    return found


def test_subscribe_confirm_vote_worker_smtp_down_and_up_every_mail_exactly_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    data_dir = tmp_path / "data"
    ws = _workspace(data_dir, smtp_server.port)
    ada, bob, carol = _sign_up(ws, "ada"), _sign_up(ws, "bob"), _browser(ws)
    # ada on the form, bob through the API, carol (no account) for the trending digest.
    form = {"kind": "for_you", "period": "daily", "csrf_token": _csrf(ada)}
    assert ada.post("/subscribe", data=form).status_code == 200
    created = bob.post(
        "/api/v1/subscriptions", json={"kind": "for_you"}, headers={"X-CSRF-Token": _csrf(bob)}
    )
    assert created.status_code == 201
    form = {"kind": "trending", "email": "carol@example.org", "csrf_token": _csrf(carol)}
    assert carol.post("/subscribe", data=form).status_code == 200

    env = cli_env(
        ws.settings,
        PAPERFEED_SMTP_TIMEOUT="5",
        PAPERFEED_DIGEST_MAX_PAPERS="5",
        PAPERFEED_MAIL_RETRY_BASE="1",
        PAPERFEED_MAIL_RETRY_MAX="2",
        PAPERFEED_HF_MIN_INTERVAL="0",
        PAPERFEED_WORKER_SOURCES="1s",
        PAPERFEED_WORKER_DIGESTS="1s",
        PAPERFEED_WORKER_SEND="1s",
    )
    log = tmp_path / "worker.log"
    received = smtp_server.handler.messages
    with log.open("wb") as out, ReplayServer() as hf:
        worker = subprocess.Popen(
            [str(PAPERFEED), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            # 1. The worker sends the three confirmations; each reader opens the link.
            _wait_for(lambda: len(received) == 3, "the confirmation mails")
            for message in list(received):
                token = link_token(parts(message)[0], "/subscriptions/confirm")
                page = _browser(ws).get("/subscriptions/confirm", params={"token": token})
                assert page.status_code == 200 and "Confirmed:" in page.text

            # 2. Votes: ada likes video generation, bob robots.
            ada_likes = _vote_for(ada, ws, re.compile(r"video generation", re.I), 5)
            bob_likes = _vote_for(bob, ws, ROBOT, 5)

            # 3. The SMTP server goes down; then new papers come in through the worker's
            #    live source, and it builds the digests and tries to send them.
            smtp_server.controller.stop()
            serve_hf_days(hf)
            params = build_params("hf-daily", from_date="2026-08-13", until_date="2026-08-19")
            add_source(ws, "hf", "hf-daily", params, base_url=hf.url_for("/api"))

            def digests_failing() -> bool:
                digests = [row for row in outbox(ws) if row.kind == "digest"]
                return len(digests) == 3 and all(
                    row.attempts >= 1 and "cannot reach SMTP server" in (row.last_error or "")
                    for row in digests
                )

            _wait_for(digests_failing, "three digests queued and failing to send")
            assert len(received) == 3  # nothing got through while the server was down

            # 4. The server comes back (same port, same mailbox): the retries deliver.
            smtp_server.controller = Controller(
                smtp_server.handler, hostname="127.0.0.1", port=smtp_server.port
            )
            smtp_server.controller.start()
            _wait_for(lambda: len(received) == 6, "the three digests")
            time.sleep(4)  # several more send and digest rounds: nothing may come twice
            assert len(received) == 6
            assert {row.status for row in outbox(ws)} == {"sent"}
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=60)
    assert code == 0, log.read_text()
    assert "hf: " in log.read_text()  # the harvest ran inside the worker

    ids = Counter(str(message["Message-ID"]) for message in received)
    assert len(ids) == 6 and set(ids.values()) == {1}, ids
    digests = {str(m["To"]): m for m in received if str(m["Message-ID"]).startswith("<digest-")}
    assert sorted(digests) == ["ada@example.org", "bob@example.org", "carol@example.org"]
    for message in digests.values():
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"].startswith("<https://papers.example.org/unsubscribe?")

    # The "for you" digests follow the votes: new papers like the ones each reader upvoted,
    # each with the upvoted paper it resembles as the reason. Among the 120 new papers, 12
    # mention video and 5 robots (10 % and 4 %); at 5 picks chance would give 0.5 and 0.2.
    ada_text, ada_html = parts(digests["ada@example.org"])
    bob_text, _ = parts(digests["bob@example.org"])
    ada_picks, bob_picks = _picks(ada_text), _picks(bob_text)
    assert len(ada_picks) == len(bob_picks) == 5
    assert all(_liked(reason) in ada_likes for _, reason in ada_picks), ada_picks
    assert all(_liked(reason) in bob_likes for _, reason in bob_picks), bob_picks
    assert sum(bool(VIDEO.search(title)) for title, _ in ada_picks) >= 3, ada_picks
    assert sum(bool(ROBOT.search(title)) for title, _ in bob_picks) >= 3, bob_picks
    assert not {t for t, _ in ada_picks} & {t for t, _ in bob_picks}  # different readers
    assert ada_picks[0][0].strip() in ada_html
    carol_text, _ = parts(digests["carol@example.org"])
    assert "trending, 5 new papers" in str(digests["carol@example.org"]["Subject"])
    assert "upvotes" in carol_text
