"""The papers themselves: `init`, `ingest`, `show`, `stats`, `export` and `demo`.

Plain functions: ``paperfeed.cli`` registers them on the app, in the order ``--help`` lists them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from paperfeed.cli._common import (
    _authors_line,
    _escape,
    _open,
    _progress,
    _settings,
    _stages,
    _sync,
    console,
    out,
)
from paperfeed.errors import PaperfeedError, SourceError
from paperfeed.workspace import Workspace


def init() -> None:
    """Create the data directory and database (safe to run again: it migrates)."""
    settings = _settings()
    Workspace.create(settings)
    console.print(f"paperfeed data directory ready at {settings.data_dir.resolve()}")


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
        try:
            report = ingest_files(
                workspace.db,
                parser,
                paths,
                batch_size=workspace.settings.ingest_batch_size,
                progress=_stages(progress),
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


def show(
    paper_id: Annotated[
        str,
        typer.Argument(metavar="ID", help="arXiv id (e.g. 2404.12345), arxiv.org link or DOI."),
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one paper: by arXiv id, arxiv.org link, DOI or our numeric key."""
    from paperfeed.catalog.lookup import get_paper

    workspace = _open()
    paper = get_paper(workspace, paper_id)
    if as_json:
        from paperfeed.web.api import papers_out

        shown = papers_out(workspace, [paper])[0]
        print(json.dumps(shown.model_dump(mode="json"), ensure_ascii=False))
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


def demo() -> None:
    """Import the bundled demo corpus (84 days of Hugging Face daily papers, with vectors)."""
    from paperfeed.catalog.demo import load_demo

    workspace = Workspace.create(_settings())
    report = load_demo(workspace)
    console.print(
        f"demo corpus: {report.added} added, {report.updated} updated, {report.unchanged} unchanged"
    )
    _sync(workspace)
