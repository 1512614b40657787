"""The site the web property tests post to: a copy of the corpus served by the real app."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from _core_helpers import copy_workspace
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.web.app import create_app
from paperfeed.workspace import Workspace

SESSION_COOKIE = "paperfeed_session"
PASSWORD = "correct horse battery"
EMPTY_ATOM_FEED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom" '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
    "<title>arXiv Query</title><opensearch:totalResults>0</opensearch:totalResults></feed>"
)


@dataclass
class PropertySite:
    """A writable copy of the corpus, served by the real app; ``cookie`` logs in ``ada``."""

    workspace: Workspace
    app: FastAPI = field(repr=False)
    cookie: str = field(repr=False)
    paper_ids: list[str] = field(repr=False)
    clients: list[TestClient] = field(default_factory=list, repr=False)

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        """A short name in Hypothesis' failure reports instead of every paper id."""
        printer.text(f"PropertySite({self.workspace.settings.data_dir})")  # type: ignore[attr-defined]

    def client(self, logged_in: bool = False) -> TestClient:
        """A new browser (a session of its own), anonymous or logged in as ``ada``."""
        cookies = {SESSION_COOKIE: self.cookie} if logged_in else None
        client = TestClient(self.app, cookies=cookies)
        self.clients.append(client)
        return client


def csrf(client: TestClient) -> str:
    """The session's CSRF token, as API clients get it."""
    response = client.get("/api/v1/me")
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def open_site(corpus: Workspace, data_dir: Path, arxiv_url: str) -> PropertySite:
    """A copy of ``corpus`` asking ``arxiv_url`` for papers it lacks, with ``ada`` signed up."""
    copy_workspace(corpus, data_dir).db.engine.dispose()
    settings = Settings(
        data_dir=data_dir,
        arxiv_api_url=arxiv_url,
        arxiv_min_interval=0.0,
        http_timeout=5.0,
        rate_limits=False,  # a 429 would end most examples before the code they are aimed at
    )
    ws = Workspace.open(settings)
    app = create_app(ws)
    with TestClient(app) as client:
        token = csrf(client)
        form = {"username": "ada", "password": PASSWORD, "password2": PASSWORD}
        response = client.post(
            "/signup", data={**form, "csrf_token": token}, follow_redirects=False
        )
        assert response.status_code == 303, response.text
        cookie = client.cookies[SESSION_COOKIE]
    with ws.db.engine.connect() as connection:
        ids = [row[0] for row in connection.exec_driver_sql("SELECT id FROM papers ORDER BY pk")]
    return PropertySite(ws, app, cookie, ids)
