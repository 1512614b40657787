"""Fixtures locating the shared real-data directory (``shared/`` beside the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``shared/`` sits next to the repository (locally /work/shared, in CI beside the clone)."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"real sample data not found: expected {SHARED}/data beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


@pytest.fixture(scope="session")
def seeds_dir(shared_dir: Path) -> Path:
    seeds = shared_dir / "seeds"
    if not seeds.is_dir():
        pytest.skip(f"seed pages not found: expected {seeds}")
    return seeds
