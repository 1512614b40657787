"""The `paperfeed` command. Thin: each command parses options and calls the core modules."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from paperfeed import __version__
from paperfeed.config import Settings, get_settings
from paperfeed.errors import PaperfeedError, SourceError
from paperfeed.workspace import Workspace

app = typer.Typer(
    help="paperfeed: a self-hostable research-paper discovery engine.\n\n"
    "Data lives in $PAPERFEED_DATA_DIR (default ./data). Start with `paperfeed init`, "
    "then `paperfeed ingest SOURCE FILES...` and `paperfeed search QUERY`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
KEEP_ALIVE_SECONDS = 75  # how long `serve` keeps an idle HTTP connection open


def _settings() -> Settings:
    return get_settings()


def _open() -> Workspace:
    return Workspace.open(_settings())


@contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as progress:
        yield progress


def _stages(progress: Progress) -> Callable[[str, int, int], None]:
    """A ``(stage, done, total)`` callback drawing one bar per stage."""
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total, rate="")
        progress.advance(tasks[stage], done)

    return report


def _sync(workspace: Workspace) -> None:
    """Bring the indexes up to date, with a progress bar per stage."""
    with _progress() as progress:
        result = workspace.indexes.sync(workspace.db, _stages(progress))
    if result.embedded or result.lexical or result.vectors:
        console.print(
            f"search indexes up to date: {workspace.indexes.lexical.num_docs} papers, "
            f"{len(workspace.indexes.vectors)} vectors ({result.embedded} newly embedded)"
        )


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"paperfeed {__version__}")
        raise typer.Exit()


@app.command()
def init() -> None:
    """Create the data directory and database (safe to run again: it migrates)."""
    settings = _settings()
    Workspace.create(settings)
    console.print(f"paperfeed data directory ready at {settings.data_dir.resolve()}")


@app.command()
def ingest(
    source: Annotated[
        str, typer.Argument(help="Input format; `paperfeed sources formats` lists them.")
    ],
    paths: Annotated[list[Path], typer.Argument(help="Files to import (.gz is read directly).")],
    no_index: Annotated[
        bool, typer.Option("--no-index", help="Skip embedding and indexing (do it later).")
    ] = False,
) -> None:
    """Import papers from files; re-running is safe and resumes an interrupted import.

    Unchanged papers stay; newer versions update; bad records are reported and skipped.
    """
    from paperfeed.catalog.ingest import ingest_files
    from paperfeed.formats import get_format

    parser = get_format(source)  # before creating anything: a typo must not leave a data dir
    for path in paths:
        if not path.is_file():
            raise SourceError(f"{path}: no such file")
    workspace = Workspace.create(_settings())
    with _progress() as progress:
        task = progress.add_task(f"ingest {source}", total=None, rate="")

        def advance(_path: str, count: int) -> None:
            progress.advance(task, count)

        try:
            report = ingest_files(
                workspace.db,
                parser,
                paths,
                batch_size=workspace.settings.ingest_batch_size,
                progress=advance,
            )
        except KeyboardInterrupt:
            console.print(
                "\ninterrupted: the batches imported so far are kept; "
                "run the same command again to resume"
            )
            raise typer.Exit(130) from None
    for problem in report.problems[:20]:
        what = "dropped" if problem.kept else "skipped"
        console.print(f"[yellow]{what}[/] {_escape(str(problem))}")
    if len(report.problems) > 20:
        console.print(f"[yellow]… and {len(report.problems) - 20} more problems[/]")
    resumed = (
        f" (resumed after {report.resumed_items} already imported)" if report.resumed_items else ""
    )
    dropped = len(report.problems) - report.skipped
    console.print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.skipped} skipped"
        + (f", {dropped} with a part dropped" if dropped else "")
        + resumed
    )
    if report.skipped and not report.seen:
        raise PaperfeedError(
            f"no record could be read; is {source!r} the right format? (`paperfeed sources`)"
        )
    if not no_index:
        _sync(workspace)


sources_app = typer.Typer(
    help="Input formats for `ingest`, and live sources (arXiv OAI-PMH, API, RSS; Hugging Face "
    "daily papers) that keep the database up to date. Alone: the formats and the live sources.",
)
app.add_typer(sources_app, name="sources")


@sources_app.callback(invoke_without_command=True)
def sources_main(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is not None:
        return
    sources_formats()
    settings = _settings()
    try:
        workspace = Workspace.open(settings)
    except PaperfeedError:
        return  # no database yet: no live sources either
    _print_live_sources(workspace)


@sources_app.command("formats")
def sources_formats() -> None:
    """List the input formats `ingest` understands."""
    from paperfeed.formats import FORMATS

    table = Table("source", "reads")
    for source in FORMATS.values():
        table.add_row(source.name, source.description)
    out.print(table)


@sources_app.command("add")
def sources_add(
    name: Annotated[str, typer.Argument(help="Your name for it, e.g. arxiv-cs.")],
    kind: Annotated[str, typer.Argument(help="arxiv-oai, arxiv-api, arxiv-rss or hf-daily.")],
    oai_set: Annotated[
        str | None, typer.Option("--set", help="arxiv-oai: the OAI set (cs, math, ...).")
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option(
            "--category",
            help="arxiv-rss: a category to follow (repeat); arxiv-oai: keep only these; "
            "arxiv-api: search these.",
        ),
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="arxiv-api: the search query, e.g. 'cat:cs.CL'.")
    ] = None,
    from_date: Annotated[
        str | None,
        typer.Option("--from", help="arxiv-oai, hf-daily: first day to harvest (YYYY-MM-DD)."),
    ] = None,
    until_date: Annotated[
        str | None,
        typer.Option("--until", help="arxiv-oai, hf-daily: last day (default: today)."),
    ] = None,
    metadata_format: Annotated[
        str | None, typer.Option("--format", help="arxiv-oai: arXivRaw (default) or arXiv.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Ask this URL instead of the configured service.")
    ] = None,
) -> None:
    """Configure a live source (checked now, so it can always run)."""
    from paperfeed.live.registry import add_source, build_params, check_source

    check_source(name, kind, base_url)  # before creating anything: a typo leaves no data dir
    params = build_params(
        kind,
        oai_set=oai_set,
        categories=category or [],
        query=query,
        from_date=from_date,
        until_date=until_date,
        metadata_prefix=metadata_format,
    )
    workspace = Workspace.create(_settings())
    spec = add_source(workspace, name, kind, params, base_url)
    console.print(
        f"added {spec.name} ({spec.kind}, {json.dumps(dict(spec.params))}) at {spec.base_url}; "
        f"harvest it with `paperfeed sources run {spec.name}`"
    )


@sources_app.command("list")
def sources_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The live sources with their last run: status, window, counts, duration, error."""
    from paperfeed.live.runner import list_sources_with_last_run

    workspace = _open()
    if as_json:
        print(json.dumps([s.as_dict() for s in list_sources_with_last_run(workspace)]))
        return
    _print_live_sources(workspace)


