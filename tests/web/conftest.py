"""Fixtures for the web tests: the real app (``create_app``) over real SQLite workspaces.

The main corpus is eight real days of Hugging Face daily papers (Fri 2026-04-24 .. Tue
2026-05-05: a whole Monday-to-Friday week with days on both sides, and a month end), built
once per session with the vectors the demo ships, so no test waits for the embedding model.
Read-only tests share it (``hf_client``); tests that write get a private copy (``site``) that
already has three accounts, logged in by their session cookies: ``ada`` (the first to sign
up, so the admin), ``bob`` and ``cyd``. Argon2 is deliberately slow, so accounts are made
once and copied with the database rather than signed up again in every test.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from _core_helpers import copy_workspace, make_workspace
from _web_helpers import (
    SESSION_COOKIE,
    USERS,
    Community,
    HfEntry,
    Site,
    day_of,
    read_hf_day,
    sign_up,
)
from fastapi.testclient import TestClient

from paperfeed.catalog.demo import attach_vectors
from paperfeed.catalog.ingest import ingest_files
from paperfeed.formats import get_format
from paperfeed.search.catchup import catch_up
from paperfeed.web.app import create_app
from paperfeed.workspace import Workspace

HF_DAYS = 8
ARXIV_CS_DAY = "2026-03-04"
ARXIV_CS_PAPERS = 12


@pytest.fixture(scope="session")
def hf_days(hf_history_paths: list[Path]) -> list[Path]:
    """The first eight saved days of Hugging Face's /api/daily_papers (116 papers)."""
    paths = sorted(hf_history_paths[0].parent.glob("*.json.gz"))[:HF_DAYS]
    if len(paths) < HF_DAYS:
        pytest.skip(f"expected {HF_DAYS} daily files in {hf_history_paths[0].parent}")
    return paths


@pytest.fixture(scope="session")
def hf_listing(hf_days: list[Path]) -> dict[date, list[HfEntry]]:
    """What Hugging Face listed each day, read straight from the files."""
    return {day_of(path): read_hf_day(path) for path in hf_days}


def build_hf_workspace(data_dir: Path, paths: list[Path]) -> Workspace:
    ws = make_workspace(data_dir)
    report = ingest_files(ws.db, get_format("hf-daily"), paths)
    assert report.problems == [], report
    attach_vectors(ws)  # the demo's shipped vectors: these are the demo's first days
    catch_up(ws)
    return ws


@pytest.fixture(scope="session")
def hf_workspace(tmp_path_factory: pytest.TempPathFactory, hf_days: list[Path]) -> Workspace:
    """The eight days ingested and indexed, no accounts. Read only!"""
    return build_hf_workspace(tmp_path_factory.mktemp("web-hf") / "data", hf_days)


@pytest.fixture(scope="module")
def hf_client(hf_workspace: Workspace) -> Iterator[TestClient]:
    """An anonymous visitor of ``hf_workspace``; for tests that change nothing."""
    with TestClient(create_app(hf_workspace)) as client:
        yield client


@pytest.fixture(scope="session")
def community(tmp_path_factory: pytest.TempPathFactory, hf_workspace: Workspace) -> Community:
    ws = copy_workspace(hf_workspace, tmp_path_factory.mktemp("web-community") / "data")
    app = create_app(ws)  # also makes the workspace's secret key, which the copies share
    cookies = {}
    for name in USERS:
        with TestClient(app) as client:
            assert sign_up(client, name).status_code == 303
            cookies[name] = client.cookies[SESSION_COOKIE]
    return Community(ws, cookies)


def open_site(template: Workspace, data_dir: Path, cookies: dict[str, str]) -> Site:
    ws = copy_workspace(template, data_dir)
    return Site(ws, create_app(ws), cookies)


@pytest.fixture
def site(community: Community, tmp_path: Path) -> Iterator[Site]:
    site = open_site(community.workspace, tmp_path / "site", community.cookies)
    yield site
    for client in site.clients:
        client.close()
    site.workspace.db.engine.dispose()


@pytest.fixture
def empty_site(tmp_path: Path) -> Iterator[Site]:
    """A new install: no papers, no accounts."""
    ws = make_workspace(tmp_path / "empty")
    site = Site(ws, create_app(ws), {})
    yield site
    for client in site.clients:
        client.close()
    ws.db.engine.dispose()


@pytest.fixture(scope="session")
def arxiv_cs_workspace(tmp_path_factory: pytest.TempPathFactory, shared_root: Path) -> Workspace:
    """The first 12 papers of a real arXiv cs listing: papers with categories. Read only!"""
    day_file = shared_root / "data" / "arxiv_daily_cs" / "days" / f"{ARXIV_CS_DAY}.jsonl.gz"
    if not day_file.exists():
        pytest.skip(f"real arXiv listing not found: expected {day_file}")
    root = tmp_path_factory.mktemp("web-arxiv-cs")
    lines = gzip.decompress(day_file.read_bytes()).decode().splitlines(keepends=True)
    excerpt = root / f"{ARXIV_CS_DAY}.jsonl"  # the day is read from the file name
    excerpt.write_text("".join(lines[:ARXIV_CS_PAPERS]))
    ws = make_workspace(root / "data")
    report = ingest_files(ws.db, get_format("arxiv-daily"), [excerpt])
    assert report.added == ARXIV_CS_PAPERS and not report.problems, report
    catch_up(ws)
    return ws


@pytest.fixture(scope="module")
def arxiv_cs_client(arxiv_cs_workspace: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(arxiv_cs_workspace)) as client:
        yield client
