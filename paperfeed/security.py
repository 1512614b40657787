"""The site secret: signs web sessions and the tokens in mails (confirm, unsubscribe)."""

from __future__ import annotations

import secrets

from paperfeed.errors import ConfigError
from paperfeed.workspace import Workspace


def secret_key(workspace: Workspace) -> str:
    """``PAPERFEED_SECRET_KEY``, else a key made once and kept in the data directory.

    On PostgreSQL the key must be set: several web nodes and workers share the database, and
    a key of each node's own would make every node refuse the others' sessions and links.
    """
    if workspace.settings.secret_key:
        return workspace.settings.secret_key
    if workspace.db.engine.dialect.name != "sqlite":
        raise ConfigError(
            "PAPERFEED_SECRET_KEY must be set when the database is PostgreSQL: every web node "
            "and worker signs sessions and mail links with it, so they must share one. Make "
            "one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` and set "
            "the same value everywhere"
        )
    path = workspace.settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    if path.stat().st_mode & 0o077:  # made by an older version, or copied in: others keep out
        path.chmod(0o600)
    return path.read_text().strip()