@sources_app.command("run")
def sources_run(
    names: Annotated[list[str] | None, typer.Argument(help="Sources to run.")] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every enabled source.")] = False,
    no_index: Annotated[
        bool, typer.Option("--no-index", help="Skip embedding and indexing (do it later).")
    ] = False,
) -> None:
    """Harvest sources from their checkpoints; exits 1 if any failed (for cron)."""
    from paperfeed.live.registry import make_client
    from paperfeed.live.runner import list_sources_with_last_run, run_source

    workspace = _open()
    configured = list_sources_with_last_run(workspace)
    if run_all:
        chosen = [s.name for s in configured if s.enabled]
    elif names:
        chosen = list(dict.fromkeys(names))
    else:
        raise PaperfeedError("name the sources to run, or use --all (`paperfeed sources list`)")
    if not chosen:
        console.print("no enabled live sources; add one with `paperfeed sources add`")
        return
    polled = [s for s in configured if s.name in chosen]
    failures = 0
    with make_client(workspace.settings, polled) as client, _progress() as progress:
        tasks: dict[str, Any] = {}

        def advance(name: str, pages: int, records: int) -> None:
            progress.update(tasks[name], completed=pages, rate=f"{records} records")

        for name in chosen:
            tasks[name] = progress.add_task(f"{name} pages", total=None, rate="")
            try:
                report = run_source(
                    workspace,
                    name,
                    advance,
                    client=client,
                    index=not no_index,
                    index_progress=_stages(progress),
                )
            except KeyboardInterrupt:
                console.print(
                    f"\ninterrupted: {name} keeps the pages stored so far; run it again to resume"
                )
                raise typer.Exit(130) from None
            except PaperfeedError as error:  # unknown name, already running elsewhere
                console.print(f"[red]{_escape(name)}: {_escape(str(error))}[/]")
                failures += 1
                continue
            progress.update(tasks[name], total=report.pages, completed=report.pages)
            colour = "green" if report.ok else "red"
            console.print(f"[{colour}]{_escape(report.summary())}[/]")
            for note in report.notes:
                console.print(f"  [yellow]{_escape(note)}[/]")
            for problem in report.problems[:5]:
                console.print(f"  [yellow]unreadable record[/] {_escape(str(problem))}")
            if len(report.problems) > 5:
                console.print(f"  [yellow]… and {len(report.problems) - 5} more[/]")
            failures += not report.ok
    if failures:
        raise typer.Exit(1)


