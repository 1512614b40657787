"""Helpers for the web tests (imported as ``_web_helpers``, like ``_core_helpers``).

Pages are read the way a browser would: by the attributes the templates put on them
(``data-paper`` on each card, ``rel="prev"``/``rel="next"`` links, ``role="alert"`` errors), so
a change of wording does not break the tests but a change of behaviour does.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from replay_server import ReplayServer, load_recording
from replay_server import Response as ReplayResponse

from paperfeed.workspace import Workspace

PASSWORD = "correct horse battery"
SESSION_COOKIE = "paperfeed_session"
USERS = ("ada", "bob", "cyd")  # in sign-up order: ada, the first, is the admin
ADMIN = "ada"


# -- sites under test ---------------------------------------------------------------------------


@dataclass
class Community:
    """A read-only template: ``hf_workspace`` plus the accounts and their session cookies."""

    workspace: Workspace
    cookies: dict[str, str]


@dataclass
class Site:
    """A private, writable copy of the community workspace served by its own app."""

    workspace: Workspace
    app: FastAPI
    cookies: dict[str, str]
    clients: list[TestClient] = field(default_factory=list)

    def client(self, user: str | None = None) -> TestClient:
        """A new browser: anonymous, or logged in as ``user`` (one of ``USERS``)."""
        cookies = {SESSION_COOKIE: self.cookies[user]} if user else None
        client = TestClient(self.app, cookies=cookies)
        self.clients.append(client)
        return client


# -- the real Hugging Face files the workspaces are built from ---------------------------------


@dataclass(frozen=True)
class HfEntry:
    """One entry of a saved ``/api/daily_papers?date=`` answer, as Hugging Face served it."""

    id: str
    title: str
    summary: str
    authors: list[str]
    published_at: str
    upvotes: int
    day: date

    @property
    def published(self) -> date:
        return date.fromisoformat(self.published_at[:10])


def day_of(path: Path) -> date:
    return date.fromisoformat(path.name.split(".")[0])


def read_hf_day(path: Path) -> list[HfEntry]:
    """The entries of one saved file, in the order Hugging Face listed them."""
    entries = json.loads(gzip.decompress(path.read_bytes()))
    return [
        HfEntry(
            id=e["paper"]["id"],
            title=e["paper"]["title"],
            summary=e["paper"]["summary"],
            authors=[a["name"] for a in e["paper"]["authors"]],
            published_at=e["paper"]["publishedAt"],
            upvotes=e["paper"]["upvotes"],
            day=day_of(path),
        )
        for e in entries
    ]


# -- reading pages -----------------------------------------------------------------------------

_CARD = re.compile(r'<article class="card" data-paper="([^"]+)">(.*?)</article>', re.S)
_COUNT = re.compile(r'<span class="count">(\d+)</span>')
_COMMENTS = re.compile(r"(\d+) comments?</a>")
_TIME = re.compile(r'<time datetime="(\d{4}-\d\d-\d\d)">')


@dataclass(frozen=True)
class CardView:
    """A paper as a list page shows it."""

    id: str
    upvotes: int
    comments: int
    published: date | None
    voted: bool
    saved: bool
    html: str


def cards(page: str) -> list[CardView]:
    out = []
    for paper_id, body in _CARD.findall(page):
        count, comments, when = _COUNT.search(body), _COMMENTS.search(body), _TIME.search(body)
        assert count and comments, f"card {paper_id} lacks its vote or comment count"
        out.append(
            CardView(
                id=unescape(paper_id),
                upvotes=int(count.group(1)),
                comments=int(comments.group(1)),
                published=date.fromisoformat(when.group(1)) if when else None,
                voted='class="vote-button voted"' in body,
                saved='class="save-button saved"' in body,
                html=body,
            )
        )
    return out


def card_ids(page: str) -> list[str]:
    return [c.id for c in cards(page)]


def alert(page: str) -> str | None:
    """The text of the page's error message (``role="alert"``), if it shows one."""
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    return unescape(match.group(1)).strip() if match else None


