"""A bounded load run: simulated users against ``paperfeed serve`` for minutes, memory watched.

    .venv/bin/python bench/load.py [--corpus papers100k] [--users 50] [--duration 600]
                                   [--think 1.5] [--workers 1] [--json FILE] [--skip-build]
                                   [--wait-quiet S]

The server is the real command a user runs, ``paperfeed serve --host 127.0.0.1 --port P
--no-demo [--workers N]``, over a copy of the cached corpus (``bench/.cache/papers100k`` by
default, as ``bench_web`` builds it, with ``_common.ensure_community``'s users, votes and
comments), so the run's votes and comments never change the cache the other benchmarks read.
Rate limits stay on (the server's defaults; ``--no-rate-limits`` turns them off for
comparison).

Each simulated user is an asyncio task with its own account (``load-user-NN``, made once in
the cache), its own ``httpx.AsyncClient`` (cookie jar, keep-alive connection) and its own
client address, sent as ``X-Forwarded-For`` the way a reverse proxy in front of the site
would: uvicorn trusts that header from 127.0.0.1 and makes it ``request.client.host``, which
is what per-address rate limits count. Addresses come from 198.18.0.0/15, the range set
aside for benchmarks (RFC 2544). Before the run a probe checks that the server really keys
on them: failed logins from one address (a different username each time, so only the
per-address limit can trip) until a 429, then one from another address, which must not get
a 429.

A user arrives at a random moment of the ramp (``--ramp``), logs in through the form
(``GET /login`` for the CSRF token, ``POST /login``, the redirect followed), then acts until
the run's end: an action drawn by ``WEIGHTS``, then a pause drawn from an exponential of
mean ``--think`` seconds, like a reader. Reads are ``bench_web``'s page kinds (feed by day
and page, week, trending, search with its 240 real queries, filtered search, paper pages,
the JSON search) plus the library page. Writes, ~5% of actions, go the way a browser sends
them: an upvote or un-vote and a library save or unsave through the JSON API with the
``X-CSRF-Token`` header from the page's ``<meta name="csrf-token">`` (what ``app.js`` does),
a Markdown comment through the paper page's form (``csrf_token`` field; the 303 followed).
Writes go to the paper the user last read. A user writes at most once per ``--write-gap``
seconds (a drawn write becomes a paper page read), and after a 429 it writes again only
once ``Retry-After`` has passed: a human pace.

Every loop is bounded twice: by the deadline and by a count (``--max-actions`` per user);
the whole phase is cancelled if it overruns its deadline by two minutes. Per request: the
server-side time (the app's ``Server-Timing: app;dur=<ms>`` header) and the client's wall
time. Errors are 5xx answers, connection failures and timeouts (``--timeout``); a 429 is
counted apart; any other unexpected status too ("other").

Baselines, in the same run against the same server: the same workload by one user with no
think time (its requests back to back, its writes paced the same), ``/healthz`` by one
client, and ``/healthz`` once a second during the load (the HTTP stack alone, under load).

Memory: RSS and PSS (``/proc/<pid>/smaps_rollup``) of the server process and its workers,
summed, every ``--sample-every`` seconds from start to stop. Over the load phase the first
``window`` (60 s, or a fifth of shorter runs) is warm-up (caches filling); the memory is
*flat* when the least-squares slope of PSS after warm-up is at most ``FLAT_SLOPE_MB_MIN``
and the mean PSS of the last window is within ``FLAT_LAST_VS_FIRST`` of the mean of the
first window after warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
from _common import (
    COMMENT_BODIES,
    DEFAULT_SHARED,
    REPO,
    Section,
    ServerProcess,
    Table,
    add_wait_quiet,
    checkpoint_wal,
    command_line,
    load_now,
    log,
    print_load_report,
    section,
    wait_for_quiet,
)
from bench_web import Workload, make_workload, open_workspace

READS = {
    "feed": 15.0,
    "feed week": 7.0,
    "trending": 7.0,
    "search": 28.0,
    "search filtered": 10.0,
    "paper": 20.0,
    "api search": 5.0,
    "library": 3.0,
}
WRITES = {"vote": 3.0, "save": 1.5, "comment": 0.5}  # 5 in 100 actions
WEIGHTS = {**READS, **WRITES}
UNDO_SHARE = 0.25  # of votes and saves: take one back (un-vote, unsave) when there is one
LOGIN_KINDS = ("login page", "login")
LOGIN_CONCURRENCY = 2  # log-ins at once before the load (one per core)
HEALTHZ_UNDER_LOAD = "/healthz under load"

TARGET_P99_MS = 500.0
TARGET_ERRORS = 0
FLAT_SLOPE_MB_MIN = 1.0  # PSS growth after warm-up; 10 MB over a 10-minute run
FLAT_LAST_VS_FIRST = 0.05  # last window's mean PSS vs the first window after warm-up

LOAD_USER_PREFIX = "load-user-"
LOAD_PASSWORD = "load-run-passphrase-7c41e9"
_SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def address(i: int, block: int = 18) -> str:
    """User ``i``'s client address in 198.18.0.0/15 (RFC 2544, for benchmarks)."""
    return f"198.{block}.{i // 250}.{i % 250 + 1}"


# -- the server ------------------------------------------------------------------------------
class CliServer(ServerProcess):
    """``paperfeed serve`` as a user runs it, on a free loopback port."""

    def argv(self) -> list[str]:
        paperfeed = Path(sys.executable).parent / "paperfeed"
        if not paperfeed.exists():
            raise SystemExit(f"{paperfeed} is missing: run `make install` first")
        return [
            str(paperfeed),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-demo",
            "--workers",
            str(self.workers),
        ]

    def tree_pids(self) -> tuple[int, ...]:
        """The server and every process below it (workers, and anything they started)."""
        found: list[int] = []
        todo = list(self.pids[:1])
        while todo:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                todo += [
                    int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                ]
        return tuple(found)


