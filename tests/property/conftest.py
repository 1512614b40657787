"""Hypothesis profiles and the real workspaces and apps the property tests run against.

Profiles: ``ci`` (the default) is bounded and derandomized, so every run tries the same
examples and the directory finishes well within two minutes; ``fuzz``
(``HYPOTHESIS_PROFILE=fuzz``) tries many more, with fresh randomness each run. Both drop the
per-example deadline: a first search loads the embedding model, a first sign-up hashes with
argon2, and neither is what these tests time.

The apps never reach the network: submit-by-id asks a local stand-in for the arXiv API that
knows no paper (arXiv's own answer for an id it lacks: a feed without entries), so an id
already in the corpus is listed and any other ends in a clear 404.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import hypothesis.core
import pytest
from _core_helpers import make_workspace
from _site import EMPTY_ATOM_FEED, PropertySite, open_site
from hypothesis import HealthCheck, settings
from hypothesis.vendor import pretty
from replay_server import ReplayServer, Response

from paperfeed.catalog.demo import attach_vectors
from paperfeed.catalog.ingest import ingest_files
from paperfeed.formats import get_format
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

# Importing schemathesis (its pytest plugin does) swaps Hypothesis' printer for a no-op, to
# speed up its own runs; every failing example would then be reported without its values.
hypothesis.core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[misc]

_SLOW_IS_FINE = [
    HealthCheck.too_slow,
    HealthCheck.function_scoped_fixture,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.large_base_example,
]
settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile(
    "fuzz",
    max_examples=2_000,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, hf_history_paths: list[Path]) -> Workspace:
    """Three real days of Hugging Face daily papers, indexed with the demo's vectors (no
    embedding pass). Read only!"""
    ws = make_workspace(tmp_path_factory.mktemp("property-corpus") / "data")
    report = ingest_files(ws.db, get_format("hf-daily"), hf_history_paths)
    assert report.added > 0 and not report.problems, report
    attach_vectors(ws)
    catch_up(ws)
    return ws


@pytest.fixture(scope="session")
def arxiv_stub() -> Iterator[str]:
    """The URL of a local arXiv API that has no papers."""
    with ReplayServer() as server:
        server.add_matcher(
            lambda request: request.path == "/api/query",
            lambda request: Response(body=EMPTY_ATOM_FEED, content_type="application/atom+xml"),
        )
        yield server.url_for("/api/query")


@pytest.fixture(scope="session")
def site(
    corpus: Workspace, arxiv_stub: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PropertySite]:
    """One site for every form test: they add users, comments and subscriptions as they go."""
    site = open_site(corpus, tmp_path_factory.mktemp("property-site") / "data", arxiv_stub)
    yield site
    for client in site.clients:
        client.close()
    site.workspace.db.engine.dispose()