def input_value(page: str, name: str) -> str | None:
    """The value a form field is filled in with (``<input name=… value=…>``)."""
    match = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*\bvalue="([^"]*)"', page)
    return unescape(match.group(1)) if match else None


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(page: str, name: str) -> list[dict[str, str | None]]:
    """The attributes of every ``<name>`` start tag of the page."""
    parser = _Tags()
    parser.feed(page)
    return [attrs for tag, attrs in parser.tags if tag == name]


def rel_link(page: str, rel: str, within: str = "") -> str | None:
    """The ``href`` of the ``<a rel=…>`` link (inside the ``<nav class=within>`` if given)."""
    if within:
        nav = re.search(rf'<nav class="{within}"[^>]*>(.*?)</nav>', page, re.S)
        if nav is None:
            return None
        page = nav.group(1)
    for attrs in tags(page, "a"):
        if attrs.get("rel") == rel:
            return attrs.get("href")
    return None


def page_of(page: str) -> tuple[int, int]:
    """(this page, number of pages) from the pager; (1, 1) when there is no pager."""
    match = re.search(r"<span>Page (\d+) of (\d+)</span>", page)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def all_pages(client: TestClient, url: str, params: dict[str, Any] | None = None) -> list[str]:
    """Every page of a paged list, by following its "next" links from ``url``."""
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    pages = [response.text]
    while (following := rel_link(pages[-1], "next", within="pages")) is not None:
        response = client.get(unescape(following))
        assert response.status_code == 200
        pages.append(response.text)
    assert len(pages) == page_of(pages[0])[1]
    return pages


# -- acting as a user --------------------------------------------------------------------------


def csrf(client: TestClient) -> str:
    """The session's CSRF token, as API clients get it."""
    return client.get("/api/v1/me").json()["csrf_token"]


def post_form(
    client: TestClient, url: str, data: dict[str, str] | None = None, token: str | None = None
) -> httpx.Response:
    """Submit a form as the browser does (with the page's CSRF token); redirects not followed."""
    fields = {"csrf_token": csrf(client) if token is None else token, **(data or {})}
    return client.post(url, data=fields, follow_redirects=False)


def api_write(
    client: TestClient,
    method: str,
    url: str,
    json: dict[str, Any] | None = None,
    token: str | None = None,
) -> httpx.Response:
    """A JSON API write with the ``X-CSRF-Token`` header from ``GET /api/v1/me``."""
    headers = {"X-CSRF-Token": csrf(client) if token is None else token}
    return client.request(method, url, json=json, headers=headers)


def sign_up(
    client: TestClient, username: str, password: str = PASSWORD, **fields: str
) -> httpx.Response:
    data = {"username": username, "password": password, "password2": password, **fields}
    return post_form(client, "/signup", data)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return post_form(client, "/login", {"username": username, "password": password})


def whoami(client: TestClient) -> str | None:
    return client.get("/api/v1/me").json()["username"]


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def form_fields(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's first form posting to ``action`` (what a browser sends)."""
    form = re.search(rf'<form[^>]*\baction="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert form is not None, f"no form posting to {action}"
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1)
        )
    }


def press(client: TestClient, page: str, action: str, **extra: str) -> httpx.Response:
    """Submit a form exactly as the page renders it (no JavaScript), plus ``extra`` fields."""
    return client.post(action, data={**form_fields(page, action), **extra}, follow_redirects=False)


# -- arXiv, replayed ---------------------------------------------------------------------------

ARXIV_DATA = Path(__file__).resolve().parents[1] / "data" / "arxiv_api"
ARXIV_API_PATH = "/api/query"


def serve_arxiv(server: ReplayServer) -> str:
    """Serve the recorded real arXiv answers, each chosen by the request's ``id_list``, as
    ``arxiv_replay`` in ``tests/live/conftest.py`` does; returns the API URL for ``Settings``."""
    answers: dict[str, ReplayResponse] = {}
    for path in sorted(ARXIV_DATA.glob("*.json")):
        recording = load_recording(path)
        recording.response.content_type = "application/atom+xml; charset=utf-8"
        answers[recording.query["id_list"]] = recording.response
    server.add_matcher(
        lambda request: request.path == ARXIV_API_PATH and request.query.get("id_list") in answers,
        lambda request: answers[request.query["id_list"]],
    )
    return server.url_for(ARXIV_API_PATH)
