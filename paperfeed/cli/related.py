"""`paperfeed related FILE|-`: papers related to a draft's title and abstract.

A plain function: ``paperfeed.cli`` registers it on the app.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from paperfeed.bounds import MAX_RELATED_QUERY_LENGTH
from paperfeed.cli._common import _open, console
from paperfeed.cli.search import _ensure_indexed, show_results
from paperfeed.errors import InvalidInputError


def related(
    source: Annotated[
        str, typer.Argument(metavar="FILE|-", help="A text file with a title and abstract, or -.")
    ],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    explain: Annotated[bool, typer.Option(help="Show the key terms and why each matched.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Find related work: papers close to a draft (its title and abstract, from a file or -)."""
    from paperfeed.search import related as related_work
    from paperfeed.search import search as run_search

    text = _read(source)
    if not text.strip():
        raise InvalidInputError(f"{source}: no text; give a title and an abstract")
    if not related_work.is_long(text):
        console.print(
            f"[dim]a short text ({len(text.split())} words) is searched as a query; "
            "paste the abstract too for related work[/]"
        )
    workspace = _open()
    _ensure_indexed(workspace)
    results = run_search(workspace, text, limit=limit, explain=explain)
    show_results(workspace, results, explain=explain, as_json=as_json)


def _read(source: str) -> str:
    """The draft's text; refused clearly above the length a search takes."""
    limit = MAX_RELATED_QUERY_LENGTH
    try:
        if source == "-":
            text = sys.stdin.read(limit + 1)
        else:
            with open(Path(source), encoding="utf-8", errors="replace") as handle:
                text = handle.read(limit + 1)
    except OSError as exc:
        raise InvalidInputError(f"{source}: {exc.strerror or exc}") from None
    if len(text) > limit:
        raise InvalidInputError(
            f"{source} is longer than {limit:,} characters: give the title and abstract only"
        )
    return text
