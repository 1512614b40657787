"""Every operation of our OpenAPI document, driven by schemathesis against the real app.

The app is called in process (ASGI), anonymously and as a logged-in user (the session cookie
plus the ``X-CSRF-Token`` header from ``GET /api/v1/me``, as the API docs tell clients to do).
Whatever schemathesis sends, valid or not, the app answers without a server error, and a
documented answer has the documented content type and shape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from _site import SESSION_COOKIE, PropertySite, csrf, open_site
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from paperfeed.workspace import Workspace

CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
# The coverage phase sends every boundary case the schema implies, whatever max_examples says:
# minutes per run, so only the fuzz profile (HYPOTHESIS_PROFILE=fuzz) has it.
CONFIG = schemathesis.Config.from_dict(
    {"phases": {"coverage": {"enabled": os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"}}}
)


@pytest.fixture(scope="module")
def api_site(
    corpus: Workspace, arxiv_stub: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PropertySite]:
    """A site of its own: the logged-in run votes, comments and subscribes."""
    site = open_site(corpus, tmp_path_factory.mktemp("api-site") / "data", arxiv_stub)
    yield site
    site.workspace.db.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(api_site: PropertySite) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", api_site.app, config=CONFIG)


@pytest.fixture(scope="module")
def login(api_site: PropertySite) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, cookies) of ``ada``'s session."""
    client = api_site.client(logged_in=True)
    return {"X-CSRF-Token": csrf(client)}, {SESSION_COOKIE: api_site.cookie}


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 renames each run after its operation through ``Node._nodeid``, which
    pytest 9 no longer has; give it one to rename."""
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api_anonymous_gets_no_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
def test_api_logged_in_gets_no_server_error(
    case: schemathesis.Case, login: tuple[dict[str, str], dict[str, str]]
) -> None:
    headers, cookies = login
    case.call_and_validate(headers=headers, cookies=cookies, checks=CHECKS)
