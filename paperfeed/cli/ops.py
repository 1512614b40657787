"""Running an instance: `reindex`, `check`, `backup`, `restore`, `serve`, `worker`, `embed`.

Plain functions: ``paperfeed.cli`` registers them on the app, in the order ``--help`` lists them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from paperfeed.cli._common import _escape, _open, _settings, _sync, console, out
from paperfeed.errors import PaperfeedError
from paperfeed.workspace import Workspace

KEEP_ALIVE_SECONDS = 75  # how long `serve` keeps an idle HTTP connection open


def reindex(
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch.")] = False,
) -> None:
    """Bring the search indexes up to date with the database (or rebuild them with --full)."""
    from paperfeed.search.catchup import queue_missing

    workspace = _open()
    if full:
        workspace.indexes.reset()
    queue_missing(workspace.db)  # papers left without a vector (a lost queue entry)
    _sync(workspace)
    counts = workspace.indexes.counts()
    console.print(f"lexical index: {counts.papers} papers; dense index: {counts.vectors} vectors")


def check(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the database and that the search indexes agree with it; exit 1 on any problem.

    Each problem comes with the command that repairs it. Changes nothing.
    """
    from paperfeed.ops.check import check as run_check

    report = run_check(_open())
    if as_json:
        print(json.dumps(report.as_dict()))
    else:
        counts = report.counts
        out.print(f"database: {_escape(report.database)}")
        if counts:
            out.print(
                f"papers: {counts['papers']} ({counts['hidden']} hidden, stay indexed), "
                f"embeddings: {counts['embeddings']}, waiting to be embedded: "
                f"{counts['to_embed']}"
            )
            graph = f", HNSW graph of {counts['graph']}" if counts["graph"] is not None else ""
            out.print(
                f"lexical index: {_unknown(counts['lexical_docs'])} documents; "
                f"vector index: {_unknown(counts['vectors'])} vectors{graph}"
            )
        for problem in report.problems:
            out.print(f"[red]problem[/] {problem.part}: {_escape(problem.message)}")
            out.print(f"  repair: {_escape(problem.repair)}")
        if report.ok:
            out.print("[green]ok[/]: the indexes agree with the database")
    if not report.ok:
        raise typer.Exit(1)


def _unknown(value: object) -> str:
    return "?" if value is None else str(value)


def backup(
    path: Annotated[Path, typer.Argument(help="A new directory to write the backup into.")],
) -> None:
    """Back up the database and the secret key while the site keeps running (SQLite).

    The indexes are not copied: `restore` rebuilds them from the database.
    """
    from paperfeed.ops.backup import backup as run_backup
    from paperfeed.ops.backup import require_sqlite

    require_sqlite(_settings())
    report = run_backup(_open(), path)
    key = "and the secret key " if report.secret_key else ""
    console.print(
        f"backed up {report.papers} papers {key}to {report.path} "
        f"({report.size / 1e6:.1f} MB in {report.seconds:.1f} s)"
    )


def restore(
    path: Annotated[Path, typer.Argument(help="A directory written by `paperfeed backup`.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace the database, secret key and indexes of a used data dir."
        ),
    ] = False,
    no_index: Annotated[
        bool, typer.Option("--no-index", help="Leave rebuilding the indexes for later.")
    ] = False,
) -> None:
    """Restore a backup into an empty data directory, then rebuild the search indexes.

    Stop `serve` and `worker` before restoring over a data directory in use (--force).
    """
    from paperfeed.ops.backup import restore as run_restore

    settings = _settings()
    report = run_restore(settings, path, force=force)
    console.print(
        f"restored {report.papers} papers from the backup of {report.created} "
        f"into {settings.data_dir.resolve()}"
    )
    if not no_index:
        _sync(Workspace.open(settings))


