"""Helpers shared by the benchmarks: machine load, result tables, timers, cached corpora, the
server under test.

Every benchmark prints its figures beside a baseline measured in the same run, as a table
``figure | ours | baseline | ratio | command``; ratios are what we compare between runs,
because the machine (2 cores, shared with other work) is noisy.

The two large corpora are cached in ``bench/.cache/`` (git-ignored):

* ``arxiv26k/``: the 26,656 distinct real arXiv cs papers of ``shared/data/arxiv_daily_cs``,
  ingested through the real ``ingest_files`` and embedded once by the real ``Indexes.sync``.
* ``papers100k/``: a copy of that database plus synthetic variants of its papers up to
  100,000 papers (see ``build_papers100k``), indexed by the real ``Indexes.sync``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / ".cache"
DEFAULT_SHARED = REPO.parent / "shared"
ARXIV_DAYS = Path("data") / "arxiv_daily_cs" / "days"
CACHE_FORMAT = 1  # bump when the way a cached corpus is made changes

Log = Callable[[str], None]


def log(message: str) -> None:
    """Progress lines go to stderr, so stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def command_line() -> str:
    """How this benchmark was invoked, as one copy-pasteable command from the repo root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_text = str(script.relative_to(REPO))
    except ValueError:
        script_text = str(script)
    return shlex.join([".venv/bin/python", script_text, *sys.argv[1:]])


# -- machine load --------------------------------------------------------------------------
@dataclass
class LoadSample:
    """The 1/5/15-minute load averages at one moment, and the core count."""

    at: str
    load: tuple[float, float, float]
    cores: int

    def __str__(self) -> str:
        one, five, fifteen = self.load
        return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {self.cores} cores"


def load_now() -> LoadSample:
    return LoadSample(time.strftime("%H:%M:%S"), os.getloadavg(), os.cpu_count() or 1)


def _machine_busy_seconds() -> float | None:
    """CPU-seconds all processes have spent busy since boot (Linux ``/proc/stat``), or None."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Section:
    """One timed part of a benchmark: load before/after and who used the CPU meanwhile.

    ``ours`` is this process's CPU time per wall second (cores we kept busy; a server under
    test counts as ours too, see ``section``); ``others`` is every other process's (all busy
    CPU time from ``/proc/stat`` minus ours). On 2 cores,
    ``others`` above ~0.25 means someone else competed for the CPU: the section is noisy.
    The load averages include this process itself, so they alone cannot tell.
    """

    name: str
    before: LoadSample
    after: LoadSample | None = None
    wall: float = 0.0
    cpu: float = 0.0
    machine: float | None = None

    @property
    def ours(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0

    @property
    def others(self) -> float | None:
        if self.machine is None or not self.wall:
            return None
        return max(0.0, (self.machine - self.cpu) / self.wall)

    @property
    def noisy(self) -> bool:
        others = self.others
        if others is None:  # no /proc/stat: fall back to the load before we started
            return self.before.load[0] > 0.5 * self.before.cores
        return others > 0.25

    def line(self) -> str:
        others = "?" if self.others is None else f"{self.others:.2f}"
        flag = "  ** NOISY: other processes used the CPU; rerun for clean figures **"
        return (
            f"- {self.name}: {self.before}; wall {self.wall:.1f} s; cores busy: ours "
            f"{self.ours:.2f}, others {others}" + (flag if self.noisy else "")
        )


def others_busy(window: float = 3.0) -> float | None:
    """Cores other processes kept busy over the next ``window`` seconds (we sleep meanwhile)."""
    busy0, cpu0 = _machine_busy_seconds(), _cpu_seconds()
    time.sleep(window)
    busy1, cpu1 = _machine_busy_seconds(), _cpu_seconds()
    if busy0 is None or busy1 is None:
        return None
    return max(0.0, (busy1 - busy0 - (cpu1 - cpu0)) / window)


def add_wait_quiet(parser: argparse.ArgumentParser) -> None:
    """The ``--wait-quiet SECONDS`` option every benchmark offers (see ``wait_for_quiet``)."""
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to SECONDS for other processes to leave the CPU (default: no wait)",
    )


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> None:
    """Wait (at most ``max_wait`` s) until other processes use under ``threshold`` cores."""
    if max_wait <= 0:
        return
    deadline = time.monotonic() + max_wait
    while True:
        others = others_busy()
        if others is None or others < threshold:
            log(f"machine quiet enough: others use {others} cores")
            return
        if time.monotonic() > deadline:
            log(f"still busy after {max_wait:.0f} s (others use {others:.2f} cores); going on")
            return
        log(f"waiting for a quiet machine: others use {others:.2f} cores")
        time.sleep(10)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """CPU-seconds (user + system) process ``pid`` has used so far (Linux), 0.0 if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; utime, stime: 14, 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _our_cpu_seconds(pids: tuple[int, ...]) -> float:
    return _cpu_seconds() + sum(process_cpu_seconds(pid) for pid in pids)


@contextmanager
def section(name: str, sections: list[Section], pids: tuple[int, ...] = ()) -> Iterator[Section]:
    """Record load and CPU use around a block (appended to ``sections``).

    ``pids``: other processes that are part of the measurement (a server under test); their
    CPU time counts as ours, not as other processes' noise.
    """
    current = Section(name, load_now())
    sections.append(current)
    busy0 = _machine_busy_seconds()
    wall0, cpu0 = time.perf_counter(), _our_cpu_seconds(pids)
    try:
        yield current
    finally:
        current.wall = time.perf_counter() - wall0
        current.cpu = _our_cpu_seconds(pids) - cpu0
        busy1 = _machine_busy_seconds()
        current.machine = None if busy0 is None or busy1 is None else busy1 - busy0
        current.after = load_now()


def print_load_report(sections: list[Section]) -> None:
    print(
        "\nMachine load while measuring (os.getloadavg before each section; cores busy from "
        "/proc/stat and getrusage; 2-core machine shared with others):"
    )
    for item in sections:
        print(item.line())
    if any(item.noisy for item in sections):
        print("Some sections ran on a busy machine: compare ratios, or rerun when it is quiet.")


# -- a server under test ----------------------------------------------------------------------
class ServerProcess:
    """A web server under test in a subprocess on a free loopback port; a context manager.

    Subclasses say how to start it (``argv``). The environment is ours minus every
    ``PAPERFEED_*`` variable (the server sees only the workspace given here), plus ``env``.
    Entering waits until ``/healthz`` answers (the indexes are loaded; at most
    ``startup_timeout`` seconds); leaving sends SIGTERM and waits for a graceful shutdown
    (SIGKILL after 30 s).
    """

    startup_timeout = 180.0  # a large corpus on a busy machine may need more

    def __init__(
        self,
        data_dir: Path,
        workers: int,
        log_file: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir, self.workers, self.log_file = data_dir, workers, log_file
        self.extra_env = {"PAPERFEED_SECRET_KEY": "bench-web", **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def __enter__(self) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
        env.update(PAPERFEED_DATA_DIR=str(self.data_dir), **self.extra_env)
        with self.log_file.open("wb") as out:
            self.process = subprocess.Popen(self.argv(), cwd=REPO, env=env, stdout=out, stderr=out)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited:\n{self.log_file.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise SystemExit(
            f"the server did not answer within {self.startup_timeout:.0f} s:\n"
            + self.log_file.read_text()
        )

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def pids(self) -> tuple[int, ...]:
        """The server process and its worker processes (if ``--workers`` > 1)."""
        assert self.process is not None
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return (pid, *(int(c) for c in children))

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(pid) for pid in self.pids)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- result tables ---------------------------------------------------------------------------
@dataclass
class Row:
    figure: str
    ours: float | str
    baseline: float | str | None
    unit: str = ""
    note: str = ""

    def ratio(self) -> str:
        if isinstance(self.ours, str) or not isinstance(self.baseline, (int, float)):
            return "–"
        if self.baseline == 0:
            return "–"
        return f"{self.ours / self.baseline:.2f}"


@dataclass
class Table:
    """``figure | ours | baseline | ratio | command``, printed as Markdown."""

    title: str
    baseline_name: str
    command: str
    rows: list[Row] = field(default_factory=list)

    def add(self, *args: object, **kwargs: object) -> None:
        self.rows.append(Row(*args, **kwargs))  # type: ignore[arg-type]

    def render(self) -> str:
        lines = [
            f"### {self.title}",
            "",
            f"baseline: {self.baseline_name}"
            + ("" if "ratio" in self.baseline_name else "; ratio = ours / baseline"),
            "",
            "| figure | ours | baseline | ratio | command |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for row in self.rows:
            figure = f"{row.figure} ({row.unit})" if row.unit else row.figure
            if row.note:
                figure += f" — {row.note}"
            lines.append(
                f"| {figure} | {fmt(row.ours)} | {fmt(row.baseline)} | {row.ratio()} "
                f"| `{self.command}` |"
            )
        return "\n".join(lines)

    def print(self) -> None:
        print()
        print(self.render())


def fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    return str(value)


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    values = np.asarray(seconds) * 1000.0
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def du(path: Path) -> int:
    """Bytes on disk under ``path`` (a file or a directory)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- sync stages -----------------------------------------------------------------------------
