"""Fixtures for the live-source tests: a real local replay server and the arXiv recordings.

Nothing here touches the network: the recordings in ``tests/data/`` are served from
127.0.0.1, and pacing / back-off run on a ``FakeClock``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import _backends
import pytest
from _live_helpers import ARXIV_DATA, FakeClock
from replay_server import ReplayServer, Request, Response, load_recording

from paperfeed.config import Settings
from paperfeed.workspace import Workspace

ARXIV_API_PATH = "/api/query"
# No headers were recorded; this is the type export.arxiv.org serves its feeds with.
ARXIV_CONTENT_TYPE = "application/atom+xml; charset=utf-8"


def arxiv_replay(server: ReplayServer, recordings: Path = ARXIV_DATA) -> str:
    """Serve the arXiv recordings at ``/api/query``, each chosen by the request's ``id_list``.

    Only ``id_list`` is matched: the recording client sent other parameters (``sortBy``,
    ``start``, ...) than ours, and they do not change an id lookup. Returns the base URL to
    give ``ArxivApi``.
    """
    by_ids: dict[str, Response] = {}
    for path in sorted(recordings.glob("*.json")):
        recording = load_recording(path)
        recording.response.content_type = ARXIV_CONTENT_TYPE
        by_ids[recording.query["id_list"]] = recording.response

    def wanted(request: Request) -> bool:
        return request.path == ARXIV_API_PATH and request.query.get("id_list") in by_ids

    server.add_matcher(wanted, lambda request: by_ids[request.query["id_list"]])
    return server.url_for(ARXIV_API_PATH)


@pytest.fixture
def replay_server() -> Iterator[ReplayServer]:
    """A fresh server per test: routes, faults and the request log start empty."""
    with ReplayServer() as server:
        yield server


@pytest.fixture
def arxiv_url(replay_server: ReplayServer) -> str:
    """``replay_server`` answering the recorded arXiv id lookups; the API base URL."""
    return arxiv_replay(replay_server)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def live_settings(tmp_path: Path, replay_server: ReplayServer) -> Settings:
    """Settings whose services all live on ``replay_server``, unpaced (tests do not wait);
    the database on the run's backend (``_backends``)."""
    database = _backends.settings_for(tmp_path / "data")
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database.database_url,
        secret_key=database.secret_key,
        contact_email="tests@example.org",
        arxiv_api_url=replay_server.url_for(ARXIV_API_PATH),
        arxiv_oai_url=replay_server.url_for("/oai"),
        arxiv_rss_url=replay_server.url_for("/rss"),
        hf_api_url=replay_server.url_for("/api"),
        arxiv_min_interval=0.0,
        hf_min_interval=0.0,
    )


@pytest.fixture
def live_workspace(live_settings: Settings) -> Iterator[Workspace]:
    """A fresh real SQLite workspace pointed at the replay server."""
    workspace = Workspace.create(live_settings)
    yield workspace
    workspace.db.engine.dispose()
