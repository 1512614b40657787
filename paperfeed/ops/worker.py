"""``paperfeed worker``: the periodic jobs of a deployment, on the schedules in the settings.

Jobs (``JOBS``), each on its own schedule (``PAPERFEED_WORKER_SOURCES`` / ``_SUBMISSIONS`` /
``_INDEX`` / ``_DIGESTS`` / ``_SEND``: an interval such as ``15m``, a crontab such as
``0 7 * * *``, or ``off``):

* ``sources``: harvest every enabled live source (``paperfeed.live.runner.run_source``);
* ``submissions``: fetch the papers users submitted by id from arXiv
  (``paperfeed.community.submit``): web nodes queue them, so only this process asks arXiv;
* ``index``: embed the papers waiting for a vector and bring the search indexes up to date
  (``paperfeed.search.catchup``), whoever added them: an ingest, a submission on any web
  node. ``paperfeed embed`` processes, on this or other machines, share the embedding;
* ``digests``: queue the digests that are due (``paperfeed.mail.digests``), after any
  harvest in progress (a digest never carries half a harvest); the outbox is drained right
  after, so they go out at once;
* ``send``: drain the outbox (``paperfeed.mail.sender``), so confirmations go out quickly.

Scheduling is APScheduler's (threads; one run of a job at a time; runs missed while busy or
down are coalesced into one). Every job also runs once when the worker starts: each is
idempotent (sources resume from their checkpoints, digests go only to subscriptions that
are due, the outbox sends each mail once), so catching up is always safe.

One worker per deployment: the worker holds a lease in the database (``paperfeed.db.lease``)
and renews it every third of ``PAPERFEED_WORKER_LEASE`` seconds. A second worker started
by mistake waits, and takes over when the first one stops or dies and its lease expires
(or, with ``wait=False``, exits at once naming the holder). The jobs are also safe on
their own if two ever ran at once; the lease keeps the work from being done twice.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from paperfeed.db.lease import WORKER, Holder, Lease, worker_holder
from paperfeed.errors import ConfigError, ConflictError, PaperfeedError
from paperfeed.workspace import Workspace

log = logging.getLogger("paperfeed.worker")
JOBS = ("sources", "submissions", "index", "digests", "send")
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class JobResult:
    job: str
    ok: bool
    summary: str
    idle: bool = False  # there was nothing to do (logged quietly)
    made: int = 0  # what it produced: digests queued, mails sent


def parse_schedule(setting: str, text: str, timezone: ZoneInfo) -> BaseTrigger | None:
    """An interval (``30s``, ``15m``, ``1h``, ``1d``), a 5-field crontab, or ``off`` (None)."""
    text = text.strip()
    if text.lower() in ("off", "never", ""):
        return None
    interval = _INTERVAL.match(text)
    if interval:
        seconds = float(interval.group(1)) * _UNIT_SECONDS[interval.group(2)]
        if seconds <= 0:
            raise ConfigError(f"{setting}: the interval must be longer than 0, got {text!r}")
        return IntervalTrigger(seconds=seconds, timezone=timezone)
    try:
        return CronTrigger.from_crontab(text, timezone=timezone)
    except ValueError as exc:
        raise ConfigError(
            f"{setting}: {text!r} is neither an interval (30s, 15m, 1h, 1d), a crontab "
            f"(minute hour day month weekday, e.g. '0 7 * * *') nor 'off' ({exc})"
        ) from exc


def schedule_texts(workspace: Workspace) -> dict[str, str]:
    settings = workspace.settings
    return {
        "sources": settings.worker_sources,
        "submissions": settings.worker_submissions,
        "index": settings.worker_index,
        "digests": settings.worker_digests,
        "send": settings.worker_send,
    }


def schedules(workspace: Workspace) -> dict[str, BaseTrigger | None]:
    """Each job's trigger from the settings (None: the job is off); ConfigError if invalid."""
    settings = workspace.settings
    try:
        timezone = ZoneInfo(settings.worker_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"PAPERFEED_WORKER_TIMEZONE: {settings.worker_timezone!r} is not a time zone "
            "(e.g. UTC, Europe/Paris)"
        ) from exc
    return {
        job: parse_schedule(f"PAPERFEED_WORKER_{job.upper()}", text, timezone)
        for job, text in schedule_texts(workspace).items()
    }


def running_worker(workspace: Workspace) -> Holder | None:
    """The worker holding the lease now, if any (for the admin page)."""
    return worker_holder(workspace.db, workspace.settings.worker_lease)


# ---- the jobs ---------------------------------------------------------------------------


def run_sources(workspace: Workspace) -> JobResult:
    from paperfeed.live.registry import make_client
    from paperfeed.live.runner import list_sources_with_last_run, run_source

    enabled = [s for s in list_sources_with_last_run(workspace) if s.enabled]
    if not enabled:
        return JobResult("sources", True, "no enabled live sources", idle=True)
    lines, ok = [], True
    with make_client(workspace.settings, enabled) as client:
        for source in enabled:
            try:
                report = run_source(workspace, source.name, client=client)
            except ConflictError as exc:  # being harvested by another process right now
                lines.append(f"{source.name}: {exc}")
                continue
            ok = ok and report.ok
            lines.append(report.summary())
    return JobResult("sources", ok, "; ".join(lines))


def run_submissions(workspace: Workspace) -> JobResult:
    from paperfeed.community.submit import process_submissions

    report = process_submissions(workspace)
    idle = not (report.done or report.failed)
    return JobResult("submissions", True, report.summary(), idle, report.done)


