"""Atom feeds: valid XML, the right entries in the right order, links back to our pages."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from _web_helpers import HfEntry, Site
from fastapi.testclient import TestClient

Listing = dict[date, list[HfEntry]]
NS = {"atom": "http://www.w3.org/2005/Atom"}
BASE = "http://testserver"


def parse(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    return root


def entry_ids(feed: ET.Element) -> list[str]:
    """The paper ids of the entries, in order, checking each entry's link and id."""
    ids = []
    for entry in feed.findall("atom:entry", NS):
        # Exactly one "alternate" link (Atom allows no second one of the same type): our page.
        [link] = entry.findall("atom:link", NS)
        assert link.get("rel", "alternate") == "alternate"
        page = link.get("href")
        assert page.startswith(f"{BASE}/papers/")
        assert entry.findtext("atom:id", namespaces=NS) == page
        ids.append(page.removeprefix(f"{BASE}/papers/"))
    return ids


def test_daily_feed(hf_client: TestClient, hf_listing: Listing) -> None:
    feed = parse(hf_client.get("/feeds/daily.atom"))
    assert feed.findtext("atom:title", namespaces=NS) == "paperfeed: Daily papers"
    api = hf_client.get("/api/v1/feed").json()["papers"]
    assert entry_ids(feed) == [p["id"] for p in api]
    assert sorted(entry_ids(feed)) == sorted(e.id for e in hf_listing[date(2026, 5, 5)])
    first = feed.find("atom:entry", NS)
    paper = api[0]
    assert first.findtext("atom:title", namespaces=NS) == paper["title"]
    assert first.findtext("atom:summary", namespaces=NS) == paper["abstract"]
    authors = [a.findtext("atom:name", namespaces=NS) for a in first.findall("atom:author", NS)]
    assert authors == paper["authors"][:20]
    assert first.findtext("atom:published", namespaces=NS).startswith(paper["published"][:10])
    links = {link.get("rel"): link.get("href") for link in feed.findall("atom:link", NS)}
    assert links == {"self": f"{BASE}/feeds/daily.atom", "alternate": f"{BASE}/"}
    # Every entry links to a page that exists.
    for paper_id in entry_ids(feed)[:3]:
        assert hf_client.get(f"/papers/{paper_id}").status_code == 200


def test_daily_feed_of_a_week_has_at_most_fifty_entries(hf_client: TestClient) -> None:
    feed = parse(hf_client.get("/feeds/daily.atom", params={"period": "week"}))
    api = hf_client.get("/api/v1/feed", params={"period": "week", "limit": 50}).json()
    assert api["total"] == 26  # the week of Mon 05-04: two days, 13 papers each
    assert entry_ids(feed) == [p["id"] for p in api["papers"]]
    month = parse(hf_client.get("/feeds/daily.atom", params={"period": "month"}))
    month_api = hf_client.get("/api/v1/feed", params={"period": "month", "limit": 50}).json()
    assert entry_ids(month) == [p["id"] for p in month_api["papers"]]
    assert feed.findtext("atom:title", namespaces=NS) == "paperfeed: Daily papers (week)"


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_trending_feed(hf_client: TestClient, period: str) -> None:
    feed = parse(hf_client.get("/feeds/trending.atom", params={"period": period}))
    api = hf_client.get("/api/v1/trending", params={"period": period, "limit": 50}).json()
    assert entry_ids(feed) == [p["id"] for p in api["papers"]]
    assert len(entry_ids(feed)) == min(50, api["total"])
    assert feed.findtext("atom:title", namespaces=NS) == f"paperfeed: Trending papers ({period})"


def test_search_feed_matches_the_search_api(hf_client: TestClient) -> None:
    q = 'agents "reinforcement learning" since:2026-04-27'
    feed = parse(hf_client.get("/feeds/search.atom", params={"q": q}))
    api = hf_client.get("/api/v1/search", params={"q": q, "limit": 50}).json()
    assert 0 < len(entry_ids(feed)) == min(50, api["total"])
    assert entry_ids(feed) == [r["id"] for r in api["results"]]
    top10 = hf_client.get("/api/v1/search", params={"q": q}).json()["results"]
    assert entry_ids(feed)[:10] == [r["id"] for r in top10]
    self_link = next(link for link in feed.findall("atom:link", NS) if link.get("rel") == "self")
    assert parse_qs(urlsplit(self_link.get("href")).query) == {"q": [q]}
    assert feed.findtext("atom:title", namespaces=NS) == f"paperfeed: Search: {q}"


def test_search_feed_errors(hf_client: TestClient) -> None:
    assert hf_client.get("/feeds/search.atom").status_code == 400  # no q
    bad = hf_client.get("/feeds/search.atom", params={"q": "since:2024-13"})
    assert bad.status_code == 400 and "since:2024-13 is not a date" in bad.text
    assert hf_client.get("/feeds/daily.atom", params={"period": "year"}).status_code == 400


def test_feeds_of_an_empty_install_are_valid_and_empty(empty_site: Site) -> None:
    client = empty_site.client()
    for path in ("/feeds/daily.atom", "/feeds/trending.atom"):
        feed = parse(client.get(path))
        assert feed.findall("atom:entry", NS) == []
        assert feed.findtext("atom:updated", namespaces=NS).startswith("1970-01-01")
