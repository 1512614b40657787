"""`paperfeed users`: web accounts."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from paperfeed.cli._common import _open, console

users_app = typer.Typer(help="Manage web accounts (the first account to sign up is an admin).")


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