def run_index(workspace: Workspace) -> JobResult:
    from paperfeed.search.catchup import catch_up

    report = catch_up(workspace)
    idle = not (report.embedded or report.lexical or report.vectors)
    summary = (
        f"{report.embedded} embedded, {report.lexical} papers and {report.vectors} vectors indexed"
    )
    return JobResult("index", True, summary, idle, report.embedded)


def run_digests(workspace: Workspace) -> JobResult:
    from paperfeed.mail.digests import build_due_digests

    report = build_due_digests(workspace)
    summary = report.summary() + "".join(f"; {note}" for note in report.notes)
    idle = not (report.queued or report.nothing_new or report.skipped or report.notes)
    return JobResult("digests", report.skipped == 0, summary, idle, len(report.queued))


def run_send(workspace: Workspace) -> JobResult:
    from paperfeed.mail.sender import drain_outbox

    report = drain_outbox(workspace)
    summary = report.summary() + "".join(f"; {error}" for error in report.errors[:3])
    idle = report.sent + report.retrying + report.failed == 0
    return JobResult("send", report.failed == 0, summary, idle, report.sent)


RUNNERS: dict[str, Callable[[Workspace], JobResult]] = {
    "sources": run_sources,
    "submissions": run_submissions,
    "index": run_index,
    "digests": run_digests,
    "send": run_send,
}


def run_job(workspace: Workspace, job: str) -> JobResult:
    """Run one job, turning any failure into a result: one broken job never stops the rest."""
    started = time.monotonic()
    try:
        result = RUNNERS[job](workspace)
    except PaperfeedError as exc:
        result = JobResult(job, False, str(exc))
    except Exception as exc:  # a bug: keep the worker alive, keep the traceback in the log
        log.exception("%s: unexpected error", job)
        result = JobResult(job, False, f"{type(exc).__name__}: {exc}")
    level = logging.WARNING if not result.ok else logging.DEBUG if result.idle else logging.INFO
    log.log(level, "%s %s in %.1fs: %s", job, "done" if result.ok else "FAILED",
            time.monotonic() - started, result.summary)  # fmt: skip
    return result


# ---- the worker -------------------------------------------------------------------------


class Worker:
    """Holds the lease, runs the jobs; ``stop`` (an Event) ends it gracefully."""

    def __init__(self, workspace: Workspace, stop: threading.Event | None = None) -> None:
        self.workspace = workspace
        self.stop = stop or threading.Event()
        self.triggers = schedules(workspace)  # bad settings fail before anything runs
        seconds = workspace.settings.worker_lease
        if seconds <= 0:
            raise ConfigError(f"PAPERFEED_WORKER_LEASE must be positive, got {seconds}")
        self.lease = Lease(workspace.db, WORKER, seconds)
        # Digests wait for a harvest in progress, so a digest never carries half a harvest.
        self._harvest = threading.Lock()

    @property
    def heartbeat(self) -> float:
        return self.lease.seconds / 3

    def take_lease(self, wait: bool = True) -> bool:
        """The lease, waiting for it if ``wait``; False if stopped (or busy and not waiting)."""
        if self.lease.acquire():
            return True
        holder = self.lease.current()
        busy = f"another worker holds the lock: {holder.describe() if holder else 'just now'}"
        if not wait:
            raise ConflictError(busy + "; run one worker per deployment")
        log.warning("%s; waiting to take over if it stops", busy)
        while not self.stop.wait(self.heartbeat):
            if self.lease.acquire():
                log.info("took over the lock as %s", self.lease.holder)
                return True
        return False

    def run_once(self, jobs: tuple[str, ...] = JOBS, wait: bool = True) -> list[JobResult]:
        """Each job once, in order (sources, then digests, then send), under the lease."""
        if not self.take_lease(wait):
            return []
        try:
            return [run_job(self.workspace, job) for job in jobs]
        finally:
            self.lease.release()

    def run_forever(self, wait: bool = True) -> None:
        """Run the jobs on their schedules until ``stop`` is set or the lease is lost."""
        if not self.take_lease(wait):
            return
        timezone = ZoneInfo(self.workspace.settings.worker_timezone)
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(len(JOBS))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=timezone,
        )
        now = datetime.now(timezone)
        for job, trigger in self.triggers.items():
            if trigger is None:
                log.info("%s: off", job)
                continue
            scheduler.add_job(
                self._run, trigger, args=(job, scheduler), id=job, name=job, next_run_time=now
            )
        scheduler.start()
        plan = ", ".join(f"{job} {text!r}" for job, text in schedule_texts(self.workspace).items())
        log.info("worker %s started (%s, %s)", self.lease.holder, plan, timezone)
        try:
            while not self.stop.wait(self.heartbeat):
                if not self._renew():
                    log.error("lost the lock (this process stalled past its lease); stopping")
                    break
        finally:
            scheduler.shutdown(wait=True)  # let running jobs finish: each commits as it goes
            self.lease.release()
            log.info("worker %s stopped", self.lease.holder)

    def _run(self, job: str, scheduler: BackgroundScheduler) -> None:
        if job == "send":
            run_job(self.workspace, job)
            return
        with self._harvest:
            result = run_job(self.workspace, job)
        if job == "digests" and result.made and scheduler.get_job("send") is not None:
            # Queued digests go out now, not at the next tick of the send schedule.
            scheduler.modify_job("send", next_run_time=datetime.now(scheduler.timezone))

    def _renew(self) -> bool:
        try:
            return self.lease.renew()
        except Exception as exc:  # e.g. the database busy for a moment: try again next beat
            log.warning("could not renew the lock (%s); retrying", exc)
            return True