class SyncProgress:
    """A ``Indexes.sync`` progress callback: counts per stage, and a log line now and then."""

    def __init__(self, label: str = "", every: float = 30.0) -> None:
        self.label = label
        self.every = every
        self.counts: dict[str, int] = {}
        self._last_log = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.counts[stage] = self.counts.get(stage, 0) + done
        now = time.perf_counter()
        if self.label and now - self._last_log > self.every:
            self._last_log = now
            log(f"{self.label}: {stage} {self.counts[stage]:,}/{total:,}")


def timed_sync(workspace: object, label: str = "") -> tuple[dict[str, float], dict[str, int]]:
    """The real catch-up, one stage at a time; (seconds per stage, items per stage).

    ``embed_pending``, ``Indexes.sync_lexical`` and ``Indexes.sync_vectors`` in turn do what
    one ``catch_up`` does; timing each includes the database reads that feed it (the
    progress callback alone cannot split an embed stage that has nothing to embed from the
    lexical stage).
    """
    from paperfeed.search.catchup import embed_pending

    db, indexes = workspace.db, workspace.indexes  # type: ignore[attr-defined]
    progress = SyncProgress(label)
    t0 = time.perf_counter()
    embed_pending(db, progress)
    t1 = time.perf_counter()
    indexes.sync_lexical(db, progress)
    t2 = time.perf_counter()
    indexes.sync_vectors(db, progress)  # includes the HNSW build and saving the files
    t3 = time.perf_counter()
    stages = {"embed": t1 - t0, "index text": t2 - t1, "index vectors": t3 - t2}
    return stages, progress.counts


