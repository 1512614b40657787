"""Fixtures for the fault tests: the bundled demo corpus (2,076 papers with their shipped
vectors, so nothing waits for the embedding model), imported and indexed once per session;
each test damages its own copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from _core_helpers import copy_workspace, make_workspace

from paperfeed.catalog.demo import load_demo
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The demo corpus imported and indexed. Read only!"""
    ws = make_workspace(tmp_path_factory.mktemp("faults-demo") / "data")
    load_demo(ws)
    catch_up(ws)
    return ws


@pytest.fixture
def demo_dir(demo_workspace: Workspace, tmp_path: Path) -> Path:
    """A private copy of the demo data directory (database and indexes)."""
    copy = copy_workspace(demo_workspace, tmp_path / "data")
    copy.db.engine.dispose()
    return copy.settings.data_dir
