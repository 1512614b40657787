"""Helpers the command modules share: settings, the workspace, progress bars and output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from paperfeed.config import Settings, get_settings
from paperfeed.workspace import Workspace

console = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


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
    """A ``paperfeed.progress.Progress`` callback drawing one bar per stage (a total of 0:
    not known, a bar that counts)."""
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total or None, rate="")
        progress.advance(tasks[stage], done)

    return report


def _sync(workspace: Workspace) -> None:
    """Embed what is queued and bring the indexes up to date, with a progress bar per stage."""
    from paperfeed.search.catchup import catch_up

    with _progress() as progress:
        result = catch_up(workspace, _stages(progress))
    if result.embedded or result.lexical or result.vectors:
        counts = workspace.indexes.counts()
        console.print(
            f"search indexes up to date: {counts.papers} papers, "
            f"{counts.vectors} vectors ({result.embedded} newly embedded)"
        )


def _authors_line(authors: list[str], most: int) -> str:
    if len(authors) <= most:
        return ", ".join(authors)
    return ", ".join(authors[:most]) + f" and {len(authors) - most} more"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