# -- workspaces and corpora ------------------------------------------------------------------
def arxiv_day_files(shared: Path, days: int | None = None) -> list[Path]:
    files = sorted((shared / ARXIV_DAYS).glob("*.jsonl.gz"))
    return files[:days] if days else files


def make_workspace(data_dir: Path):  # type: ignore[no-untyped-def]
    """A fresh (or existing) SQLite workspace in ``data_dir``, never one from the environment."""
    from paperfeed.config import Settings
    from paperfeed.workspace import Workspace

    migrate_keeping_rows(data_dir / "paperfeed.db")
    return Workspace.create(Settings(data_dir=data_dir, database_url=None))


def migrate_keeping_rows(db_file: Path) -> None:
    """Bring an existing cached database to the current schema, keeping its rows.

    Migration 0003 rebuilds ``papers`` (Alembic batch mode on SQLite: copy, drop, rename).
    With ``PRAGMA foreign_keys=ON`` dropping the old table cascades into ``listings`` and
    ``embeddings`` and deletes every row: a cache made before 0003 would lose its vectors
    (hours of embedding). ``Database.migrate`` turns foreign keys off around the upgrade, as
    SQLite's procedure for table rebuilds says; this logs the migration of a cache.
    """
    if not db_file.exists():
        return
    from paperfeed.db import Database

    db = Database(f"sqlite:///{db_file.resolve()}")
    try:
        if not db.is_current():
            log(f"{db_file.parent.name}: migrating the cached database (foreign keys off)")
            db.migrate()
    finally:
        db.engine.dispose()


