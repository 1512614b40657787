"""The caches of the web app (``paperfeed.web.cache``): pages and feeds kept per data version.

Anonymous feed and trending pages are rendered once per data version; every change that
alters what they show must show on the next request, whoever made it and however.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from _core_helpers import make_workspace
from _web_helpers import PASSWORD, HfEntry, Site, api_write, cards, post_form, press
from sqlalchemy import event, func, select

from paperfeed.catalog.ingest import ingest_files
from paperfeed.community import activity
from paperfeed.db import Paper
from paperfeed.formats import get_format
from paperfeed.web.cache import DataVersion, VersionedCache

Listing = dict[date, list[HfEntry]]
LATEST = date(2026, 5, 5)
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def shown(site: Site, url: str = "/") -> dict[str, tuple[int, int]]:
    """(upvotes, comments) per card, as a new anonymous visitor sees the page."""
    return {c.id: (c.upvotes, c.comments) for c in cards(site.client().get(url).text)}


def test_anonymous_feed_shows_a_new_vote_at_once(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[LATEST][2]
    before = shown(site)  # rendered and cached
    assert shown(site) == before
    assert api_write(site.client("bob"), "PUT", f"/api/v1/papers/{entry.id}/vote").is_success
    after = shown(site)
    assert after[entry.id] == (before[entry.id][0] + 1, before[entry.id][1])
    trending = shown(site, "/trending")
    assert trending[entry.id][0] == after[entry.id][0]


def test_anonymous_feed_shows_a_new_comment_and_a_hidden_paper(
    site: Site, hf_listing: Listing
) -> None:
    entry = hf_listing[LATEST][4]
    before = shown(site)
    bob = site.client("bob")
    assert post_form(bob, f"/papers/{entry.id}/comments", {"body": "Nice."}).status_code == 303
    assert shown(site)[entry.id][1] == before[entry.id][1] + 1
    ada = site.client("ada")  # the admin
    page = ada.get(f"/papers/{entry.id}").text
    assert press(ada, page, f"/papers/{entry.id}/hide").status_code == 303
    assert entry.id not in shown(site)
    assert entry.id not in shown(site, "/trending")


def test_anonymous_feed_shows_new_papers(
    site: Site, hf_days: list[Path], hf_history_paths: list[Path]
) -> None:
    """A later day ingested by another process's connection: the default feed moves to it."""
    later = sorted(hf_history_paths[0].parent.glob("*.json.gz"))[len(hf_days)]
    before = shown(site)
    report = ingest_files(site.workspace.db, get_format("hf-daily"), [later])
    assert report.added > 0
    after = shown(site)
    assert after and set(after) != set(before)
    with site.workspace.db.session() as session:
        total = session.scalar(select(func.count(Paper.pk)))
    assert site.client().get("/healthz").json() == {"status": "ok", "papers": total}


@pytest.mark.sqlite_only("writes with a bare sqlite3 connection")
def test_a_commit_from_outside_the_app_invalidates(site: Site, hf_listing: Listing) -> None:
    """Another process (here a bare sqlite3 connection) changing a counter is seen too."""
    entry = hf_listing[LATEST][0]
    before = shown(site)[entry.id][0]
    db_file = site.workspace.db.engine.url.database
    with sqlite3.connect(db_file) as other:
        other.execute("UPDATE papers SET votes = votes + 7 WHERE id = ?", (entry.id,))
    other.close()
    assert shown(site)[entry.id][0] == before + 7


def test_each_visitor_gets_their_own_csrf_token_in_a_cached_page(site: Site) -> None:
    first, second = site.client(), site.client()
    pages = [first.get("/").text, second.get("/").text, first.get("/").text]
    tokens = [_META_CSRF.search(p).group(1) for p in pages]  # type: ignore[union-attr]
    assert tokens[0] == tokens[2] != tokens[1]
    assert tokens[0] == first.get("/api/v1/me").json()["csrf_token"]
    assert "csrf-placeholder" not in "".join(pages)
    # The token in the cached page is the one the session checks: logging in with it works.
    login = post_form(first, "/login", {"username": "bob", "password": PASSWORD}, tokens[0])
    assert login.status_code == 303


def test_logged_in_pages_are_their_own(site: Site, hf_listing: Listing) -> None:
    """A user's own votes show on the feed even though anonymous visitors share one page."""
    entry = hf_listing[LATEST][3]
    site.client().get("/")
    bob = site.client("bob")
    api_write(bob, "PUT", f"/api/v1/papers/{entry.id}/vote")
    mine = {c.id: c.voted for c in cards(bob.get("/").text)}
    assert mine[entry.id] is True
    anonymous = {c.id: c.voted for c in cards(site.client().get("/").text)}
    assert not any(anonymous.values())


def test_healthz_counts_papers_exactly(site: Site, hf_listing: Listing) -> None:
    client = site.client()
    first = client.get("/healthz").json()["papers"]
    activity.set_paper_hidden(site.workspace, hf_listing[LATEST][0].id, True)  # still a paper
    with site.workspace.db.session() as session:
        session.delete(session.scalar(select(Paper).where(Paper.id == hf_listing[LATEST][1].id)))
    assert client.get("/healthz").json() == {"status": "ok", "papers": first - 1}


def test_data_version_moves_on_every_commit(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "data")
    version = DataVersion(ws.db)
    start = version.current()
    assert start is not None and version.current() == start  # reading changes nothing
    with ws.db.session() as session:
        session.add(Paper(id="2601.00001", title="T", title_key="t", abstract="A", source="x"))
    assert version.current() != start
    version.close()


def test_versioned_cache_is_bounded_and_versioned(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "data")
    cache = VersionedCache(DataVersion(ws.db), size=2)
    calls: list[str] = []

    def compute(key: str) -> str:
        calls.append(key)
        return key.upper()

    assert [cache.get_or_compute(k, lambda k=k: compute(k)) for k in "aab"] == ["A", "A", "B"]
    assert calls == ["a", "b"]
    cache.get_or_compute("c", lambda: compute("c"))  # evicts "a", the least recently used
    cache.get_or_compute("a", lambda: compute("a"))
    assert calls == ["a", "b", "c", "a"]
    with ws.db.session() as session:
        session.add(Paper(id="2601.00002", title="T", title_key="t", abstract="A", source="x"))
    assert len(cache) == 2  # stale entries stay until the next look-up ...
    cache.get_or_compute("a", lambda: compute("a"))
    assert calls[-1] == "a" and len(calls) == 5
    assert len(cache) == 1  # ... which drops them all: none can be served again


def test_no_version_no_caching() -> None:
    from paperfeed.db import Database

    cache = VersionedCache(DataVersion(Database("sqlite://")))
    values = iter(range(3))
    assert [cache.get_or_compute("k", lambda: next(values)) for _ in range(2)] == [0, 1]


@pytest.mark.sqlite_only("PostgreSQL's data version is one query per page")
def test_a_cached_page_asks_the_database_nothing(site: Site) -> None:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    client = site.client()
    first = client.get("/trending").text
    event.listen(site.workspace.db.engine, "before_cursor_execute", count)
    try:
        assert client.get("/trending").text == first
    finally:
        event.remove(site.workspace.db.engine, "before_cursor_execute", count)
    assert statements == []