# -- memory ----------------------------------------------------------------------------------
def smaps_rollup(pid: int) -> tuple[float, float, float] | None:
    """(RSS, PSS, anonymous PSS) of one process in MB, from ``/proc/<pid>/smaps_rollup``;
    None if gone. The rest of PSS is file pages mapped in (tantivy's segments, libraries):
    page cache the kernel can drop, not heap."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss", "Pss_Anon"):
            values[name] = int(rest.split()[0]) / 1024
    return values.get("Rss", 0.0), values.get("Pss", 0.0), values.get("Pss_Anon", 0.0)


@dataclass
class MemorySample:
    at: float  # time.monotonic(); ``relative_to`` makes it seconds since the load started
    rss_mb: float
    pss_mb: float
    pss_anon_mb: float
    processes: int
    phase: str


class MemorySampler(threading.Thread):
    """Samples the server's RSS and PSS (all its processes, summed) every ``every`` seconds."""

    def __init__(self, server: CliServer, every: float) -> None:
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: list[MemorySample] = []
        self.phase = "start"
        self._halt = threading.Event()

    def mark(self, phase: str) -> None:
        """A sample now (the end of the current phase); later ones belong to ``phase``."""
        self.sample()
        self.phase = phase

    def sample(self) -> None:
        rss = pss = anon = 0.0
        count = 0
        for pid in self.server.tree_pids():
            figures = smaps_rollup(pid)
            if figures is not None:
                rss, pss, anon = rss + figures[0], pss + figures[1], anon + figures[2]
                count += 1
        self.samples.append(MemorySample(time.monotonic(), rss, pss, anon, count, self.phase))

    def run(self) -> None:
        while not self._halt.wait(self.every):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def relative_to(self, zero: float) -> list[MemorySample]:
        return [
            MemorySample(s.at - zero, s.rss_mb, s.pss_mb, s.pss_anon_mb, s.processes, s.phase)
            for s in self.samples
        ]


@dataclass
class MemoryVerdict:
    warmup_s: float
    window_s: float
    first_pss_mb: float
    last_pss_mb: float
    first_rss_mb: float
    last_rss_mb: float
    slope_pss_mb_min: float
    slope_rss_mb_min: float
    slope_pss_second_half_mb_min: float  # not in the verdict: does growth slow down (a cache
    # filling up) or keep its pace (a leak)?
    slope_pss_anon_mb_min: float  # not in the verdict: the heap's share of the slope
    samples: int
    flat: bool

    @property
    def change(self) -> float:
        return self.last_pss_mb / self.first_pss_mb - 1 if self.first_pss_mb else float("nan")


def memory_verdict(samples: list[MemorySample], duration: float) -> MemoryVerdict | None:
    """Flat memory, as the module docstring defines it, over the load phase's samples."""
    window = min(60.0, duration / 5)
    load = [s for s in samples if s.phase == "load" and window <= s.at <= duration + 5]
    first = [s for s in load if s.at < 2 * window]
    last = [s for s in load if s.at >= duration - window]
    if len(load) < 3 or not first or not last:
        return None
    minutes = np.array([s.at / 60 for s in load])
    pss = np.array([s.pss_mb for s in load])
    rss = np.array([s.rss_mb for s in load])
    slope_pss = float(np.polyfit(minutes, pss, 1)[0])
    slope_rss = float(np.polyfit(minutes, rss, 1)[0])
    half = minutes >= (minutes[0] + minutes[-1]) / 2
    slope_half = float(np.polyfit(minutes[half], pss[half], 1)[0]) if half.sum() >= 3 else np.nan
    slope_anon = float(np.polyfit(minutes, [s.pss_anon_mb for s in load], 1)[0])
    first_pss = float(np.mean([s.pss_mb for s in first]))
    last_pss = float(np.mean([s.pss_mb for s in last]))
    flat = slope_pss <= FLAT_SLOPE_MB_MIN and last_pss <= first_pss * (1 + FLAT_LAST_VS_FIRST)
    return MemoryVerdict(
        window,
        window,
        first_pss,
        last_pss,
        float(np.mean([s.rss_mb for s in first])),
        float(np.mean([s.rss_mb for s in last])),
        slope_pss,
        slope_rss,
        slope_half,
        slope_anon,
        len(load),
        flat,
    )


# -- simulated users -------------------------------------------------------------------------
@dataclass
class Record:
    """One request: what, the answer, and how long it took (server side and client side)."""

    kind: str
    method: str
    path: str
    status: int  # 0: no answer (connection failure or timeout)
    server_ms: float  # from Server-Timing; nan if missing
    client_ms: float
    at: float  # time.monotonic() when the answer (or the failure) came
    outcome: str  # ok, 429, 5xx, timeout, connection, other
    detail: str = ""


ERROR_OUTCOMES = ("5xx", "timeout", "connection")