def serve(
    host: Annotated[str | None, typer.Option(help="Default: $PAPERFEED_HOST or 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: $PAPERFEED_PORT or 8000.")] = None,
    with_demo: Annotated[
        bool,
        typer.Option("--demo/--no-demo", help="Import the demo corpus into an empty database."),
    ] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Server processes (each runs Python on its own core). "
            "Default: $PAPERFEED_SERVE_WORKERS or 1.",
        ),
    ] = None,
) -> None:
    """Run the web server (initialises the data directory; imports the demo corpus if empty)."""
    from paperfeed.ops.malloc import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread starts: a flat heap under load
    import uvicorn

    from paperfeed.catalog.demo import load_demo
    from paperfeed.catalog.stats import count_papers
    from paperfeed.search.catchup import pending
    from paperfeed.security import secret_key
    from paperfeed.web.app import create_app

    settings = _settings()
    workspace = Workspace.create(settings)
    secret_key(workspace)  # on PostgreSQL it must be set: say so now, not at the first request
    if with_demo and count_papers(workspace) == 0:
        console.print("empty database: importing the bundled demo corpus")
        load_demo(workspace)
    if workspace.db.sqlite_file is not None:
        _sync(workspace)
    else:  # a shared database: embedding is the worker's and the embedders' job
        workspace.indexes.sync(workspace.db)
        if waiting := pending(workspace.db):
            console.print(
                f"{waiting} papers wait for a vector: `paperfeed worker` or `paperfeed embed` "
                "embeds them"
            )
    host, port = host or settings.host, port or settings.port
    workers = workers or settings.serve_workers
    # The client address (rate limits count by it) and https (Secure cookies, HSTS) come from
    # X-Forwarded-For / X-Forwarded-Proto only when the proxy sending them is trusted. Idle
    # connections stay open longer than uvicorn's 5 s, so a client (or a proxy with a shorter
    # idle timeout, as it must have) does not reuse one the server is closing that moment.
    options: dict[str, Any] = {
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "log_level": "warning",
    }
    console.print(
        f"paperfeed serving {count_papers(workspace)} papers on http://{host}:{port}"
        + (f" ({workers} worker processes)" if workers > 1 else "")
    )
    if workers == 1:
        uvicorn.run(create_app(workspace), host=host, port=port, **options)
        return
    # Each worker process builds its own app from the same settings (inherited environment).
    workspace.db.engine.dispose()  # no SQLite connections carried into the forked workers
    uvicorn.run(
        "paperfeed.web.app:app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        **options,
    )


# The end of `paperfeed worker --help`.
WORKER_EPILOG = (
    "Schedules: PAPERFEED_WORKER_SOURCES (default 1h), PAPERFEED_WORKER_SUBMISSIONS (10s), "
    "PAPERFEED_WORKER_INDEX (1m), "
    "PAPERFEED_WORKER_DIGESTS (0 7 * * *) and PAPERFEED_WORKER_SEND (1m); each an interval "
    "(30s, 15m, 1h, 1d), a crontab in PAPERFEED_WORKER_TIMEZONE (UTC), or off. Every job "
    "also runs once at start. One worker per deployment: a second one waits for the first's "
    "lock. See docs/worker.md."
)


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run the jobs once, in order, then exit (for cron).")
    ] = False,
    jobs: Annotated[
        list[str] | None,
        typer.Option(
            "--job",
            help="With --once: only this job (sources, submissions, index, digests, send).",
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="If another worker holds the lock: wait to take over, or exit 1 at once.",
        ),
    ] = True,
) -> None:
    """Run the periodic jobs: harvest live sources, embed and index, queue digests, send mail."""
    import logging
    import signal
    import threading

    from paperfeed.ops.worker import JOBS, Worker

    unknown = sorted(set(jobs or ()) - set(JOBS))
    if unknown:
        raise PaperfeedError(f"--job: {', '.join(unknown)}: the jobs are {', '.join(JOBS)}")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True
    )
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Its warnings are about runs skipped while the previous one still runs: expected.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    from paperfeed.security import secret_key

    workspace = _open()
    secret_key(workspace)  # mail links are signed: on PostgreSQL the shared key must be set
    runner = Worker(workspace, stop)
    if once:
        chosen = tuple(job for job in JOBS if not jobs or job in jobs)
        results = runner.run_once(chosen, wait=wait)
        if len(results) < len(chosen) or not all(result.ok for result in results):
            raise typer.Exit(1)
        return
    runner.run_forever(wait=wait)


def embed(
    once: Annotated[
        bool, typer.Option("--once", help="Embed what is queued now, then exit.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=4096, help="Papers per transaction.")
    ] = 256,
    poll: Annotated[
        float,
        typer.Option(
            min=0.1, help="Seconds between looks at the queue while it is empty (without --once)."
        ),
    ] = 5.0,
) -> None:
    """Embed papers waiting for a vector, until stopped (Ctrl-C or SIGTERM).

    Any number of embedders may run at once, on any machine that reaches the database: on
    PostgreSQL each claims its batches with FOR UPDATE SKIP LOCKED, so none repeats another's
    work, and a stopped or crashed one leaves its batch queued for the others. A GPU is used
    when PAPERFEED_EMBED_PROVIDERS names one (see docs/deploy.md).
    """
    import signal
    import threading

    from paperfeed.cli._common import _progress, _stages
    from paperfeed.search.catchup import embed_pending, pending

    workspace = _open()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    total = 0
    while not stop.is_set():
        if pending(workspace.db):
            with _progress() as progress:
                done = embed_pending(
                    workspace.db, _stages(progress), batch_size, should_stop=stop.is_set
                )
            total += done
            console.print(f"embedded {done} papers ({pending(workspace.db)} waiting)")
        if once:
            break
        stop.wait(poll)
    console.print(f"embedder stopped: {total} papers embedded")
