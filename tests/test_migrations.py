"""The Alembic migrations build exactly the schema the models describe, and upgrade in place."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from paperfeed.config import Settings
from paperfeed.db import Base, Database
from paperfeed.workspace import Workspace


def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.migrate()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_an_old_database_is_upgraded_by_init_and_keeps_its_papers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    db = Database(settings.db_url)
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO papers (id, title_key, title, abstract, authors, categories, source,"
                " first_seen, changed_at) VALUES ('2401.00001', 'k', 'Old paper', '', '[]', '[]',"
                " 'kaggle', '2024-01-01 00:00:00', '2024-01-01 00:00:00')"
            )
        )
    assert not db.is_current()
    workspace = Workspace.create(settings)  # what `paperfeed init` does
    assert workspace.db.is_current()
    with workspace.db.engine.connect() as connection:
        titles = connection.execute(text("SELECT title FROM papers")).scalars().all()
        columns = {row[1] for row in connection.execute(text("PRAGMA table_info(ingest_runs)"))}
    assert titles == ["Old paper"]
    assert {"host", "pid"} <= columns


def test_upgrading_keeps_listings_and_vectors(tmp_path: Path) -> None:
    """0003 rebuilds ``papers``; with foreign keys on that drop used to cascade into the child
    tables and delete every listing and embedding of an existing database."""
    settings = Settings(data_dir=tmp_path)
    db = Database(settings.db_url)
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text(
                "INSERT INTO papers (pk, id, title_key, title, abstract, authors, categories,"
                " source, first_seen, changed_at) VALUES (1, '2401.00001', 'k', 'Old paper', '',"
                " '[]', '[]', 'kaggle', '2024-01-01 00:00:00', '2024-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO listings (paper_pk, source, day, upvotes)"
                " VALUES (1, 'hf-daily', '2024-01-02', 7)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO embeddings (paper_pk, model, text_hash, vector, created_at)"
                " VALUES (1, 'm', 'h', x'00000000', '2024-01-01 00:00:00')"
            )
        )
    workspace = Workspace.create(settings)
    with workspace.db.engine.connect() as connection:
        assert connection.execute(text("SELECT upvotes FROM listings")).scalars().all() == [7]
        assert connection.execute(text("SELECT paper_pk FROM embeddings")).scalars().all() == [1]
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