class User:
    """A simulated reader: one account, one client (cookies, connection), one address."""

    def __init__(
        self,
        base_url: str,
        username: str | None,
        ip: str,
        workload: Workload | None,  # None: a client that only requests fixed paths
        rng: np.random.Generator,
        write_gap: float,
        timeout: float,
        records: list[Record],
    ) -> None:
        self.username, self.ip = username, ip
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers={"X-Forwarded-For": ip},
            timeout=timeout,
            follow_redirects=False,
        )
        self.workload, self.rng, self.write_gap = workload, rng, write_gap
        self.records = records
        self.csrf = ""
        self.paper: str | None = None  # the paper page read last
        self.voted: list[str] = []
        self.saved: list[str] = []
        self.next_write = 0.0  # time.monotonic() before which this user does not write
        self.actions = 0
        self.logged_in = False
        self.last_answer = time.monotonic()

    async def close(self) -> None:
        await self.client.aclose()

    async def request(
        self, kind: str, method: str, path: str, expect: int, **kwargs: object
    ) -> httpx.Response | None:
        """Send one request, record it; the response if it came, else None."""
        t0 = time.perf_counter()
        idle = time.monotonic() - self.last_answer  # how long the connection sat unused
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            self._record(kind, method, path, 0, t0, "timeout", type(exc).__name__)
            return None
        except httpx.TransportError as exc:
            detail = f"{type(exc).__name__}: {exc} (after {idle:.1f} s without a request)"
            self._record(kind, method, path, 0, t0, "connection", detail)
            self.last_answer = time.monotonic()
            return None
        self.last_answer = time.monotonic()
        status = response.status_code
        if status == expect:
            outcome, detail = "ok", ""
        elif status == 429:
            outcome, detail = "429", response.headers.get("retry-after", "")
            retry = float(detail) if detail.replace(".", "", 1).isdigit() else 60.0
            self.next_write = max(self.next_write, time.monotonic() + retry)
        elif status >= 500:
            outcome, detail = "5xx", response.text[:200]
        else:
            outcome, detail = "other", f"expected {expect}: {response.text[:200]}"
        match = _SERVER_TIMING.search(response.headers.get("server-timing", ""))
        self._record(
            kind,
            method,
            path,
            status,
            t0,
            outcome,
            detail,
            float(match.group(1)) if match else None,
        )
        if status == 200 and response.headers.get("content-type", "").startswith("text/html"):
            found = _CSRF_META.search(response.text) or _CSRF_FIELD.search(response.text)
            if found:
                self.csrf = found.group(1)
        return response

    def _record(
        self,
        kind: str,
        method: str,
        path: str,
        status: int,
        t0: float,
        outcome: str,
        detail: str,
        server_ms: float | None = None,
    ) -> None:
        t1 = time.perf_counter()
        self.records.append(
            Record(
                kind,
                method,
                path,
                status,
                float("nan") if server_ms is None else server_ms,
                (t1 - t0) * 1000,
                time.monotonic(),
                outcome,
                detail,
            )
        )

    async def login(self, password: str) -> bool:
        """The login form, as a browser fills it in; True once logged in."""
        assert self.username is not None
        if await self.request("login page", "GET", "/login", 200) is None or not self.csrf:
            return False
        form = {"username": self.username, "password": password, "csrf_token": self.csrf}
        response = await self.request("login", "POST", "/login", 303, data={**form, "next": "/"})
        if response is None or response.status_code != 303:
            return False
        self.logged_in = True
        await self.request("feed", "GET", response.headers["location"], 200)
        return True

    def pick(self) -> str:
        names = list(WEIGHTS)
        weights = np.array([WEIGHTS[k] for k in names])
        kind = names[int(self.rng.choice(len(names), p=weights / weights.sum()))]
        if kind in WRITES and (self.username is None or time.monotonic() < self.next_write):
            return "paper"  # not yet: read instead
        return kind

    async def act(self, kind: str) -> None:
        self.actions += 1
        if kind in WRITES:
            self.next_write = time.monotonic() + self.write_gap
            await self.write(kind)
        elif kind == "library":
            await self.request(kind, "GET", "/library", 200)
        else:
            assert self.workload is not None
            path = self.workload.path(kind, self.rng)
            if kind == "paper":
                self.paper = path.removeprefix("/papers/")
            await self.request(kind, "GET", path, 200)

    def _target(self, done: list[str]) -> str:
        """The paper to vote on or save: the one just read, else a random one."""
        if self.paper is not None and self.paper not in done:
            return self.paper
        assert self.workload is not None
        ids = self.workload.paper_ids
        return ids[int(self.rng.integers(len(ids)))]

    async def write(self, kind: str) -> None:
        if not self.csrf:
            await self.request("feed", "GET", "/", 200)
        headers = {"X-CSRF-Token": self.csrf, "Accept": "application/json"}
        if kind in ("vote", "save"):
            done = self.voted if kind == "vote" else self.saved
            undo = bool(done) and self.rng.random() < UNDO_SHARE
            paper = done[int(self.rng.integers(len(done)))] if undo else self._target(done)
            url = f"/api/v1/papers/{paper}/vote" if kind == "vote" else f"/api/v1/library/{paper}"
            label = ("un-vote" if kind == "vote" else "unsave") if undo else kind
            response = await self.request(
                label, "DELETE" if undo else "PUT", url, 200, headers=headers
            )
            if response is not None and response.status_code == 200:
                if undo:
                    done.remove(paper)
                elif paper not in done:
                    done.append(paper)
            return
        paper = self.paper or self._target([])
        body = COMMENT_BODIES[int(self.rng.integers(len(COMMENT_BODIES)))]
        form = {"csrf_token": self.csrf, "body": body}
        response = await self.request(
            "comment", "POST", f"/papers/{paper}/comments", 303, data=form
        )
        if response is not None and response.status_code == 303:
            location = response.headers["location"].split("#", 1)[0]
            await self.request("paper", "GET", location, 200)


