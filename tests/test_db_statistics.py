"""The query planner's statistics (``Database.analyze``) and plans that do not need them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from paperfeed.catalog import ingest
from paperfeed.community import rank
from paperfeed.formats import get_format
from paperfeed.workspace import Workspace


def stat_tables(workspace: Workspace) -> set[str]:
    """The tables and indexes SQLite holds statistics for (``sqlite_stat1``)."""
    with workspace.db.engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).first()
        if exists is None:
            return set()
        rows = connection.execute(text("SELECT tbl, idx FROM sqlite_stat1")).all()
    return {tbl for tbl, _ in rows} | {idx for _, idx in rows if idx}


def test_migrate_runs_analyze(workspace: Workspace) -> None:
    with workspace.db.engine.connect() as connection:
        tables = connection.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).all()
    assert tables, "Workspace.create (migrate) left no planner statistics"


def test_a_large_ingest_refreshes_the_statistics(
    workspace: Workspace, seed_paths: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "papers" not in stat_tables(workspace)  # analysed while still empty
    monkeypatch.setattr(ingest, "ANALYZE_AFTER", 1)
    report = ingest.ingest_files(workspace.db, get_format("hf-page"), seed_paths[:1])
    assert report.added >= 1
    assert {"papers", "ix_papers_hidden"} <= stat_tables(workspace)


def test_a_small_ingest_leaves_them(workspace: Workspace, seed_paths: list[Path]) -> None:
    report = ingest.ingest_files(workspace.db, get_format("hf-page"), seed_paths[:1])
    assert report.added < ingest.ANALYZE_AFTER
    assert "papers" not in stat_tables(workspace)


def test_the_feed_query_starts_from_the_days_listings_without_statistics(
    workspace: Workspace,
) -> None:
    """Without statistics SQLite drove the feed from ``ix_papers_hidden`` through every paper."""
    with workspace.db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS sqlite_stat1"))
    query = rank._listed_between(date(2026, 5, 1), date(2026, 5, 7))
    sql = str(query.compile(workspace.db.engine, compile_kwargs={"literal_binds": True}))
    with workspace.db.engine.connect() as connection:
        plan = [row[3] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    assert plan[0].startswith("SEARCH listings USING INDEX ix_listings_day"), plan
    assert not any("SCAN papers" in step for step in plan), plan
