"""Server-side latency of the web app under concurrent clients (default: 100k papers, 16 clients).

    .venv/bin/python bench/bench_web.py [--corpus papers100k] [--clients 16] [--requests 200]
                                        [--workers 1] [--think S] [--profile] [--json FILE]
                                        [--skip-build] [--wait-quiet S]

The real app (``paperfeed.web.app.create_app`` over the cached workspace) runs in a
subprocess under uvicorn on 127.0.0.1: ``python -m uvicorn --factory bench_web:server_app``,
one worker process unless ``--workers`` says otherwise, uvicorn's defaults otherwise (as
``paperfeed serve``: asyncio loop, h11, no access log). Clients are threads in this process,
each with its own ``httpx.Client`` (keep-alive), issuing its next request as soon as the
previous one is answered (closed loop, no think time): 16 clients keep 16 requests in flight.
``--think S`` makes each client pause a random time (exponential, mean S seconds) after each
response instead, like people reading pages: fewer requests at once, the same 16 clients.
Half the clients are logged in (``bench-user-*``), as half the single-client requests are.
With ``--workers`` > 1 uvicorn binds the socket itself and leaves Nagle's algorithm on
(uvicorn#3149): client times then carry a ~45 ms delayed-ACK stall per request that the
server-side times do not show.

Each client runs a mixed workload, drawn per request with fixed weights (``WEIGHTS``):

* ``feed``: ``/`` or ``/?day=D`` (a random listed day), 1 in 10 on page 2;
* ``feed week``: ``/week`` or ``/week/YYYY-Www``;  ``trending``: ``/trending``;
* ``search``: ``/search?q=Q`` with the 240 real queries of ``bench_search`` (held-out titles
  cut to 3-6 words, natural-language questions), 1 in 10 on page 2;
* ``search filtered``: the same queries with ``cat=cs.CL``, ``cat=cs.LG`` or ``cat:cs.CV`` in
  the box, or ``author=<a real author>`` (no ``since:``: the arXiv daily listings carry no
  published date, so it would match nothing in these corpora);
* ``paper``: ``/papers/{id}`` of a random paper (3 in 4 from all papers, 1 in 4 from those
  with comments); the page computes 8 similar papers and renders the comments;
* ``api search``: ``/api/v1/search?q=Q`` (JSON, limit 10).

Per request: the server-side time from the app's ``Server-Timing: app;dur=<ms>`` header (the
app's own middleware, around routing, the view and rendering) and the client's wall time.
Baselines, in the same run against the same server: the same workload with one client (the
requests one after another), and ``/healthz`` (the paper count, kept by the app until the
data changes: the cheapest route, the HTTP stack alone) with one and with all clients.
Ratios printed: p95 under load / p95 with one client, and page p95 / ``/healthz`` p95 under
the same load.

``--profile`` then samples the server with py-spy (``pip install py-spy``) while one client
(``--profile-clients``) requests one page kind at a time, and prints where the time goes.

The corpus is ``bench_search``'s cached 100k workspace (``bench/.cache/papers100k``, built on
first use), plus users, votes and comments made once by ``_common.ensure_community``. Its
feeds show the real papers' arXiv listings (120 days, 26-537 papers a day); the synthetic
variants have no listings, so they appear in search and paper pages only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

import httpx
import numpy as np
from _common import (
    BENCH_PASSWORD,
    BENCH_USER_PREFIX,
    CACHE,
    DEFAULT_SHARED,
    REPO,
    Section,
    ServerProcess,
    Table,
    add_wait_quiet,
    command_line,
    ensure_community,
    load_now,
    log,
    print_load_report,
    section,
    wait_for_quiet,
)

KINDS = ("feed", "feed week", "trending", "search", "search filtered", "paper", "api search")
WEIGHTS = {
    "feed": 15,
    "feed week": 8,
    "trending": 7,
    "search": 30,
    "search filtered": 10,
    "paper": 20,
    "api search": 10,
}
SEARCH_PAGES = ("search", "search filtered")  # what the target is about
HEALTHZ = "healthz"
TARGET_P95_MS = 50.0
_SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")


# -- the server ------------------------------------------------------------------------------
def server_app():  # type: ignore[no-untyped-def]
    """The uvicorn app factory: the real app over the workspace in ``$PAPERFEED_DATA_DIR``."""
    from paperfeed.config import Settings
    from paperfeed.web.app import create_app
    from paperfeed.workspace import Workspace

    return create_app(Workspace.open(Settings()))


class Server(ServerProcess):
    """``python -m uvicorn --factory bench_web:server_app`` in a subprocess, on a free port."""

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_web:server_app",
            "--factory",
            "--app-dir",
            str(REPO / "bench"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]


# -- the workload ----------------------------------------------------------------------------
@dataclass
class Workload:
    """What the clients ask for: real queries, listed days, paper ids, filters."""

    queries: list[str]
    days: list[str]
    paper_ids: list[str]
    commented_ids: list[str]
    authors: list[str]

    def path(self, kind: str, rng: np.random.Generator) -> str:
        def pick(items: list[str]) -> str:
            return items[int(rng.integers(len(items)))]

        page = {"page": 2} if rng.random() < 0.1 else {}
        if kind == "feed":
            day = {"day": pick(self.days)} if rng.random() < 0.5 else {}
            return "/?" + urlencode({**day, **page}) if day or page else "/"
        if kind == "feed week":
            if rng.random() < 0.5:
                year, week, _ = date.fromisoformat(pick(self.days)).isocalendar()
                return f"/week/{year}-W{week:02d}"
            return "/week"
        if kind == "trending":
            return "/trending"
        if kind == "search":
            return "/search?" + urlencode({"q": pick(self.queries), **page})
        if kind == "search filtered":
            query = pick(self.queries)
            choice = int(rng.integers(4))
            params = [
                {"q": query, "cat": "cs.CL"},
                {"q": query, "cat": "cs.LG"},
                {"q": f"{query} cat:cs.CV"},
                {"q": query, "author": pick(self.authors)},
            ][choice]
            return "/search?" + urlencode(params)
        if kind == "paper":
            ids = self.commented_ids if rng.random() < 0.25 and self.commented_ids else None
            return f"/papers/{pick(ids or self.paper_ids)}"
        if kind == "api search":
            return "/api/v1/search?" + urlencode({"q": pick(self.queries)})
        if kind == HEALTHZ:
            return "/healthz"
        raise ValueError(kind)

    def plan(self, n: int, rng: np.random.Generator, kinds: dict[str, int] = WEIGHTS) -> list:
        names = list(kinds)
        weights = np.array([kinds[k] for k in names], dtype=float)
        drawn = rng.choice(len(names), n, p=weights / weights.sum())
        return [(names[i], self.path(names[i], rng)) for i in drawn]


def make_workload(corpus: str, workspace: object, shared: Path, seed: int) -> tuple[Workload, str]:
    from bench_search import make_queries
    from sqlalchemy import select

    from paperfeed.db import Listing, Paper

    queries, how = make_queries(corpus, workspace, shared, 240, seed)
    with workspace.db.session() as session:  # type: ignore[attr-defined]
        days = [d.isoformat() for d in session.scalars(select(Listing.day).distinct())]
        paper_ids = list(session.scalars(select(Paper.id).where(Paper.hidden.is_(False))))
        commented = list(
            session.scalars(select(Paper.id).where(Paper.num_comments > 0, Paper.hidden.is_(False)))
        )
        author_lists = session.scalars(
            select(Paper.authors).where(Paper.listings.any()).order_by(Paper.pk).limit(5000)
        ).all()
    rng = np.random.default_rng(seed)
    firsts = sorted({a[0] for a in author_lists if a})
    authors = [firsts[int(i)] for i in rng.choice(len(firsts), min(200, len(firsts)), False)]
    return Workload(queries, days, paper_ids, commented, authors), how


# -- clients ---------------------------------------------------------------------------------
class Sample(NamedTuple):
    kind: str
    server_ms: float  # from Server-Timing; nan if the header is missing
    client_ms: float
    status: int
    done_at: float  # perf_counter when the response was read


def new_client(base_url: str, username: str | None) -> httpx.Client:
    """A client with its own connection; logged in as ``username`` when given."""
    client = httpx.Client(base_url=base_url, timeout=120, follow_redirects=False)
    if username is not None:
        token = client.get("/api/v1/me").json()["csrf_token"]
        response = client.post(
            "/login",
            data={"username": username, "password": BENCH_PASSWORD, "csrf_token": token},
        )
        if response.status_code != 303:
            raise SystemExit(f"could not log in as {username}: HTTP {response.status_code}")
    return client


def run_plan(
    client: httpx.Client,
    plan: list[tuple[str, str]],
    out: list[Sample],
    think: float = 0.0,
    rng: np.random.Generator | None = None,
) -> None:
    """Request the plan's paths in turn; with ``think``, pause a random time (exponential,
    mean ``think`` seconds) after each response, as a reader would."""
    for kind, path in plan:
        t0 = time.perf_counter()
        response = client.get(path)
        t1 = time.perf_counter()
        match = _SERVER_TIMING.search(response.headers.get("server-timing", ""))
        server = float(match.group(1)) if match else float("nan")
        out.append(Sample(kind, server, (t1 - t0) * 1000, response.status_code, t1))
        if think > 0 and rng is not None:
            time.sleep(rng.exponential(think))


@contextmanager
def open_clients(base_url: str, users: list[str | None]) -> Iterator[list[httpx.Client]]:
    """One client per entry, logged in as that user (None: anonymous); closed afterwards."""
    clients: list[httpx.Client] = []
    try:
        for user in users:
            clients.append(new_client(base_url, user))
        yield clients
    finally:
        for client in clients:
            client.close()


def run_phase(
    clients: list[httpx.Client],
    plans: list[list[tuple[str, str]]],
    concurrent: bool,
    think: float = 0.0,
) -> tuple[list[Sample], float]:
    """Run each plan on its own client: all at once (``concurrent``) or one after another.

    Returns the samples and the wall time from the first request to the last response.
    """
    results: list[list[Sample]] = [[] for _ in plans]
    if not concurrent:
        t0 = time.perf_counter()
        for client, plan, out in zip(clients, plans, results, strict=True):
            run_plan(client, plan, out)
        return [s for out in results for s in out], time.perf_counter() - t0
    barrier = threading.Barrier(len(plans) + 1)
    errors: list[BaseException] = []

    def worker(
        i: int, client: httpx.Client, plan: list[tuple[str, str]], out: list[Sample]
    ) -> None:
        rng = np.random.default_rng(1000 + i)  # think times, the same each run
        barrier.wait()
        try:
            run_plan(client, plan, out, think, rng)
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(i, *args), daemon=True)
        for i, args in enumerate(zip(clients, plans, results, strict=True))
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    samples = [s for out in results for s in out]
    return samples, max(s.done_at for s in samples) - t0


def user_for(i: int, users: int) -> str | None:
    """Odd-numbered clients are logged in, each as its own bench user."""
    return f"{BENCH_USER_PREFIX}{(i // 2) % users:02d}" if i % 2 else None


# -- statistics ------------------------------------------------------------------------------
@dataclass
class Stats:
    n: int
    errors: int
    server_p50: float
    server_p95: float
    server_p99: float
    server_mean: float
    client_p50: float
    client_p95: float
    client_p99: float
    rps: float


def stats_by_kind(samples: list[Sample], wall: float) -> dict[str, Stats]:
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.kind, []).append(s)
    if len({s.kind for s in samples}) > 1:
        groups["all requests"] = samples
    out = {}
    for kind, group in groups.items():
        ok = [s for s in group if s.status == 200 and not np.isnan(s.server_ms)]
        server = np.array([s.server_ms for s in ok]) if ok else np.array([np.nan])
        client = np.array([s.client_ms for s in ok]) if ok else np.array([np.nan])
        sp, cp = np.percentile(server, [50, 95, 99]), np.percentile(client, [50, 95, 99])
        out[kind] = Stats(
            len(group),
            len(group) - len(ok),
            *map(float, sp),
            float(server.mean()),
            *map(float, cp),
            len(group) / wall,
        )
    return out


def search_pages_p95(samples: list[Sample]) -> float:
    values = [s.server_ms for s in samples if s.kind in SEARCH_PAGES and s.status == 200]
    return float(np.percentile(values, 95)) if values else float("nan")


# -- profiling -------------------------------------------------------------------------------
_SQLITE = "SQLite itself (sqlite3 execute + fetch)"
MARKERS = (  # library frames worth naming in a profile: (file suffix, function, label)
    ("sqlalchemy/orm/session.py", "Session._execute_internal", "SQLAlchemy ORM execute (all)"),
    ("sqlalchemy/engine/default.py", "DefaultDialect.do_execute", _SQLITE),
    ("sqlalchemy/engine/cursor.py", "CursorFetchStrategy.fetchall", _SQLITE),
    ("sqlalchemy/engine/cursor.py", "CursorFetchStrategy.fetchone", _SQLITE),
    ("sqlalchemy/engine/cursor.py", "CursorFetchStrategy.fetchmany", _SQLITE),
    ("jinja2/environment.py", "Template.render", "Jinja2 Template.render (all)"),
    ("fastapi/routing.py", "serialize_response", "FastAPI serialize_response"),
    ("sqlalchemy/orm/loading.py", "instances", "SQLAlchemy ORM row loading"),
    ("uvicorn/server.py", "Server.run", "event loop thread: HTTP, middleware, sessions (all)"),
    ("anyio/_backends/_asyncio.py", "WorkerThread.run", "thread pool: the sync views (all)"),
    ("jinja2/environment.py", "Environment.get_template", "Jinja2 get_template (auto-reload)"),
)


def py_spy() -> str | None:
    for candidate in (Path(sys.executable).parent / "py-spy", Path("/usr/bin/py-spy")):
        if candidate.exists():
            return str(candidate)
    return None


def profile_kinds(
    server: Server,
    workload: Workload,
    args: argparse.Namespace,
    out_dir: Path,
    sections: list[Section],
) -> dict[str, dict[str, object]]:
    """py-spy samples of the server while every client requests one page kind.

    The raw samples (collapsed stacks, for flamegraph.pl or speedscope) go to ``out_dir``.
    """
    spy = py_spy()
    if spy is None:
        log("--profile: py-spy is not installed (.venv/bin/pip install py-spy); skipped")
        return {}
    summaries = {}
    for kind in KINDS:
        rng = np.random.default_rng(args.seed + 1000)
        n = args.profile_clients
        plans = [workload.plan(args.profile_requests, rng, {kind: 1}) for _ in range(n)]
        users = [user_for(i, args.users) for i in range(n)]
        raw = out_dir / f"py-spy-{kind.replace(' ', '-')}.txt"
        command = [spy, "record", "--pid", str(server.pids[0]), "--format", "raw"]
        command += ["--full-filenames", "--rate", "200", "--output", str(raw)]
        if args.workers > 1:
            command.append("--subprocesses")
        log(f"profile: {kind} ({n} client(s) x {args.profile_requests} requests)")
        with open_clients(server.url, users) as clients:
            with (out_dir / "py-spy.log").open("ab") as spy_log:
                recorder = subprocess.Popen(command, stdout=spy_log, stderr=spy_log)
            time.sleep(1.0)  # let py-spy attach
            try:
                with section(f"profile: {kind}", sections, (*server.pids, recorder.pid)):
                    run_phase(clients, plans, concurrent=True)
            finally:
                recorder.send_signal(signal.SIGINT)
                recorder.wait(60)
        if raw.exists():
            summaries[kind] = summarize_profile(raw)
    return summaries


def _frame(text: str) -> tuple[str, str]:
    """``"Class.func (/path/file.py:12)"`` -> (function, file)."""
    function, _, where = text.rpartition(" (")
    return (function or text), where.rstrip(")").rsplit(":", 1)[0]


def _package(file: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0]
    if file.startswith(str(REPO)):
        parts = Path(file).relative_to(REPO).parts
        if parts[-1].endswith(".html"):
            return "templates (compiled Jinja2)"
        return ".".join(parts).removesuffix(".py")
    if "/lib/python3" in file:
        return "stdlib " + file.rsplit("/lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return file or "?"


def _label(function: str, file: str) -> str | None:
    for suffix, name, label in MARKERS:
        if file.endswith(suffix) and function == name:
            return label
    if file.startswith(str(REPO)) and "site-packages/" not in file:
        relative = str(Path(file).relative_to(REPO))
        if relative.endswith(".html"):
            return f"template {Path(relative).name}"
        return f"{relative.removesuffix('.py').replace('/', '.')}:{function}"
    return None


IDLE_LEAVES = {  # waiting, not working: py-spy's idle detection lets a few of these through
    ("Condition.wait", "threading.py"),
    ("Event.wait", "threading.py"),
    ("EpollSelector.select", "selectors.py"),
}


def summarize_profile(raw: Path, top: int = 12) -> dict[str, object]:
    """Inclusive shares of our functions, templates and a few library calls; self by package.

    Shares are of the samples of threads that were running (py-spy's default: idle threads
    are left out, and the few idle waits it lets through are dropped here).
    """
    total = idle = 0
    inclusive: Counter[str] = Counter()
    self_by_package: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        if (frames[-1][0], Path(frames[-1][1]).name) in IDLE_LEAVES:
            idle += n
            continue
        total += n
        self_by_package[_package(frames[-1][1])] += n
        labels = {label for f in frames if (label := _label(*f)) is not None}
        for label in labels:
            inclusive[label] += n
    if not total:
        return {"samples": 0, "idle_dropped": idle, "inclusive": [], "self_by_package": []}
    return {
        "samples": total,
        "idle_dropped": idle,
        "inclusive": [(k, v / total) for k, v in inclusive.most_common(top)],
        "self_by_package": [(k, v / total) for k, v in self_by_package.most_common(8)],
    }


# -- report ----------------------------------------------------------------------------------
def ms(value: float) -> str:
    if np.isnan(value):
        return "–"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def ratio(a: float, b: float) -> str:
    return "–" if not b or np.isnan(a) or np.isnan(b) else f"{a / b:.1f}x"


def print_report(
    loaded: dict[str, Stats],
    single: dict[str, Stats],
    health: dict[str, Stats],
    health_single: dict[str, Stats],
    args: argparse.Namespace,
    command: str,
) -> None:
    clients = args.clients
    h95 = health[HEALTHZ].server_p95
    think = f", think time {args.think:g} s (mean)" if args.think else ", no think time"
    print(
        f"\n### Web latency — {args.corpus}, {clients} concurrent clients{think}, "
        f"{args.workers} uvicorn worker(s), server-side (Server-Timing) unless marked client\n"
    )
    print(f"command: `{command}`\n")
    print(
        f"| page kind | n | p50 ms | p95 ms | p99 ms | client p95 ms | req/s | 1-client p50 "
        f"| 1-client p95 | p95 {clients} vs 1 client | p95 vs /healthz p95 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = [*KINDS, "all requests"]
    for kind in rows:
        s, b = loaded.get(kind), single.get(kind)
        if s is None:
            continue
        errors = f" ({s.errors} errors)" if s.errors else ""
        print(
            f"| {kind}{errors} | {s.n:,} | {ms(s.server_p50)} | {ms(s.server_p95)} | "
            f"{ms(s.server_p99)} | {ms(s.client_p95)} | {s.rps:.1f} | "
            f"{ms(b.server_p50) if b else '–'} | {ms(b.server_p95) if b else '–'} | "
            f"{ratio(s.server_p95, b.server_p95) if b else '–'} | {ratio(s.server_p95, h95)} |"
        )
    h, hb = health[HEALTHZ], health_single[HEALTHZ]
    print(
        f"| /healthz (baseline) | {h.n:,} | {ms(h.server_p50)} | {ms(h.server_p95)} | "
        f"{ms(h.server_p99)} | {ms(h.client_p95)} | {h.rps:.1f} | {ms(hb.server_p50)} | "
        f"{ms(hb.server_p95)} | {ratio(h.server_p95, hb.server_p95)} | 1.0x |"
    )


def verdict(value: float, workers: int, clients: int) -> str:
    state = "MET" if value < TARGET_P95_MS else "MISSED"
    return (
        f"Target p95 < {TARGET_P95_MS:.0f} ms for search pages (server-side, {clients} clients, "
        f"{workers} worker(s), {os.cpu_count()} cores): **{state}** ({value:.1f} ms, "
        f"{value / TARGET_P95_MS:.1f}x the target)."
    )


def print_profile(summaries: dict[str, dict[str, object]], clients: int) -> None:
    if not summaries:
        return
    print(
        f"\n### Where a request's time goes, per page kind (py-spy on the server, {clients} "
        "client(s) requesting one kind at a time; share of the samples of running threads; "
        "inclusive = the function and what it calls)\n"
    )
    if clients > 1:
        print(
            "With several clients, threads waiting to get the GIL back after a call that "
            "released it (a stat, an SQLite step) are sampled where they wait, which inflates "
            "those lines; one client gives the cleaner picture.\n"
        )
    for kind, summary in summaries.items():
        print(f"**{kind}** ({summary['samples']:,} samples)\n")
        print("| inclusive | share |  | self time by package | share |")
        print("| --- | ---: | --- | --- | ---: |")
        inclusive = list(summary["inclusive"])  # type: ignore[call-overload]
        packages = list(summary["self_by_package"])  # type: ignore[call-overload]
        for i in range(max(len(inclusive), len(packages))):
            left = inclusive[i] if i < len(inclusive) else ("", None)
            right = packages[i] if i < len(packages) else ("", None)
            print(
                f"| {left[0]} | {'' if left[1] is None else f'{left[1]:.0%}'} |  | {right[0]} "
                f"| {'' if right[1] is None else f'{right[1]:.0%}'} |"
            )
        print()


# -- main ------------------------------------------------------------------------------------
def open_workspace(args: argparse.Namespace, tmp: Path) -> tuple[object, str]:
    from bench_search import open_corpus

    cached = (CACHE / args.corpus / "meta.json").exists()
    if args.skip_build and args.corpus != "demo" and not cached:
        raise SystemExit(
            f"--skip-build: bench/.cache/{args.corpus} is not built; run without --skip-build "
            "(or bench/bench_search.py) once to build it"
        )
    log(f"{args.corpus}: opening (builds the cache on first use)")
    opts = argparse.Namespace(shared=args.shared, rebuild=False)
    workspace, _, description = open_corpus(args.corpus, opts, tmp)
    meta_dir = None if args.corpus == "demo" else CACHE / args.corpus
    counts = ensure_community(workspace, meta_dir, users=args.users)
    description += (
        f"; plus {counts['users']} users, {counts['votes']:,} votes and "
        f"{counts['comments']:,} comments (_common.ensure_community)"
    )
    return workspace, description


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Server-side latency (Server-Timing) of feed, search and paper pages under "
        "concurrent clients, against one client and /healthz.",
        epilog="Progress goes to stderr; the report (Markdown tables) to stdout.",
    )
    parser.add_argument(
        "--corpus", default="papers100k", help="papers100k (default), arxiv26k or demo"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument(
        "--requests", type=int, default=200, help="requests per client under load (200)"
    )
    parser.add_argument(
        "--single-requests",
        type=int,
        default=1000,
        help="requests of the one-client baseline, same mix (1000)",
    )
    parser.add_argument(
        "--healthz-requests", type=int, default=100, help="/healthz requests per client (100)"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="mean pause of each client after a response, under load (default 0: none)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (1)")
    parser.add_argument("--users", type=int, default=24, help="bench users to make (24)")
    parser.add_argument("--seed", type=int, default=13, help="workload seed")
    parser.add_argument(
        "--skip-build", action="store_true", help="fail if the corpus is not cached"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the server per page kind")
    parser.add_argument(
        "--profile-requests", type=int, default=100, help="per client and kind (100)"
    )
    parser.add_argument(
        "--profile-clients", type=int, default=1, help="clients while profiling (1)"
    )
    parser.add_argument(
        "--profile-dir", type=Path, metavar="DIR", help="keep py-spy's raw samples here"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared/ data dir")
    add_wait_quiet(parser)
    args = parser.parse_args()

    command = command_line()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmpname:
        tmp = Path(tmpname)
        workspace, description = open_workspace(args, tmp)
        workload, how = make_workload(args.corpus, workspace, args.shared, args.seed)
        data_dir = workspace.settings.data_dir  # type: ignore[attr-defined]
        workspace.db.engine.dispose()  # type: ignore[attr-defined]
        wait_for_quiet(args.wait_quiet)
        print("# bench_web")
        print(f"\ncommand: `{command}`; started {load_now()}")
        print(f"\ncorpus: {description}.")
        print(
            f"\nworkload: {len(workload.days)} listed days, {len(workload.paper_ids):,} papers "
            f"({len(workload.commented_ids):,} with comments); search queries: {how}."
        )
        print(f"\nweights: {', '.join(f'{k} {v}' for k, v in WEIGHTS.items())} (of 100).")
        sections: list[Section] = []
        log(f"starting the server ({args.workers} worker(s))")
        with Server(data_dir, args.workers, tmp / "server.log") as server:
            rng = np.random.default_rng(args.seed)
            log("warm-up: every kind, one client, then all clients")
            every_kind = [(k, workload.path(k, rng)) for k in KINDS for _ in range(5)]
            users = [user_for(i, args.users) for i in range(args.clients)]
            with open_clients(server.url, [None]) as clients:
                run_phase(clients, [every_kind], concurrent=False)
            with open_clients(server.url, users) as clients:
                run_phase(clients, [workload.plan(10, rng) for _ in users], concurrent=True)

            phases: dict[str, tuple[list[Sample], float, float]] = {}

            def phase(
                name: str, plans: list, users: list, concurrent: bool, think: float = 0.0
            ) -> None:
                log(f"{name}: {sum(len(p) for p in plans):,} requests")
                with open_clients(server.url, users) as clients:
                    cpu0 = server.cpu_seconds()
                    with section(name, sections, server.pids):
                        samples, wall = run_phase(clients, plans, concurrent, think)
                    phases[name] = (samples, wall, (server.cpu_seconds() - cpu0) / wall)

            half = args.single_requests // 2
            phase(
                "1 client: mixed",
                [workload.plan(half, rng) for _ in range(2)],
                [None, user_for(1, args.users)],
                False,
            )
            healthz = [(HEALTHZ, "/healthz")]
            phase("1 client: /healthz", [healthz * (args.healthz_requests * 2)], [None], False)
            phase(
                f"{args.clients} clients: /healthz",
                [healthz * args.healthz_requests for _ in users],
                users,
                True,
                args.think,
            )
            loaded_name = f"{args.clients} clients: mixed"
            plans = [workload.plan(args.requests, rng) for _ in users]
            phase(loaded_name, plans, users, True, args.think)
            profiles = {}
            if args.profile:
                out_dir = args.profile_dir or tmp
                out_dir.mkdir(parents=True, exist_ok=True)
                profiles = profile_kinds(server, workload, args, out_dir, sections)

        stats = {name: stats_by_kind(s, wall) for name, (s, wall, _) in phases.items()}
        loaded = stats[loaded_name]
        single = stats["1 client: mixed"]
        health = stats[f"{args.clients} clients: /healthz"]
        health_single = stats["1 client: /healthz"]
        print_report(loaded, single, health, health_single, args, command)

        samples, wall, server_cores = phases[loaded_name]
        single_samples, single_wall, single_cores = phases["1 client: mixed"]
        search_p95 = search_pages_p95(samples)
        single_search_p95 = search_pages_p95(single_samples)
        total = loaded["all requests"]
        in_app = total.rps * total.server_mean / 1000
        cpu_per_request = server_cores * wall / len(samples) * 1000
        single_cpu_per_request = single_cores * single_wall / len(single_samples) * 1000
        client_cores = next(x.ours for x in sections if x.name == loaded_name) - server_cores
        print(
            f"\nsearch pages (search + search filtered): p95 {search_p95:.1f} ms under "
            f"{args.clients} clients vs {single_search_p95:.1f} ms with one client "
            f"({ratio(search_p95, single_search_p95)})."
        )
        print(
            f"\nthroughput: {total.rps:.1f} requests/s mixed vs "
            f"{health[HEALTHZ].rps:.0f} /healthz per second with the same clients. Server CPU: "
            f"{server_cores:.2f} cores busy under load ({single_cores:.2f} with one client), "
            f"{cpu_per_request:.1f} ms of CPU per request ({single_cpu_per_request:.1f} ms with "
            f"one client); the {args.clients} client threads used {client_cores:.2f} cores. "
            f"Requests inside the app at once (Little's law, throughput x mean server time): "
            f"{in_app:.1f} of {args.clients} in flight; the rest of the client wall time (client "
            f"p50 {total.client_p50:.1f} ms vs server p50 {total.server_p50:.1f} ms) is spent "
            f"outside the app's middleware: uvicorn, the event loop, the loopback socket and the "
            f"client threads."
        )
        table = Table(
            f"Web latency summary — {args.corpus}, {args.clients} clients, {args.workers} "
            "worker(s), server-side p95",
            "the same page kind with one client (the requests one after another)",
            command,
        )
        for kind in (*KINDS, "all requests"):
            if kind in loaded and kind in single:
                table.add(f"{kind} p95", loaded[kind].server_p95, single[kind].server_p95, "ms")
        table.add(
            "search pages p95",
            search_p95,
            single_search_p95,
            "ms",
            "search + search filtered",
        )
        table.add(
            "all requests p95 vs /healthz p95",
            total.server_p95,
            health[HEALTHZ].server_p95,
            "ms",
            f"baseline: /healthz under the same {args.clients} clients",
        )
        table.add(
            "throughput",
            total.rps,
            health[HEALTHZ].rps,
            "req/s",
            "baseline: /healthz under the same clients",
        )
        table.add(
            "server CPU per request",
            cpu_per_request,
            single_cpu_per_request,
            "ms",
            "baseline: one client",
        )
        table.add("search pages p95 vs target", search_p95, TARGET_P95_MS, "ms", "target < 50")
        table.print()
        print("\n" + verdict(search_p95, args.workers, args.clients))
        print_profile(profiles, args.profile_clients)
        print_load_report(sections)

        if args.json:
            report = {
                "command": command,
                "corpus": args.corpus,
                "description": description,
                "clients": args.clients,
                "workers": args.workers,
                "cores": os.cpu_count(),
                "phases": {
                    name: {
                        "wall_s": wall,
                        "server_cores_busy": cores,
                        "by_kind": {k: asdict(v) for k, v in stats[name].items()},
                    }
                    for name, (_, wall, cores) in phases.items()
                },
                "search_pages_p95_ms": search_p95,
                "search_pages_p95_single_ms": single_search_p95,
                "server_cpu_ms_per_request": cpu_per_request,
                "server_cpu_ms_per_request_single": single_cpu_per_request,
                "target_p95_ms": TARGET_P95_MS,
                "target_met": search_p95 < TARGET_P95_MS,
                "profile": profiles,
                "load": [
                    {"name": s.name, "wall": s.wall, "ours": s.ours, "others": s.others}
                    for s in sections
                ],
            }
            args.json.write_text(json.dumps(report, indent=2))
            log(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