async def run_user(
    user: User, start_after: float, deadline: float, max_actions: int, think: float
) -> None:
    """Arrive, then act until the deadline or ``max_actions``; bounded either way."""
    await asyncio.sleep(start_after)
    for _ in range(max_actions):
        if time.monotonic() >= deadline:
            return
        await user.act(user.pick())
        if think > 0:
            pause = float(user.rng.exponential(think))
            await asyncio.sleep(max(0.0, min(pause, deadline - time.monotonic())))


async def ping_healthz(base_url: str, deadline: float, records: list[Record], every: float) -> None:
    """``/healthz`` once per ``every`` seconds until the deadline: the HTTP stack under load."""
    user = User(base_url, None, address(0, 19), None, np.random.default_rng(0), 0, 30, records)
    try:
        for _ in range(int((deadline - time.monotonic()) / every) + 1):
            if time.monotonic() >= deadline:
                break
            await user.request(HEALTHZ_UNDER_LOAD, "GET", "/healthz", 200)
            await asyncio.sleep(max(0.0, min(every, deadline - time.monotonic())))
    finally:
        await user.close()


@dataclass
class LoadResult:
    zero: float  # time.monotonic() when the load phase started
    wall: float
    server_cpu: float
    login_wall: float
    counts: dict[str, int]


async def load_phase(
    server: CliServer,
    workload: Workload,
    args: argparse.Namespace,
    results: dict[str, list[Record]],
    sampler: MemorySampler,
    sections: list[Section],
) -> LoadResult:
    """Log ``args.users`` users in (``LOGIN_CONCURRENCY`` at a time), then let them act for
    ``args.duration`` seconds, arriving over ``args.ramp``.

    The log-ins come first, not inside the load: each is an argon2 hash check (~64 MB and
    tens to hundreds of ms of CPU), so 50 of them in half a minute would measure a log-in
    storm, not readers; a reader's session lasts for weeks. They are reported on their own.
    """
    users = [
        User(
            server.url,
            f"{LOAD_USER_PREFIX}{i:02d}",
            address(i),
            workload,
            np.random.default_rng(args.seed + 1 + i),
            args.write_gap,
            args.timeout,
            results["logins"],
        )
        for i in range(args.users)
    ]
    try:
        gate = asyncio.Semaphore(LOGIN_CONCURRENCY)

        async def log_in(user: User) -> None:
            async with gate:
                await user.login(LOAD_PASSWORD)

        t0 = time.monotonic()
        with section(f"{args.users} users: log in", sections, server.pids):
            await asyncio.gather(*(log_in(u) for u in users))
        login_wall = time.monotonic() - t0
        for user in users:
            user.records = results["load"]
        sampler.mark("load")
        zero = time.monotonic()
        deadline = zero + args.duration
        arrivals = np.random.default_rng(args.seed).uniform(0, args.ramp, args.users)
        tasks = [
            run_user(u, float(a), deadline, args.max_actions, args.think)
            for u, a in zip(users, arrivals, strict=True)
            if u.logged_in
        ]
        tasks.append(ping_healthz(server.url, deadline, results["healthz"], 1.0))
        cut = 0
        cpu0 = server.cpu_seconds()
        with section(f"{args.users} users", sections, server.pids) as timed:
            try:
                await asyncio.wait_for(asyncio.gather(*tasks), args.duration + 120)
            except TimeoutError:
                cut = 1
                log("the load phase overran its deadline by 120 s: cancelled")
        server_cpu = server.cpu_seconds() - cpu0
        sampler.mark("after")
    finally:
        for user in users:
            await user.close()
    counts = {
        "actions": sum(u.actions for u in users),
        "capped": sum(u.actions >= args.max_actions for u in users),
        "not_logged_in": sum(not u.logged_in for u in users),
        "cancelled": cut,
    }
    return LoadResult(zero, timed.wall, server_cpu, login_wall, counts)


async def single_user_phase(
    base_url: str,
    workload: Workload,
    args: argparse.Namespace,
    records: list[Record],
    healthz: list[Record],
) -> None:
    """The baselines: one user back to back (same mix, same write pace), /healthz alone."""
    user = User(
        base_url,
        f"{LOAD_USER_PREFIX}{args.users:02d}",  # an account of its own, used only here
        address(args.users),
        workload,
        np.random.default_rng(args.seed),
        args.write_gap,
        args.timeout,
        records,
    )
    try:
        if await user.login(LOAD_PASSWORD):
            deadline = time.monotonic() + 300
            await run_user(user, 0.0, deadline, args.baseline_requests, 0.0)
    finally:
        await user.close()
    pinger = User(base_url, None, address(1, 19), workload, user.rng, 0, args.timeout, healthz)
    try:
        for _ in range(args.healthz_requests):
            await pinger.request("/healthz", "GET", "/healthz", 200)
    finally:
        await pinger.close()


