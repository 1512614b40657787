"""The `paperfeed` command. Thin: each command parses options and calls the core modules.

The commands live by subject: ``catalog`` (init, ingest, show, stats, export, demo),
``search`` (search, similar, eval), ``ops`` (reindex, check, backup, restore, serve, worker,
embed)
and the groups ``sources``, ``users`` and ``mail``; helpers they share are in ``_common``.
They are registered below in the order ``paperfeed --help`` lists them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from paperfeed import __version__
from paperfeed.cli import catalog, mail, ops, related, search, sources, users
from paperfeed.cli._common import _escape, console, out
from paperfeed.errors import PaperfeedError

__all__ = ["main"]  # the `paperfeed` console script

app = typer.Typer(
    help="paperfeed: a self-hostable research-paper discovery engine.\n\n"
    "Data lives in $PAPERFEED_DATA_DIR (default ./data). Start with `paperfeed init`, "
    "then `paperfeed ingest SOURCE FILES...` and `paperfeed search QUERY`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"paperfeed {__version__}")
        raise typer.Exit()


# In the order `paperfeed --help` lists them: the commands, then the groups.
app.command()(catalog.init)
app.command()(catalog.ingest)
app.command()(search.search)
app.command()(catalog.show)
app.command()(search.similar)
app.command()(related.related)
app.command()(catalog.stats)
app.command()(ops.reindex)
app.command()(ops.check)
app.command()(ops.backup)
app.command()(ops.restore)
app.command()(catalog.export)
app.command()(catalog.demo)
app.command("eval")(search.evaluate)
app.command()(ops.serve)
app.command(epilog=ops.WORKER_EPILOG)(ops.worker)
app.command()(ops.embed)
app.add_typer(sources.sources_app, name="sources")
app.add_typer(users.users_app, name="users")
app.add_typer(mail.mail_app, name="mail")


def main() -> None:
    """Entry point: user mistakes become one line on stderr and a non-zero exit.

    Usage errors (bad options, missing arguments) are click's, reported by click itself.
    """
    try:
        app()
    except PaperfeedError as exc:
        console.print(f"[red]error:[/] {_escape(str(exc))}")
        sys.exit(1)
