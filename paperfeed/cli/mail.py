"""`paperfeed mail`: subscriptions, digests and the outbox."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from paperfeed.cli._common import _escape, _open, console, out

mail_app = typer.Typer(
    help="Email: subscriptions (double opt-in), digests and the outbox (docs/mail.md)."
)


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