async def probe_forwarded(base_url: str, attempts: int = 100) -> dict[str, object]:
    """Does the server key rate limits on X-Forwarded-For? Failed logins from one address.

    Each attempt uses a new username, so only a per-address limit can answer 429. Then one
    failed login from a second address: a 429 there means every request counts as
    127.0.0.1 (the header is ignored), which would make the run measure the limiter.
    """
    records: list[Record] = []
    rng = np.random.default_rng(0)
    first = User(base_url, None, address(100, 19), None, rng, 0, 60, records)
    second = User(base_url, None, address(101, 19), None, rng, 0, 60, records)
    result: dict[str, object] = {"first": first.ip, "second": second.ip}
    try:
        tripped = None
        for i in range(attempts):
            await first.request("probe", "GET", "/login", 200)
            form = {
                "username": f"probe-{i}",
                "password": "wrong-password-x",
                "csrf_token": first.csrf,
            }
            response = await first.request("probe", "POST", "/login", 400, data=form)
            if response is not None and response.status_code == 429:
                tripped = i + 1
                break
        result["first_429_after"] = tripped
        if tripped is not None:
            await second.request("probe", "GET", "/login", 200)
            form = {
                "username": "probe-other",
                "password": "wrong-password-x",
                "csrf_token": second.csrf,
            }
            response = await second.request("probe", "POST", "/login", 400, data=form)
            result["second_status"] = None if response is None else response.status_code
    finally:
        await first.close()
        await second.close()
    if result.get("first_429_after") is None:
        result["verdict"] = (
            f"no 429 within {attempts} failed logins from one address: the server has no "
            "per-address login limit (or it is off); X-Forwarded-For not verified"
        )
        result["ok"] = None
    elif result.get("second_status") == 429:
        result["verdict"] = (
            f"429 from {first.ip} after {result['first_429_after']} failed logins, and "
            f"{second.ip} got a 429 at once too: X-Forwarded-For is NOT the client address"
        )
        result["ok"] = False
    else:
        result["verdict"] = (
            f"429 from {first.ip} after {result['first_429_after']} failed logins (a new "
            f"username each); {second.ip} right after: HTTP {result.get('second_status')}: "
            "the server keys limits on the X-Forwarded-For address"
        )
        result["ok"] = True
    return result


# -- accounts and the served copy ------------------------------------------------------------
def ensure_accounts(workspace: object, count: int) -> int:
    """``load-user-00`` .. ``count - 1`` in the cached workspace (made once, like
    ``ensure_community``); returns how many were made now."""
    from sqlalchemy import select

    from paperfeed.community import accounts
    from paperfeed.db import User as UserRow

    with workspace.db.session() as session:  # type: ignore[attr-defined]
        existing = set(
            session.scalars(
                select(UserRow.username).where(UserRow.username.like(f"{LOAD_USER_PREFIX}%"))
            )
        )
    names = [f"{LOAD_USER_PREFIX}{i:02d}" for i in range(count)]
    missing = [name for name in names if name not in existing]
    for name in missing:
        accounts.create_user(workspace, name, LOAD_PASSWORD)
    return len(missing)


def copy_workspace(source: Path, target: Path) -> None:
    """The database and indexes, copied so the run's writes stay out of the cache."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("meta.json"))


# -- statistics ------------------------------------------------------------------------------
@dataclass
class KindStats:
    n: int
    ok: int
    limited: int  # 429
    errors: int  # 5xx, timeouts, connection failures
    other: int
    server_p50: float
    server_p95: float
    server_p99: float
    client_p50: float
    client_p95: float
    client_p99: float
    rps: float
    outcomes: dict[str, int] = field(default_factory=dict)


def _pcts(values: list[float]) -> list[float]:
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return [float("nan")] * 3
    return [float(v) for v in np.percentile(clean, [50, 95, 99])]


def stats_by_kind(
    records: list[Record], wall: float, total: str = "all requests"
) -> dict[str, KindStats]:
    """Per kind and for all of them; percentiles over the answered requests (not failures)."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.kind, []).append(r)
    if len(groups) > 1:
        groups[total] = records
    out = {}
    for kind, group in groups.items():
        answered = [r for r in group if r.status]
        outcomes: dict[str, int] = {}
        for r in group:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        out[kind] = KindStats(
            len(group),
            outcomes.get("ok", 0),
            outcomes.get("429", 0),
            sum(outcomes.get(o, 0) for o in ERROR_OUTCOMES),
            outcomes.get("other", 0),
            *_pcts([r.server_ms for r in answered]),
            *_pcts([r.client_ms for r in answered]),
            len(group) / wall if wall else float("nan"),
            outcomes,
        )
    return out