@sources_app.command("remove")
def sources_remove(name: str) -> None:
    """Forget a live source and its runs (its papers stay)."""
    from paperfeed.live.registry import remove_source

    remove_source(_open(), name)
    console.print(f"removed {name}")


@sources_app.command("enable")
def sources_enable(name: str) -> None:
    """Include a source in `sources run --all` again."""
    from paperfeed.live.registry import set_enabled

    set_enabled(_open(), name, True)
    console.print(f"{name} enabled")


@sources_app.command("disable")
def sources_disable(name: str) -> None:
    """Leave a source out of `sources run --all` (it can still be run by name)."""
    from paperfeed.live.registry import set_enabled

    set_enabled(_open(), name, False)
    console.print(f"{name} disabled")


def _print_live_sources(workspace: Workspace) -> None:
    """One block per source: what it is, then its last run (status, window, counts, error)."""
    from paperfeed.live.runner import list_sources_with_last_run

    statuses = list_sources_with_last_run(workspace)
    if not statuses:
        console.print(
            "no live sources yet; e.g. `paperfeed sources add arxiv-cl arxiv-rss --category cs.CL`"
        )
        return
    out.print("[bold]live sources[/]")
    for status in statuses:
        options = " ".join(
            f"{k}={'+'.join(v) if isinstance(v, list) else v}" for k, v in status.params.items()
        )
        disabled = " [yellow](disabled)[/]" if not status.enabled else ""
        out.print(f"[bold]{status.name}[/] {status.kind} {_escape(options)}{disabled}")
        run = status.last_run
        if run is None:
            out.print("  never run")
            continue
        took = f" in {run.seconds:.1f} s" if run.seconds is not None else ""
        colour = {"ok": "green", "running": "cyan"}.get(run.status, "red")
        out.print(
            f"  last run {run.started_at:%Y-%m-%d %H:%M} [{colour}]{run.status}[/]{took}: "
            f"{run.pages} pages, {run.added} new, {run.updated} updated, "
            f"{run.skipped} skipped, {run.failed} failed"
        )
        if run.window_from or run.window_until:
            window = f"{run.window_from or 'start'} → {run.window_until or '…'}"
            out.print(f"  window {_escape(window)}")
        if run.error:
            out.print(f"  [red]error:[/] {_escape(run.error)}")
        for note in (run.notes or "").splitlines():
            out.print(f"  [yellow]note:[/] {_escape(note)}")


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help='Words, "phrases", -exclusions, author:, cat:, since:, until:')
    ],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many results (paging).")] = 0,
    mode: Annotated[str, typer.Option(help="hybrid, lexical or dense.")] = "hybrid",
    explain: Annotated[bool, typer.Option(help="Show why each result matched.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Search titles and abstracts by words and by meaning."""
    from paperfeed.search import search as run_search

    workspace = _open()
    _ensure_indexed(workspace)
    results = run_search(
        workspace,
        query,
        limit=limit,
        offset=offset,
        mode=mode,
        explain=explain,  # type: ignore[arg-type]
    )
    if as_json:
        items = []
        for hit in results.hits:
            item = {**_paper_json(hit.paper, brief=True), "score": round(hit.score, 6)}
            if explain:
                item["explain"] = hit.explanation.as_dict()
            items.append(item)
        out.print_json(data=items) if out.is_terminal else print(json.dumps(items))
        return
    if not results.hits:
        console.print("no results; try fewer words or drop a filter")
        return
    for i, hit in enumerate(results.hits, offset + 1):
        paper = hit.paper
        meta = " · ".join(
            x
            for x in (
                paper.id,
                paper.published.date().isoformat() if paper.published else "",
                paper.primary_category or "",
                _authors_line(paper.authors, 3),
            )
            if x
        )
        out.print(f"[bold]{i}. {_escape(paper.title)}[/]\n   [dim]{_escape(meta)}[/]")
        if explain:
            e = hit.explanation
            out.print(
                f"   [cyan]fused #{e.fused_rank} ({e.fused_score:.4f}); "
                f"bm25 #{e.lexical_rank or '-'}; dense #{e.dense_rank or '-'}"
                f"{f' (cos {e.similarity:.3f})' if e.similarity is not None else ''}; "
                f"matched: {', '.join(e.matched_terms) or 'none'}[/]"
            )
    shown = f"{offset + 1}–{offset + len(results.hits)}"
    console.print(f"[dim]{shown} of {results.total} ranked; --offset {offset + limit} for more[/]")


@app.command()
def show(
    paper_id: Annotated[str, typer.Argument(metavar="ID", help="arXiv id (e.g. 2404.12345).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one paper."""
    from paperfeed.search import get_paper

    paper = get_paper(_open(), paper_id)
    if as_json:
        print(json.dumps(_paper_json(paper), ensure_ascii=False))
        return
    out.print(f"[bold]{_escape(paper.title)}[/]")
    out.print(f"[dim]{paper.id}{f'v{paper.version}' if paper.version else ''}[/]")
    out.print(_escape(_authors_line(paper.authors, 50)))
    rows = {
        "published": paper.published.date().isoformat() if paper.published else None,
        "updated": paper.updated.date().isoformat() if paper.updated else None,
        "categories": ", ".join(paper.categories) or None,
        "doi": paper.doi,
        "journal": paper.journal_ref,
        "comments": paper.comments,
        "abstract page": paper.abs_url,
        "pdf": paper.pdf_url,
        "code": paper.code_url,
        "listed": ", ".join(
            f"{x.source} {x.day} ({x.upvotes or 0} upvotes)" for x in paper.listings
        )
        or None,
    }
    for name, value in rows.items():
        if value:
            out.print(f"[bold]{name}:[/] {_escape(value)}")
    out.print()
    out.print(_escape(paper.abstract or "(no abstract)"))


@app.command()
def similar(
    paper_id: Annotated[str, typer.Argument(metavar="ID")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Papers closest in meaning to a paper."""
    from paperfeed.search import similar as run_similar

    workspace = _open()
    _ensure_indexed(workspace)
    hits = run_similar(workspace, paper_id, limit)
    if as_json:
        print(
            json.dumps(
                [{**_paper_json(h.paper, brief=True), "score": round(h.score, 6)} for h in hits]
            )
        )
        return
    for i, hit in enumerate(hits, 1):
        out.print(
            f"{i}. [bold]{_escape(hit.paper.title)}[/] [dim]{hit.paper.id} · cos {hit.score:.3f}[/]"
        )


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Counts: papers, sources, embeddings, index sizes, last ingests."""
    from paperfeed.catalog.stats import collect_stats

    data = collect_stats(_open())
    if as_json:
        print(json.dumps(data, default=str))
        return
    table = Table(show_header=False)
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = "\n".join(str(v) for v in value) or "-"
        table.add_row(key, _escape(str(value)))
    out.print(table)


@app.command()
def reindex(
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch.")] = False,
) -> None:
    """Bring the search indexes up to date with the database (or rebuild them with --full)."""
    workspace = _open()
    if full:
        workspace.indexes.reset()
    _sync(workspace)
    console.print(
        f"lexical index: {workspace.indexes.lexical.num_docs} papers; "
        f"dense index: {len(workspace.indexes.vectors)} vectors"
    )


@app.command()
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


@app.command()
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


@app.command()
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


@app.command()
def export(
    path: Annotated[
        Path, typer.Argument(help="Output file (.jsonl or .jsonl.gz); - for stdout.")
    ] = Path("-"),
) -> None:
    """Export every paper as JSON lines (`paperfeed ingest jsonl FILE` reads it back)."""
    from paperfeed.catalog.export import export_jsonl

    count = export_jsonl(_open(), path)
    if str(path) != "-":
        console.print(f"exported {count} papers to {path}")


@app.command()
def demo() -> None:
    """Import the bundled demo corpus (84 days of Hugging Face daily papers, with vectors)."""
    from paperfeed.catalog.demo import load_demo

    workspace = Workspace.create(_settings())
    report = load_demo(workspace)
    console.print(
        f"demo corpus: {report.added} added, {report.updated} updated, {report.unchanged} unchanged"
    )
    _sync(workspace)


@app.command("eval")
def evaluate(
    dataset_dir: Annotated[Path, typer.Argument(help="A BEIR dataset directory.")],
    split: Annotated[str, typer.Option(help="Which qrels to score (test, train, dev).")] = "test",
    rankers: Annotated[
        str, typer.Option(help="Comma-separated: lexical, dense, hybrid-rrf, hybrid.")
    ] = "lexical,dense,hybrid-rrf,hybrid",
    queries: Annotated[
        int | None, typer.Option("--queries", min=1, help="Only the first N judged queries.")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Keep the ingested corpus here and reuse it next time (default: temp)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score search quality on a BEIR benchmark: nDCG@10, Recall@100, MRR@10 per ranker.

    Ingest, indexing and every query take the product's own path (docs/quality.md).
    """
    import tempfile

    from paperfeed.search.eval import RANKERS, Dataset, prepare
    from paperfeed.search.eval import as_json as results_json
    from paperfeed.search.eval import evaluate as run_eval

    dataset = Dataset.load(dataset_dir)
    chosen = [m.strip() for m in rankers.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in RANKERS]
    if unknown or not chosen:
        name = unknown[0] if unknown else rankers
        raise PaperfeedError(f"unknown ranker {name!r}; use {', '.join(RANKERS)}")
    with tempfile.TemporaryDirectory(prefix="paperfeed-eval-") as tmp:
        settings = Settings(data_dir=workdir or Path(tmp))
        workspace = Workspace.create(settings)
        console.print(f"indexing {dataset.name} into {settings.data_dir} …")
        with _progress() as progress:
            prepare(dataset, workspace, _stages(progress))
            n = len(dataset.qrels.get(split, {}))
            n = min(n, queries) if queries else n
            task = progress.add_task("queries", total=n * len(chosen), rate="")
            results = run_eval(
                workspace,
                dataset,
                split,
                chosen,
                queries,
                lambda k: progress.advance(task, k),
            )
        workspace.db.engine.dispose()
    if as_json:
        print(json.dumps(results_json(dataset, split, results)))
        return
    table = Table(title=f"{dataset.name} · {split} · {results[0].queries} queries")
    for column in ("ranker", "nDCG@10", "Recall@100", "MRR@10", "p50 ms"):
        table.add_column(column, justify="left" if column == "ranker" else "right")
    for r in results:
        table.add_row(
            r.ranker,
            f"{r.ndcg_at_10:.4f}",
            f"{r.recall_at_100:.4f}",
            f"{r.mrr_at_10:.4f}",
            f"{r.p50_ms:.1f}",
        )
    out.print(table)


@app.command()
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
    import uvicorn

    from paperfeed.catalog.demo import load_demo
    from paperfeed.catalog.stats import count_papers
    from paperfeed.web.app import create_app

    settings = _settings()
    workspace = Workspace.create(settings)
    if with_demo and count_papers(workspace) == 0:
        console.print("empty database: importing the bundled demo corpus")
        load_demo(workspace)
    _sync(workspace)
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


users_app = typer.Typer(help="Manage web accounts (the first account to sign up is an admin).")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    username: str,
    email: Annotated[str | None, typer.Option(help="For digests and alerts.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the account an admin.")] = False,
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, help="Asked if absent."
        ),
    ] = "",
) -> None:
    """Create an account (asks for the password)."""
    from paperfeed.community import accounts

    workspace = _open()
    user = accounts.create_user(workspace, username, password, email)
    if admin and not user.is_admin:
        user = accounts.set_admin(workspace, username, True)
    console.print(f"created {user.username}{' (admin)' if user.is_admin else ''}")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the accounts."""
    from paperfeed.community import accounts

    users = accounts.list_users(_open())
    rows = [
        {
            "username": u.username,
            "email": u.email,
            "admin": u.is_admin,
            "created": u.created_at.isoformat(timespec="seconds"),
        }
        for u in users
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print("no accounts yet: sign up on the web, or `paperfeed users add NAME`")
    for row in rows:
        console.print(
            f"{row['username']:<32} {'admin' if row['admin'] else '     '} "
            f"{row['created']} {row['email'] or ''}"
        )


@users_app.command("admin")
def users_admin(
    username: str,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the admin role away.")] = False,
) -> None:
    """Give an account the admin role (moderation: hide papers and comments)."""
    from paperfeed.community import accounts

    user = accounts.set_admin(_open(), username, not revoke)
    console.print(f"{user.username} is {'now an admin' if user.is_admin else 'no longer an admin'}")


mail_app = typer.Typer(
    help="Email: subscriptions (double opt-in), digests and the outbox (docs/mail.md)."
)
app.add_typer(mail_app, name="mail")


@mail_app.command("subscribe")
def mail_subscribe(
    email: str,
    kind: Annotated[str, typer.Option(help="trending, search or for_you.")] = "trending",
    period: Annotated[str, typer.Option(help="daily or weekly.")] = "daily",
    query: Annotated[
        str | None, typer.Option(help="search: the query, in the search syntax.")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="The account it belongs to (needed for for_you).")
    ] = None,
) -> None:
    """Subscribe an address; a confirmation mail is queued (sent by `paperfeed mail send`)."""
    from paperfeed.community.accounts import get_user_by_name
    from paperfeed.mail.subscriptions import describe, subscribe

    params: dict[str, Any] = {"period": period}
    if query is not None:
        params["query"] = query
    workspace = _open()
    user_pk = get_user_by_name(workspace, user).pk if user else None
    subscription = subscribe(workspace, email, kind, params, user_pk=user_pk)
    if subscription.status == "active":
        console.print(f"{subscription.email} already gets {describe(subscription)}")
    else:
        console.print(
            f"confirmation mail queued for {subscription.email} ({describe(subscription)}); "
            "`paperfeed mail send` delivers it"
        )


@mail_app.command("digests")
def mail_digests() -> None:
    """Build the digests that are due now and queue them in the outbox."""
    from paperfeed.mail.digests import build_due_digests

    report = build_due_digests(_open())
    for note in report.notes:
        console.print(f"note: {_escape(note)}")
    console.print(report.summary())


@mail_app.command("send")
def mail_send(
    limit: Annotated[int, typer.Option(help="Most mails to send this round.")] = 100,
) -> None:
    """Send the due mails in the outbox once; exit 1 if any failed for good."""
    from paperfeed.mail.sender import drain_outbox

    report = drain_outbox(_open(), limit=limit)
    console.print(report.summary())
    if report.failed:
        raise typer.Exit(1)


@mail_app.command("outbox")
def mail_outbox(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Mails by status, and the latest errors."""
    from paperfeed.mail.sender import outbox_status

    status = outbox_status(_open())
    if as_json:
        print(json.dumps({"counts": status.counts, "errors": status.errors}, indent=2))
        return
    out.print(", ".join(f"{number} {name}" for name, number in status.counts.items()))
    for error in status.errors:
        out.print(
            f"{error['status']:<8} {error['to']} (attempt {error['attempts']}): "
            f"{_escape(str(error['error']))}"
        )


@app.command(
    epilog="Schedules: PAPERFEED_WORKER_SOURCES (default 1h), PAPERFEED_WORKER_DIGESTS "
    "(0 7 * * *) and PAPERFEED_WORKER_SEND (1m); each an interval (30s, 15m, 1h, 1d), a "
    "crontab in PAPERFEED_WORKER_TIMEZONE (UTC), or off. Every job also runs once at start. "
    "One worker per deployment: a second one waits for the first's lock. See docs/worker.md."
)
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run the jobs once, in order, then exit (for cron).")
    ] = False,
    jobs: Annotated[
        list[str] | None,
        typer.Option("--job", help="With --once: only this job (sources, digests, send)."),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="If another worker holds the lock: wait to take over, or exit 1 at once.",
        ),
    ] = True,
) -> None:
    """Run the periodic jobs: harvest live sources, queue due digests, send mail."""
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
    runner = Worker(_open(), stop)
    if once:
        chosen = tuple(job for job in JOBS if not jobs or job in jobs)
        results = runner.run_once(chosen, wait=wait)
        if len(results) < len(chosen) or not all(result.ok for result in results):
            raise typer.Exit(1)
        return
    runner.run_forever(wait=wait)


def _ensure_indexed(workspace: Workspace) -> None:
    if workspace.indexes.is_stale(workspace.db):
        _sync(workspace)


def _authors_line(authors: list[str], most: int) -> str:
    if len(authors) <= most:
        return ", ".join(authors)
    return ", ".join(authors[:most]) + f" and {len(authors) - most} more"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _paper_json(paper: Any, brief: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": paper.id,
        "title": paper.title,
        "authors": paper.authors,
        "published": paper.published.isoformat() if paper.published else None,
        "primary_category": paper.primary_category,
        "categories": paper.categories,
        "abs_url": paper.abs_url,
    }
    if not brief:
        data |= {
            "version": paper.version,
            "abstract": paper.abstract,
            "updated": paper.updated.isoformat() if paper.updated else None,
            "doi": paper.doi,
            "journal_ref": paper.journal_ref,
            "comments": paper.comments,
            "pdf_url": paper.pdf_url,
            "code_url": paper.code_url,
            "source": paper.source,
            "listings": [
                {
                    "source": x.source,
                    "day": x.day.isoformat(),
                    "upvotes": x.upvotes,
                    "comments": x.comments,
                }
                for x in paper.listings
            ],
        }
    return data


def main() -> None:
    """Entry point: user mistakes become one line on stderr and a non-zero exit.

    Usage errors (bad options, missing arguments) are click's, reported by click itself.
    """
    try:
        app()
    except PaperfeedError as exc:
        console.print(f"[red]error:[/] {_escape(str(exc))}")
        sys.exit(1)
