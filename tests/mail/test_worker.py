"""`paperfeed worker`: schedules from the settings, the lease, and two real workers at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from _core_helpers import make_workspace
from _mail_helpers import SmtpServer, cli_env, mail_settings, queue_mails
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import update

from paperfeed.config import Settings
from paperfeed.db import WorkerLease
from paperfeed.db.lease import Lease
from paperfeed.db.models import utcnow
from paperfeed.errors import ConfigError, ConflictError
from paperfeed.ops.worker import Worker, parse_schedule, schedules
from paperfeed.workspace import Workspace

PAPERFEED = Path(sys.executable).parent / "paperfeed"
UTC = ZoneInfo("UTC")


def test_schedules_are_intervals_crontabs_or_off() -> None:
    every = parse_schedule("X", "15m", UTC)
    assert isinstance(every, IntervalTrigger) and every.interval == timedelta(minutes=15)
    assert parse_schedule("X", "1.5s", UTC).interval == timedelta(seconds=1.5)  # type: ignore[union-attr]
    daily = parse_schedule("X", "0 7 * * mon-fri", UTC)
    assert isinstance(daily, CronTrigger)
    fire = daily.get_next_fire_time(None, utcnow().replace(year=2026, month=11, day=28))  # Sat
    assert (fire.weekday(), fire.hour, fire.minute) == (0, 7, 0)  # next Monday 07:00
    assert parse_schedule("X", "off", UTC) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("worker_send", "every minute", "PAPERFEED_WORKER_SEND: 'every minute' is neither"),
        ("worker_digests", "61 7 * * *", "PAPERFEED_WORKER_DIGESTS: '61 7"),
        ("worker_sources", "0s", "longer than 0"),
        ("worker_timezone", "Mars/Olympus", "PAPERFEED_WORKER_TIMEZONE: 'Mars/Olympus'"),
    ],
)
def test_a_bad_schedule_is_refused_before_anything_runs(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    ws = Workspace.create(Settings(data_dir=tmp_path / "data", **{field: value}))
    with pytest.raises(ConfigError, match=message):
        schedules(ws)


def test_the_lease_has_one_holder_until_it_expires(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "data")
    first = Lease(ws.db, "worker", 60, holder="host-a:1:aa")
    second = Lease(ws.db, "worker", 60, holder="host-b:2:bb")
    assert first.acquire() and not second.acquire()
    assert first.acquire()  # taking what one holds already is fine
    holder = first.current()
    assert holder is not None and holder.holder == "host-a:1:aa"
    assert "host-a:1:aa (since" in holder.describe()

    with ws.db.session() as session:  # the first holder stopped renewing a while ago
        session.execute(update(WorkerLease).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert first.current() is None
    assert second.acquire()
    assert not first.renew()  # it notices it lost the lease ...
    assert second.renew()
    first.release()  # ... and releasing what it no longer holds frees nothing
    assert not first.acquire()
    second.release()
    assert first.acquire()  # released: no need to wait for the expiry


def test_run_once_runs_the_jobs_in_order_under_the_lease(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    ws = Workspace.create(mail_settings(tmp_path / "data", smtp_server.port))
    ids = queue_mails(ws, 3)
    results = Worker(ws).run_once()
    assert [r.job for r in results] == ["sources", "submissions", "index", "digests", "send"]
    assert all(r.ok for r in results), results
    assert results[0].summary == "no enabled live sources"
    assert results[1].summary == "0 fetched, 0 failed, 0 waiting"
    assert results[2].summary == "0 embedded, 0 papers and 0 vectors indexed"
    assert results[4].summary.startswith("3 sent")
    assert sorted(smtp_server.handler.ids()) == sorted(ids)
    assert Lease(ws.db, "worker", 60).acquire()  # released when done

    blocked = Worker(ws)
    with pytest.raises(ConflictError, match="another worker holds the lock"):
        blocked.run_once(wait=False)


def _env(settings: Settings) -> dict[str, str]:
    return cli_env(
        settings,
        PAPERFEED_WORKER_SOURCES="off",
        PAPERFEED_WORKER_DIGESTS="1s",
        PAPERFEED_WORKER_SEND="1s",
        PAPERFEED_WORKER_LEASE="3",
    )


def _start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(PAPERFEED), "worker", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_second_worker_waits_and_takes_over_when_the_first_dies(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    ws = Workspace.create(mail_settings(tmp_path / "data", smtp_server.port))
    env = _env(ws.settings)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _start(env, first_log)
    second: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(lambda: "started" in first_log.read_text())
        assert "send '1s'" in first_log.read_text()
        queue_mails(ws, 2, prefix="before")
        _wait_for(lambda: len(smtp_server.handler.messages) == 2)

        refused = subprocess.run(
            [str(PAPERFEED), "worker", "--no-wait"], env=env, capture_output=True, text=True
        )
        assert refused.returncode == 1
        assert "another worker holds the lock" in refused.stdout + refused.stderr

        second = _start(env, second_log)
        _wait_for(lambda: "waiting to take over" in second_log.read_text())
        first.send_signal(signal.SIGKILL)  # dies holding the lease: it expires within 3 s
        first.wait()
        _wait_for(lambda: "took over the lock" in second_log.read_text(), timeout=20)
        queue_mails(ws, 2, prefix="after")
        _wait_for(lambda: len(smtp_server.handler.messages) == 4)
        assert sorted(smtp_server.handler.ids()) == sorted(
            [f"<{p}-{i}@papers.example.org>" for p in ("before", "after") for i in range(2)]
        )

        second.send_signal(signal.SIGTERM)  # a graceful stop releases the lease at once
        assert second.wait(timeout=20) == 0
        assert "stopped" in second_log.read_text()
        assert Lease(ws.db, "worker", 60).current() is None
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