def ms(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b == 0:
        return "–"
    return f"{a / b:.1f}x"


# -- report ----------------------------------------------------------------------------------
def print_kinds(
    loaded: dict[str, KindStats],
    single: dict[str, KindStats],
    health: dict[str, KindStats],
    logins: dict[str, KindStats],
    args: argparse.Namespace,
) -> None:
    print(
        f"\n### Requests by kind — {args.users} users, think {args.think:g} s (mean), "
        f"{args.duration:g} s, `paperfeed serve --workers {args.workers}`; ms, server-side "
        "(Server-Timing) and client wall time\n"
    )
    print(
        "| kind | n | ok | 429 | errors | other | server p50 | p95 | p99 | client p50 | p95 "
        "| p99 | 1-user server p99 | p99 vs 1 user |"
    )
    print(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |"
    )

    def row(name: str, s: KindStats, b: KindStats | None) -> None:
        print(
            f"| {name} | {s.n:,} | {s.ok:,} | {s.limited} | {s.errors} | {s.other} | "
            f"{ms(s.server_p50)} | {ms(s.server_p95)} | {ms(s.server_p99)} | "
            f"{ms(s.client_p50)} | {ms(s.client_p95)} | {ms(s.client_p99)} | "
            f"{ms(b.server_p99) if b else '–'} | "
            f"{ratio(s.server_p99, b.server_p99) if b else '–'} |"
        )

    order = [*LOGIN_KINDS, *READS, "vote", "un-vote", "save", "unsave", "comment"]
    for kind in [*order, *(k for k in loaded if k not in order and k != "all requests")]:
        if kind in loaded:
            row(kind, loaded[kind], single.get(kind))
    row("**all requests**", loaded["all requests"], single.get("all requests"))
    if HEALTHZ_UNDER_LOAD in health:
        row(f"{HEALTHZ_UNDER_LOAD} (1/s)", health[HEALTHZ_UNDER_LOAD], health.get("/healthz"))
    if "/healthz" in health:
        row("/healthz, 1 client (baseline)", health["/healthz"], None)
    for kind, stats in logins.items():
        row(f"before the load, {LOGIN_CONCURRENCY} at a time: {kind}", stats, single.get(kind))


def print_problems(records: list[Record]) -> None:
    errors = [r for r in records if r.outcome in ERROR_OUTCOMES]
    limited = [r for r in records if r.outcome == "429"]
    other = [r for r in records if r.outcome == "other"]
    print("\n### Errors (5xx, connection failures, timeouts), 429s and other statuses\n")
    if not (errors or limited or other):
        print("None: every request got the expected answer (no 5xx, no failure, no 429).")
        return
    for title, group in (("errors", errors), ("429 (rate limited)", limited), ("other", other)):
        if not group:
            print(f"- {title}: none")
            continue
        counts: dict[tuple[str, str], int] = {}
        for r in group:
            counts[(r.kind, r.outcome)] = counts.get((r.kind, r.outcome), 0) + 1
        listed = ", ".join(
            f"{kind} {outcome}: {n}" for (kind, outcome), n in sorted(counts.items())
        )
        print(f"- {title}: {len(group)} ({listed}); for example:")
        for r in group[:5]:
            print(f"  - `{r.method} {r.path}` -> {r.status or r.outcome} {r.detail[:160]!r}")


def print_memory(
    samples: list[MemorySample],
    records: list[Record],
    zero: float,
    verdict: MemoryVerdict | None,
    args: argparse.Namespace,
) -> None:
    print(
        f"\n### Server memory — all server processes summed (`/proc/<pid>/smaps_rollup`), "
        f"sampled every {args.sample_every:g} s\n"
    )
    before = [s for s in samples if s.at < 0]
    if before:
        print(
            f"before the load phase: RSS {before[0].rss_mb:.0f} MB / PSS {before[0].pss_mb:.0f} "
            f"MB at start, {before[-1].rss_mb:.0f} / {before[-1].pss_mb:.0f} MB after the "
            "baselines.\n"
        )
    load = [s for s in samples if s.phase == "load"]
    step = 60.0 if args.duration >= 300 else max(args.sample_every, args.duration / 10)
    print(
        "| load phase, s | RSS MB | PSS MB | of it anonymous | processes | requests | errors | 429 "
        "| client p99 ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    bins = math.ceil(args.duration / step)
    for b in range(bins):
        lo, hi = b * step, (b + 1) * step
        inside = [s for s in load if lo <= s.at < hi or (b == bins - 1 and s.at >= hi)]
        if not inside:
            continue
        last = b == bins - 1
        during = [r for r in records if lo <= r.at - zero < hi or (last and r.at - zero >= hi)]
        errors = sum(r.outcome in ERROR_OUTCOMES for r in during)
        limited = sum(r.outcome == "429" for r in during)
        p99 = _pcts([r.client_ms for r in during if r.status])[2]
        print(
            f"| {lo:.0f}–{hi:.0f} | {np.mean([s.rss_mb for s in inside]):.0f} | "
            f"{np.mean([s.pss_mb for s in inside]):.0f} | "
            f"{np.mean([s.pss_anon_mb for s in inside]):.0f} | {inside[-1].processes} | "
            f"{len(during):,} | {errors} | {limited} | {ms(p99)} |"
        )
    print(
        f'\nCriterion ("flat"): after a warm-up of the first window (min(60 s, duration / 5)), '
        f"the least-squares slope of PSS is at most {FLAT_SLOPE_MB_MIN:g} MB/min, and the mean "
        f"PSS of the last window is at most {FLAT_LAST_VS_FIRST:.0%} above the mean of the "
        "first window after warm-up."
    )
    if verdict is None:
        print("\nToo few samples for a verdict (run longer).")
        return
    w = verdict.window_s
    print(
        f"\nfirst window ({w:.0f}–{2 * w:.0f} s): PSS {verdict.first_pss_mb:.1f} MB (RSS "
        f"{verdict.first_rss_mb:.1f}); last window ({args.duration - w:.0f}–{args.duration:.0f} "
        f"s): PSS {verdict.last_pss_mb:.1f} MB (RSS {verdict.last_rss_mb:.1f}), "
        f"{verdict.change:+.1%}; slope after warm-up: PSS {verdict.slope_pss_mb_min:+.2f} MB/min, "
        f"RSS {verdict.slope_rss_mb_min:+.2f} MB/min ({verdict.samples} samples); PSS slope "
        f"over the second half alone {verdict.slope_pss_second_half_mb_min:+.2f} MB/min, of "
        f"anonymous memory (heap) alone {verdict.slope_pss_anon_mb_min:+.2f} MB/min: "
        f"**{'FLAT' if verdict.flat else 'NOT FLAT'}**."
    )


def git_state() -> dict[str, object]:
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = [line for line in git("status", "--porcelain", "--", "paperfeed").splitlines() if line]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_in_paperfeed": len(dirty)}


def server_log_problems(log_file: Path) -> list[str]:
    """Tracebacks and error lines the server wrote (uvicorn logs unhandled exceptions)."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            tail = next(
                (
                    lines[j]
                    for j in range(i + 1, len(lines))
                    if lines[j] and not lines[j][0].isspace()
                ),
                "?",
            )
            found.append(tail)
        elif "ERROR" in line:
            found.append(line)
    return found


# -- main ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(
        description="Simulated users (reads and writes, rate limits on) against `paperfeed "
        "serve` for a bounded time: errors, 429s, latency percentiles and the server's memory.",
        epilog="Progress goes to stderr; the report (Markdown tables) to stdout.",
    )
    parser.add_argument(
        "--corpus", default="papers100k", help="papers100k (default), arxiv26k or demo"
    )
    parser.add_argument("--users", type=int, default=50, help="simulated users (50)")
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (600)")
    parser.add_argument(
        "--think",
        type=float,
        default=1.5,
        metavar="SECONDS",
        help="mean pause of a user between actions, exponential (1.5)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="seconds over which users arrive (min(30, duration / 4))",
    )
    parser.add_argument("--workers", type=int, default=1, help="paperfeed serve --workers (1)")
    parser.add_argument(
        "--write-gap",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="at least this long between one user's writes (10)",
    )
    parser.add_argument(
        "--max-actions",
        type=int,
        default=None,
        help="per user (default: 3x what the think time allows, at least 100)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds (30)")
    parser.add_argument(
        "--baseline-requests", type=int, default=300, help="actions of the one-user baseline (300)"
    )
    parser.add_argument(
        "--healthz-requests", type=int, default=200, help="/healthz requests of its baseline (200)"
    )
    parser.add_argument(
        "--sample-every", type=float, default=10.0, help="memory sample interval, seconds (10)"
    )
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="serve with PAPERFEED_RATE_LIMITS=false (for comparison)",
    )
    parser.add_argument("--seed", type=int, default=17, help="workload seed")
    parser.add_argument(
        "--skip-build", action="store_true", help="fail if the corpus is not cached"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared/ data dir")
    add_wait_quiet(parser)
    args = parser.parse_args()
    if args.ramp is None:
        args.ramp = min(30.0, args.duration / 4)
    if args.max_actions is None:
        args.max_actions = max(100, int(3 * args.duration / max(args.think, 0.1)))

    command = command_line()
    git = git_state()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmpname:
        tmp = Path(tmpname)
        opts = argparse.Namespace(
            corpus=args.corpus, skip_build=args.skip_build, shared=args.shared, users=24
        )
        workspace, description = open_workspace(opts, tmp)
        made = ensure_accounts(workspace, args.users + 1)
        if made:
            log(f"accounts: made {made} {LOAD_USER_PREFIX}* accounts")
        workload, how = make_workload(args.corpus, workspace, args.shared, args.seed)
        checkpoint_wal(workspace)
        source = workspace.settings.data_dir  # type: ignore[attr-defined]
        workspace.db.engine.dispose()  # type: ignore[attr-defined]
        log(f"copying {source} for the server (its writes stay out of the cache)")
        served = tmp / "served"
        copy_workspace(source, served)
        wait_for_quiet(args.wait_quiet)

        print("# load")
        print(
            f"\ncommand: `{command}`; started {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {load_now()}"
        )
        print(
            f"\ncode: commit {git['commit']}"
            + (
                f" plus uncommitted changes in {git['uncommitted_in_paperfeed']} file(s) under "
                "paperfeed/ (the server runs the working tree)"
                if git["uncommitted_in_paperfeed"]
                else ""
            )
        )
        print(f"\ncorpus: {description}; served from a copy.")
        print(
            f"\nworkload: {args.users} users (own account, cookie jar, connection and "
            f"X-Forwarded-For address each), arriving over {args.ramp:g} s, then acting for "
            f"{args.duration:g} s in all with think time {args.think:g} s (exponential mean); "
            f"writes at most one per {args.write_gap:g} s per user; rate limits "
            f"{'OFF' if args.no_rate_limits else 'on (the server defaults)'}. Weights (of "
            f"100): {', '.join(f'{k} {v:g}' for k, v in WEIGHTS.items())}; votes and saves are "
            f"taken back {UNDO_SHARE:.0%} of the time. {len(workload.days)} listed days, "
            f"{len(workload.paper_ids):,} papers; search queries: {how}."
        )

        env = {"PAPERFEED_RATE_LIMITS": "false"} if args.no_rate_limits else {}
        sections: list[Section] = []
        records: list[Record] = []
        logins: list[Record] = []
        single: list[Record] = []
        health: list[Record] = []
        log(f"starting paperfeed serve ({args.workers} worker(s))")
        server = CliServer(served, args.workers, tmp / "server.log", env)
        with server:
            sampler = MemorySampler(server, args.sample_every)
            sampler.start()
            sampler.mark("probe")
            log("probe: does the server key on X-Forwarded-For?")
            with section("probe: failed logins from one address", sections, server.pids):
                probe = asyncio.run(probe_forwarded(server.url))
            log(f"probe: {probe['verdict']}")
            if probe["ok"] is False:
                raise SystemExit(f"X-Forwarded-For is ignored: {probe['verdict']}")
            sampler.mark("baseline")
            log(f"baseline: one user, {args.baseline_requests} actions back to back; /healthz")
            cpu0 = server.cpu_seconds()
            with section("1 user, back to back + /healthz", sections, server.pids):
                asyncio.run(single_user_phase(server.url, workload, args, single, health))
            single_cpu = server.cpu_seconds() - cpu0
            log(f"load: {args.users} users log in, then act for {args.duration:g} s")
            phases = {"logins": logins, "load": records, "healthz": health}
            result = asyncio.run(load_phase(server, workload, args, phases, sampler, sections))
            sampler.stop()
        log_problems = server_log_problems(tmp / "server.log")

        wall, zero, load_cpu, counts = result.wall, result.zero, result.server_cpu, result.counts
        loaded = stats_by_kind(records, wall)
        logged = stats_by_kind(logins, result.login_wall, total="log-in phase")
        singles = stats_by_kind(single, sum(r.client_ms for r in single) / 1000)
        healths = stats_by_kind(health, wall)
        samples = sampler.relative_to(zero)
        verdict = memory_verdict(samples, args.duration)
        print(f"\nX-Forwarded-For check: {probe['verdict']}.")
        print_kinds(loaded, singles, healths, logged, args)
        total = loaded["all requests"]
        print(
            f"\nthroughput: {total.rps:.1f} requests/s ({total.n:,} requests in {wall:.0f} s; "
            f"{counts['actions']:,} user actions, {counts['capped']} users stopped by "
            f"--max-actions, {counts['not_logged_in']} could not log in, phase cancelled: "
            f"{'yes' if counts['cancelled'] else 'no'}). Server "
            f"CPU: {load_cpu / wall:.2f} cores busy, {load_cpu / max(total.n, 1) * 1000:.1f} ms "
            f"per request ({single_cpu / max(len(single) + len(health), 1) * 1000:.1f} ms in the "
            f"baselines)."
        )
        print_problems(logins + records + single)
        if log_problems:
            print(f"\nserver log: {len(log_problems)} error line(s), e.g.:")
            for line in log_problems[:5]:
                print(f"- `{line[:200]}`")
        else:
            print("\nserver log: no tracebacks or error lines.")
        print_memory(samples, records, zero, verdict, args)

        login_errors = logged["log-in phase"].errors if "log-in phase" in logged else 0
        errors = total.errors + login_errors
        p99_client, p99_server = total.client_p99, total.server_p99
        b = singles.get("all requests")
        h = healths.get(HEALTHZ_UNDER_LOAD)
        table = Table(
            f"Load summary — {args.corpus}, {args.users} users, {args.duration:g} s, "
            f"{args.workers} worker(s)",
            "the same workload by one user back to back, unless the row says otherwise",
            command,
        )
        table.add("all requests p99, client", p99_client, b.client_p99 if b else None, "ms")
        table.add("all requests p99, server", p99_server, b.server_p99 if b else None, "ms")
        table.add("all requests p50, server", total.server_p50, b.server_p50 if b else None, "ms")
        if h is not None:
            table.add(
                "/healthz p99 under load, client",
                h.client_p99,
                healths["/healthz"].client_p99 if "/healthz" in healths else None,
                "ms",
                "baseline: /healthz by one client",
            )
        table.add("p99 client vs target", p99_client, TARGET_P99_MS, "ms", "target < 500")
        table.add(
            "errors", errors, TARGET_ERRORS, "", "target 0; 5xx, failures, timeouts, log-ins too"
        )
        table.add("429 answers", total.limited, None, "", "rate limits on")
        if verdict is not None:
            table.add(
                "PSS slope after warm-up",
                verdict.slope_pss_mb_min,
                FLAT_SLOPE_MB_MIN,
                "MB/min",
                "baseline: the flat criterion",
            )
            table.add(
                "PSS, last window",
                verdict.last_pss_mb,
                verdict.first_pss_mb,
                "MB",
                "baseline: first window after warm-up",
            )
        table.print()

        met_errors = errors <= TARGET_ERRORS
        met_p99 = p99_client < TARGET_P99_MS and p99_server < TARGET_P99_MS
        met_memory = verdict is not None and verdict.flat
        print("\n### Targets\n")
        print(f"- 0 errors: **{'MET' if met_errors else 'MISSED'}** ({errors} errors)")
        print(
            f"- p99 < {TARGET_P99_MS:.0f} ms: **{'MET' if met_p99 else 'MISSED'}** (client "
            f"{p99_client:.1f} ms, server {p99_server:.1f} ms)"
        )
        print(
            f"- memory flat: **{'MET' if met_memory else 'MISSED'}**"
            + (
                f" (PSS {verdict.slope_pss_mb_min:+.2f} MB/min, last window {verdict.change:+.1%})"
                if verdict
                else " (too few samples)"
            )
        )
        print(f"- 429s: {total.limited} ({'none' if not total.limited else 'see above'})")
        print_load_report(sections)

        if args.json:
            report = {
                "command": command,
                "started": time.strftime("%Y-%m-%d"),
                **git,
                "corpus": args.corpus,
                "description": description,
                "users": args.users,
                "duration_s": args.duration,
                "think_s": args.think,
                "workers": args.workers,
                "rate_limits": not args.no_rate_limits,
                "forwarded_probe": probe,
                "wall_s": wall,
                "counts": counts,
                "server_cpu_cores": load_cpu / wall,
                "load": {k: asdict(v) for k, v in loaded.items()},
                "login_phase": {k: asdict(v) for k, v in logged.items()},
                "login_phase_wall_s": result.login_wall,
                "single_user": {k: asdict(v) for k, v in singles.items()},
                "healthz": {k: asdict(v) for k, v in healths.items()},
                "problems": [asdict(r) for r in records + single if r.outcome != "ok"][:200],
                "server_log_problems": log_problems[:50],
                "memory_samples": [asdict(s) for s in samples],
                "memory": asdict(verdict) if verdict else None,
                "criterion": {
                    "slope_mb_per_min_max": FLAT_SLOPE_MB_MIN,
                    "last_vs_first_max": FLAT_LAST_VS_FIRST,
                },
                "targets": {
                    "errors_met": met_errors,
                    "p99_met": met_p99,
                    "memory_flat_met": met_memory,
                },
                "machine": [
                    {"name": s.name, "wall": s.wall, "ours": s.ours, "others": s.others}
                    for s in sections
                ],
            }
            args.json.write_text(json.dumps(report, indent=2, default=str))
            log(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
