"""``paperfeed backup`` and ``paperfeed restore``: the database and the site secret, online.

A backup is a directory holding ``paperfeed.db`` (a copy made by SQLite's online backup API
in one step: one consistent snapshot, taken while ``serve``, ``worker`` and imports go on
writing — in WAL mode neither side waits for the other), ``secret_key`` (so sessions and the
links in mails already sent stay valid), ``media/`` (the images live sources cached: a
harvest already done would not fetch them again) and ``paperfeed-backup.json`` (what it
holds, with a SHA-256 per file). Directory and files are readable by their owner only
(0700 / 0600): the database holds password hashes.

The search indexes are not copied: they are caches of the database, and ``restore`` rebuilds
them (at 100k papers, ~70 s from the stored vectors; docs/performance.md), which keeps a
backup to the database's size and never pairs a database with indexes of another moment.

PostgreSQL has its own tools (``pg_dump`` / ``pg_restore``); both commands say so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.db import Database, DatabaseBusyError, DiskFullError
from paperfeed.db.session import BUSY_TIMEOUT
from paperfeed.errors import PaperfeedError
from paperfeed.live.media import media_dir
from paperfeed.search.index.files import sha256_of
from paperfeed.workspace import Workspace

MANIFEST = "paperfeed-backup.json"
DATABASE = "paperfeed.db"
SECRET_KEY = "secret_key"
MEDIA = "media"  # images cached by live sources (live/media.py)
FORMAT = 1
_POSTGRES = (
    "backup and restore copy a SQLite database; for PostgreSQL use pg_dump and pg_restore "
    "(the search indexes are rebuilt by `paperfeed reindex --full`)"
)


@dataclass
class BackupReport:
    path: Path
    papers: int
    schema: str | None
    size: int  # bytes
    seconds: float
    secret_key: bool


@dataclass
class RestoreReport:
    papers: int
    schema: str | None
    created: str  # when the backup was taken


def require_sqlite(settings: Settings) -> None:
    """Refuse, before connecting anywhere, a database these commands cannot copy."""
    try:
        backend = make_url(settings.db_url).get_backend_name()
    except ArgumentError:
        backend = "?"
    if backend != "sqlite":
        raise PaperfeedError(_POSTGRES)


def backup(workspace: Workspace, destination: Path) -> BackupReport:
    """Copy the live database and the secret key into ``destination`` (a new directory)."""
    source = workspace.db.sqlite_file
    if source is None:
        raise PaperfeedError(_POSTGRES)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise PaperfeedError(f"{destination} already exists; back up into a new directory")
    started = time.perf_counter()
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.parent / f".{destination.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(mode=0o700)
    try:
        copy = partial / DATABASE
        _private_file(copy)
        with (
            _sqlite_errors(),
            contextlib.closing(_connect(source)) as live,
            contextlib.closing(sqlite3.connect(copy)) as target,
        ):
            live.backup(target)  # every page in one step: one snapshot, writers go on
        papers, schema = _verify(copy)
        key = _secret_key(workspace)
        if key is not None:
            _write_private(partial / SECRET_KEY, key)
        files = [DATABASE, *([SECRET_KEY] if key is not None else [])]
        media = _copy_media(media_dir(workspace.settings.data_dir), partial / MEDIA)
        manifest = {
            "format": FORMAT,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "paperfeed": __version__,
            "schema": schema,
            "papers": papers,
            "files": {name: sha256_of(partial / name) for name in files},
            "media": media,
        }
        _write_private(partial / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        if destination.exists():
            destination.rmdir()  # empty, checked above
        partial.rename(destination)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    size = sum(f.stat().st_size for f in destination.rglob("*") if f.is_file())
    return BackupReport(
        destination, papers, schema, size, time.perf_counter() - started, key is not None
    )


def restore(settings: Settings, source: Path, force: bool = False) -> RestoreReport:
    """Put a backup's database and secret key into the configured data directory, then
    migrate it to this version's schema. The data directory must be empty (or missing);
    ``force`` replaces its database, secret key and indexes (stop ``serve`` and ``worker``
    first: they would go on with the files they have open)."""
    require_sqlite(settings)
    database = Database(settings.db_url)
    target = database.sqlite_file
    database.engine.dispose()
    if target is None:
        raise PaperfeedError(_POSTGRES)
    manifest = _read_manifest(source)
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()) and not force:
        raise PaperfeedError(
            f"{data_dir} is not empty; restore into an empty data directory, or add --force "
            "to replace its database, secret key and indexes"
        )
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    incoming = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    _private_file(incoming)
    try:
        with source.joinpath(DATABASE).open("rb") as src, incoming.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        _verify(incoming)
        for stale in (target, *(target.with_name(target.name + s) for s in ("-wal", "-shm"))):
            stale.unlink(missing_ok=True)  # a WAL of the old database must not meet the new one
        shutil.rmtree(settings.index_dir, ignore_errors=True)  # caches of the old database
        incoming.replace(target)
    except BaseException:
        incoming.unlink(missing_ok=True)
        raise
    if SECRET_KEY in manifest["files"]:
        _write_private(data_dir / SECRET_KEY, (source / SECRET_KEY).read_text())
    _copy_media(source / MEDIA, media_dir(data_dir))
    workspace = Workspace.create(settings)  # a backup of an older version: migrated here
    papers, schema = _count(workspace)
    workspace.db.engine.dispose()
    return RestoreReport(papers, schema, str(manifest.get("created", "")))


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        # Only a JSON object gets past ["files"]: any other value raises TypeError (or KeyError).
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
        files = manifest["files"]
    except FileNotFoundError:
        raise PaperfeedError(f"{source}: not a paperfeed backup (no {MANIFEST})") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PaperfeedError(f"{source / MANIFEST}: unreadable ({exc})") from None
    if manifest.get("format") != FORMAT or DATABASE not in files:
        raise PaperfeedError(f"{source}: a backup format this version cannot read")
    for name, digest in files.items():
        file = source / name
        if not file.is_file() or sha256_of(file) != digest:
            raise PaperfeedError(f"{file}: missing or damaged (its checksum does not match)")
    return manifest


def _copy_media(source: Path, target: Path) -> int:
    """Copy the cached images (named by content hash, never changed once written); the count.
    They are not in the database, and a harvest already done would not fetch them again."""
    if not source.is_dir():
        return 0
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    copied = 0
    for image in source.iterdir():
        if image.is_file() and not image.name.startswith("."):
            shutil.copyfile(image, target / image.name)
            copied += 1
    return copied


def _verify(copy: Path) -> tuple[int, str | None]:
    """``quick_check`` the copy; its paper count and schema revision."""
    with _sqlite_errors(), contextlib.closing(sqlite3.connect(copy)) as db:
        result = [row[0] for row in db.execute("PRAGMA quick_check")]
        if result != ["ok"]:
            raise PaperfeedError(f"{copy}: the copy is damaged ({'; '.join(result[:3])})")
        papers = db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
        revision = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return papers, revision[0] if revision else None


def _count(workspace: Workspace) -> tuple[int, str | None]:
    with workspace.db.engine.connect() as connection:
        papers = connection.exec_driver_sql("SELECT COUNT(*) FROM papers").scalar_one()
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return papers, revision


def _secret_key(workspace: Workspace) -> str | None:
    """The key signing sessions and mail links: the setting, else the data directory's file."""
    if workspace.settings.secret_key:
        return workspace.settings.secret_key
    path = workspace.settings.data_dir / SECRET_KEY
    return path.read_text().strip() if path.exists() else None


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT)
    connection.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    return connection


def _private_file(path: Path) -> None:
    """Create ``path`` empty, readable by its owner only, before anything is written to it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    path.chmod(0o600)


def _write_private(path: Path, text: str) -> None:
    _private_file(path)
    path.write_text(text)


@contextlib.contextmanager
def _sqlite_errors() -> Iterator[None]:
    """sqlite3 used directly (the backup API): the same clear errors as through the engine."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        message = str(exc)
        if "database or disk is full" in message:
            raise DiskFullError(f"the disk is full ({message}); free some space") from exc
        if message.startswith("database is locked"):
            raise DatabaseBusyError("the database is busy; try again in a moment") from exc
        raise PaperfeedError(f"cannot copy the database: {message}") from exc
    except OSError as exc:
        raise PaperfeedError(f"cannot write the backup: {exc}") from exc