def _read_meta(path: Path) -> dict[str, object] | None:
    from paperfeed.search import embed

    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != CACHE_FORMAT or meta.get("model") != embed.MODEL_ID:
        return None
    return meta


def _write_meta(path: Path, meta: dict[str, object]) -> None:
    from paperfeed.search import embed

    meta = {"format": CACHE_FORMAT, "model": embed.MODEL_ID, **meta}
    meta["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    meta["load_at_end"] = list(os.getloadavg())
    (path / "meta.json").write_text(json.dumps(meta, indent=2))


def checkpoint_wal(workspace: object) -> None:
    """Fold the WAL into the main file so the database can be copied as one file."""
    with workspace.db.engine.connect() as connection:  # type: ignore[attr-defined]
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def ensure_indexed(workspace: object, label: str) -> dict[str, float]:
    """Bring a cached workspace's indexes up to date with the real sync (no embedding needed).

    The indexes are caches: a change in the package (index layout, state file) may drop them
    on open, and the sync refills them from the database and its stored vectors.
    """
    from sqlalchemy import func, select

    from paperfeed.db import Embedding, Paper
    from paperfeed.search import embed

    db, indexes = workspace.db, workspace.indexes  # type: ignore[attr-defined]
    with db.session() as session:
        papers = session.scalar(select(func.count()).select_from(Paper)) or 0
        vectors = (
            session.scalar(
                select(func.count()).select_from(Embedding).where(Embedding.model == embed.MODEL_ID)
            )
            or 0
        )
    if (
        not indexes.is_stale(db)
        and indexes.lexical_index.num_docs == papers
        and len(indexes.vector_index) == vectors
    ):
        return {}
    log(f"{label}: the cached indexes are behind the database; syncing them (real sync)")
    stages, _ = timed_sync(workspace, label)
    if indexes.lexical_index.num_docs != papers or len(indexes.vector_index) != vectors:
        log(f"{label}: still out of step; rebuilding the indexes")
        indexes.rebuild(db)
    checkpoint_wal(workspace)
    return stages


def build_arxiv26k(shared: Path, rebuild: bool = False):  # type: ignore[no-untyped-def]
    """The real arXiv cs corpus, ingested and embedded once; (workspace, meta)."""
    from paperfeed.catalog.ingest import ingest_files
    from paperfeed.formats import get_format

    path = CACHE / "arxiv26k"
    meta = None if rebuild else _read_meta(path)
    if meta is not None:
        workspace = make_workspace(path)
        ensure_indexed(workspace, "arxiv26k")
        return workspace, meta
    files = arxiv_day_files(shared)
    if not files:
        raise SystemExit(f"no arXiv daily files in {shared / ARXIV_DAYS}: cannot build arxiv26k")
    shutil.rmtree(path, ignore_errors=True)
    workspace = make_workspace(path)
    log(f"arxiv26k: ingesting {len(files)} day files (real ingest_files, source arxiv-daily)")
    t0 = time.perf_counter()
    report = ingest_files(workspace.db, get_format("arxiv-daily"), files)
    ingest_s = time.perf_counter() - t0
    log(f"arxiv26k: {report.added} papers in {ingest_s:.0f} s; embedding them (real sync)")

    stages, counts = timed_sync(workspace, "arxiv26k")
    checkpoint_wal(workspace)
    meta = {
        "papers": report.added,
        "records": report.seen,
        "days": len(files),
        "ingest_s": ingest_s,
        "sync_stages_s": stages,
        "sync_counts": counts,
    }
    _write_meta(path, meta)
    log(f"arxiv26k: built in {ingest_s + sum(stages.values()):.0f} s")
    return workspace, _read_meta(path)


SYNTHETIC_SOURCE = "bench-synthetic"


def build_papers100k(  # type: ignore[no-untyped-def]
    shared: Path,
    target: int = 100_000,
    sigma: float = 0.02,
    rebuild: bool = False,
    seed: int = 7,
):
    """The ~100k corpus: the real 26k plus synthetic variants; (workspace, meta).

    Variant ``j`` (1, 2, 3, ...) of a real paper is a title-only record (no arXiv id) titled
    ``"<title> (variant j)"`` with the same abstract, authors and categories, upserted through
    the real ``paperfeed.catalog.ingest.upsert_records``. Its vector is the original's plus gaussian
    noise (``sigma`` per dimension), renormalised, stored as an ``Embedding`` row with the
    current model id and the right text hash, so the sync does not embed it. The indexes are
    then built from scratch by the real ``Indexes.sync`` (timed: that is the full index build).
    """
    from sqlalchemy import select

    from paperfeed.catalog.ingest import upsert_records
    from paperfeed.catalog.records import PaperRecord
    from paperfeed.db import Embedding, Paper
    from paperfeed.search import embed
    from paperfeed.search.catchup import VectorRow, store_vectors, text_hash

    path = CACHE / "papers100k"
    meta = None if rebuild else _read_meta(path)
    if meta is not None and meta.get("papers") == target and meta.get("sigma") == sigma:
        workspace = make_workspace(path)
        ensure_indexed(workspace, "papers100k")
        return workspace, meta
    base, base_meta = build_arxiv26k(shared)
    checkpoint_wal(base)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    shutil.copy2(base.settings.data_dir / "paperfeed.db", path / "paperfeed.db")
    base.db.engine.dispose()
    workspace = make_workspace(path)

    with workspace.db.session() as session:
        rows = session.execute(
            select(
                Paper.pk,
                Paper.title,
                Paper.abstract,
                Paper.authors,
                Paper.categories,
                Paper.published,
                Embedding.vector,
            )
            .join(Embedding, Embedding.paper_pk == Paper.pk)
            .where(Embedding.model == embed.MODEL_ID)
            .order_by(Paper.pk)
        ).all()
    real = len(rows)
    if real >= target:
        raise SystemExit(f"the base corpus already has {real} papers (target {target})")
    log(f"papers100k: adding {target - real:,} synthetic variants of {real:,} real papers")
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    made = 0
    batch: list[tuple[PaperRecord, np.ndarray]] = []

    def flush() -> None:
        records = [record for record, _ in batch]
        with workspace.db.session() as session:
            report = upsert_records(session, list(records))
            if report.added != len(records):
                raise SystemExit(f"synthetic batch de-duplicated: {report}")
            session.flush()
            by_id = dict(
                session.execute(
                    select(Paper.id, Paper.pk).where(Paper.id.in_([r.key for r in records]))
                ).all()
            )
            store_vectors(
                session,
                [
                    VectorRow(by_id[record.key], text_hash(record.title, record.abstract), vector)
                    for record, vector in batch
                ],
            )
        batch.clear()

    variant = 0
    while made < target - real:
        variant += 1
        for row in rows:
            if made >= target - real:
                break
            original = np.frombuffer(row.vector, dtype=np.float32)
            noisy = original + rng.normal(0.0, sigma, original.shape).astype(np.float32)
            noisy /= np.linalg.norm(noisy)
            record = PaperRecord(
                title=f"{row.title} (variant {variant})",
                source=SYNTHETIC_SOURCE,
                abstract=row.abstract,
                authors=list(row.authors),
                categories=list(row.categories),
                published=row.published,
            )
            batch.append((record, noisy))
            made += 1
            if len(batch) >= 2000:
                flush()
                if made % 20000 < 2000:
                    log(f"papers100k: {made:,} synthetic papers")
    if batch:
        flush()
    insert_s = time.perf_counter() - t0
    log(f"papers100k: inserted in {insert_s:.0f} s; building the indexes (real sync)")
    stages, counts = timed_sync(workspace, "papers100k")
    total = sum(stages.values())
    checkpoint_wal(workspace)
    meta = {
        "papers": real + made,
        "real_papers": real,
        "synthetic_papers": made,
        "variants_per_paper": variant,
        "sigma": sigma,
        "seed": seed,
        "insert_s": insert_s,
        "sync_stages_s": stages,
        "sync_counts": counts,
        "sync_total_s": total,
        "base": base_meta,
    }
    _write_meta(path, meta)
    log(f"papers100k: indexed in {total:.0f} s")
    return workspace, _read_meta(path)


CORPUS_NOTE = {
    "arxiv26k": (
        "the 26,656 distinct real arXiv cs papers of shared/data/arxiv_daily_cs (120 daily "
        "listings, 46,848 records), ingested with the real ingest_files (source arxiv-daily) "
        "and embedded by the real Indexes.sync; cached in bench/.cache/arxiv26k/"
    ),
    "papers100k": (
        "the 26,656 real arXiv cs papers plus 73,344 synthetic variants (variant j of a paper: "
        "title '<title> (variant j)', same abstract/authors/categories, no arXiv id; vector = "
        "the original's + N(0, 0.02) per dimension, renormalised), upserted with the real "
        "upsert_records and indexed by the real Indexes.sync; cached in bench/.cache/papers100k/. "
        "Duplicated text makes BM25 posting lists ~3.75x longer than in a real 100k corpus of "
        "the same vocabulary (more work per term for tantivy and FTS5 alike), and near-duplicate "
        "vectors form tight clusters of 4, which a real corpus would not have"
    ),
}


# -- community state: users, votes, comments --------------------------------------------------
BENCH_USER_PREFIX = "bench-user-"
BENCH_PASSWORD = "bench-password-1"
COMMENT_BODIES = [
    "Nice result. Did you compare against the obvious baseline of **just fine-tuning**?",
    "The ablation in section 4 is the interesting part:\n\n- no pretraining: -3.1\n"
    "- no augmentation: -0.4\n\nso most of the gain is the pretraining.",
    "Code: [github](https://github.com/example/repo). The `train.py` defaults differ from "
    "the paper (lr `3e-4`, not `1e-4`).",
    "How does this scale? The attention term is $O(n^2)$ in sequence length, so I would "
    "expect trouble past 32k tokens.",
    "Same idea as last year's workshop paper, but the evaluation is much more careful.",
    "> we observe consistent gains across all benchmarks\n\nExcept Table 3, where the "
    "baseline wins on two of five datasets.",
    "Has anyone reproduced the main table? I get numbers about 1 point lower with the "
    "released checkpoint.",
    "Interesting that the method works with only 1% of the labels. Is the validation set "
    "labelled fully?",
    "1. clear writing\n2. strong baselines\n3. but no error bars: were the runs seeded?",
    "The related-work section misses the line of work on *retrieval-augmented* models.",
    "Figure 2 alone is worth the read.",
    "I wonder whether $\\lambda = 0.1$ is tuned on the test set; the appendix is unclear.",
]


def ensure_community(  # type: ignore[no-untyped-def]
    workspace,
    meta_dir: Path | None = None,
    users: int = 24,
    votes_per_user: int = 150,
    commented: int = 150,
    seed: int = 11,
) -> dict[str, int]:
    """Users who voted and commented, so feeds sort on votes and paper pages show comments.

    Idempotent: if the ``bench-user-*`` accounts exist, nothing is added. Everything goes
    through the real ``paperfeed.community.accounts.create_user`` and
    ``paperfeed.community.activity.set_vote`` / ``add_comment`` (one transaction each, as the
    web app makes them). 90% of the votes go to papers listed in the last 30 listed days,
    Zipf-like (a few papers get many votes, most few), 10% to papers drawn uniformly from all;
    the ``commented`` most-voted of the recent papers get 1-8 Markdown comments each, and as
    many random papers one each. None of this moves a paper's ``changed_at``, so the indexes
    stay in step. The counts are recorded in ``meta_dir/meta.json`` under ``"community"``.
    """
    from sqlalchemy import func, select

    from paperfeed.community import accounts, activity
    from paperfeed.db import Comment, Listing, Paper, User, Vote

    db = workspace.db
    with db.session() as session:
        existing = session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.username.like(f"{BENCH_USER_PREFIX}%"))
        )
        if existing:
            return {
                "users": int(existing),
                "votes": int(session.scalar(select(func.count()).select_from(Vote)) or 0),
                "comments": int(session.scalar(select(func.count()).select_from(Comment)) or 0),
            }
        days = select(Listing.day).distinct().order_by(Listing.day.desc()).limit(30)
        first_recent = session.scalar(select(func.min(days.subquery().c.day)))
        recent: list[str] = []
        if first_recent is not None:
            recent = sorted(
                session.scalars(
                    select(Paper.id)
                    .join(Listing, Listing.paper_pk == Paper.pk)
                    .where(Listing.day >= first_recent)
                    .distinct()
                )
            )
        everyone = list(session.scalars(select(Paper.id).order_by(Paper.pk)))
    rng = np.random.default_rng(seed)
    pool = recent or everyone
    pool = [pool[i] for i in rng.permutation(len(pool))]
    weights = 1.0 / (np.arange(len(pool)) + 10.0)  # popularity by position in the shuffle
    weights /= weights.sum()
    t0 = time.perf_counter()
    made = [
        accounts.create_user(workspace, f"{BENCH_USER_PREFIX}{i:02d}", BENCH_PASSWORD)
        for i in range(users)
    ]
    log(f"community: {users} users; voting")
    votes = 0
    for user in made:
        n_recent = min(len(pool), int(votes_per_user * 0.9))
        chosen = [pool[i] for i in rng.choice(len(pool), n_recent, replace=False, p=weights)]
        chosen += [everyone[i] for i in rng.choice(len(everyone), votes_per_user - n_recent)]
        for paper_id in dict.fromkeys(chosen):
            activity.set_vote(workspace, user.pk, paper_id, True)
            votes += 1
    log(f"community: {votes:,} votes; commenting")
    comments = 0
    targets = [(paper_id, int(rng.integers(1, 9))) for paper_id in pool[:commented]]
    targets += [(everyone[i], 1) for i in rng.choice(len(everyone), commented, replace=False)]
    for paper_id, count in targets:
        for _ in range(count):
            author = made[int(rng.integers(len(made)))]
            body = COMMENT_BODIES[int(rng.integers(len(COMMENT_BODIES)))]
            activity.add_comment(workspace, author.pk, paper_id, body)
            comments += 1
    counts = {"users": users, "votes": votes, "comments": comments}
    log(f"community: {comments:,} comments; {time.perf_counter() - t0:.0f} s in all")
    if meta_dir is not None:
        update_meta(meta_dir, "community", {**counts, "seed": seed})
    return counts


