"""`paperfeed sources`: the input formats for `ingest`, and the live sources that keep the
database up to date.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from paperfeed.cli._common import _escape, _open, _progress, _settings, _stages, console, out
from paperfeed.errors import PaperfeedError
from paperfeed.workspace import Workspace

sources_app = typer.Typer(
    help="Input formats for `ingest`, and live sources (arXiv OAI-PMH, API, RSS; Hugging Face "
    "daily papers) that keep the database up to date. Alone: the formats and the live sources.",
)


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