def update_meta(path: Path, key: str, value: object) -> None:
    """Add one entry to a cached corpus's ``meta.json``, leaving the rest as it was."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        return
    meta[key] = value
    (path / "meta.json").write_text(json.dumps(meta, indent=2))


# -- SQLite FTS5 baseline --------------------------------------------------------------------
FTS5_TOKENIZER = "porter unicode61 remove_diacritics 2"  # stemmed and accent-folded, like ours


def build_fts5(papers_db: Path, target: Path) -> tuple[sqlite3.Connection, int, float]:
    """An FTS5 table ``fts(title, body)`` over ``papers_db`` in the file ``target``.

    ``body`` is title and abstract as one text, as paperfeed's lexical index scores them
    (BM25 over the whole text plus a small title bonus). Reads the rows with plain
    ``sqlite3`` (``rowid`` = paper pk), inserts them, merges the index (``optimize``) and
    commits; returns (connection, documents, seconds).
    """
    target.unlink(missing_ok=True)
    t0 = time.perf_counter()
    source = sqlite3.connect(f"file:{papers_db}?mode=ro", uri=True)
    conn = sqlite3.connect(target)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"CREATE VIRTUAL TABLE fts USING fts5(title, body, tokenize='{FTS5_TOKENIZER}')")
    count = 0
    with conn:
        cursor = source.execute(
            "SELECT pk, title, title || ' ' || abstract FROM papers ORDER BY pk"
        )
        while rows := cursor.fetchmany(2000):
            conn.executemany("INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)", rows)
            count += len(rows)
        conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
    source.close()
    return conn, count, time.perf_counter() - t0
