"""The daily feed (``/``): days, weeks and months of real Hugging Face listings."""

from __future__ import annotations

import json
from datetime import date
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from _web_helpers import (
    ARXIV_DATA,
    HfEntry,
    Site,
    alert,
    all_pages,
    card_ids,
    cards,
    page_of,
    rel_link,
)
from fastapi.testclient import TestClient

from paperfeed.catalog.ingest import ingest_files
from paperfeed.formats import get_format

Listing = dict[date, list[HfEntry]]


def listed_between(listing: Listing, start: date, end: date) -> dict[str, HfEntry]:
    return {e.id: e for day, entries in listing.items() if start <= day <= end for e in entries}


def day_link(page: str, rel: str) -> dict[str, str] | None:
    """The query of the previous/next period link above the feed."""
    href = rel_link(page, rel, within="days")
    if href is None:
        return None
    return {k: v[0] for k, v in parse_qs(urlsplit(unescape(href)).query).items()}


def summary_count(page: str) -> int:
    start = page.index('<p class="summary">') + len('<p class="summary">')
    return int(page[start:].split(" papers", 1)[0])


def test_feed_shows_the_latest_day_most_upvoted_first(
    hf_client: TestClient, hf_listing: Listing
) -> None:
    latest = max(hf_listing)
    hf = {e.id: e for e in hf_listing[latest]}
    page = hf_client.get("/")
    assert page.status_code == 200
    assert f"Daily papers · {latest:%a %d %b %Y}" in page.text
    shown = cards(page.text)
    assert sorted(c.id for c in shown) == sorted(hf)
    assert [c.upvotes for c in shown] == [hf[c.id].upvotes for c in shown]
    # Hugging Face lists a day most upvoted first too: the same sequence of counts.
    assert [c.upvotes for c in shown] == [e.upvotes for e in hf_listing[latest]]
    # Equal counts: the more recently published first.
    keys = [(c.upvotes, c.published) for c in shown]
    assert keys == sorted(keys, reverse=True)
    assert [c.published for c in shown] == [hf[c.id].published for c in shown]
    assert summary_count(page.text) == len(hf)


def test_day_links_walk_through_every_listed_day(
    hf_client: TestClient, hf_listing: Listing
) -> None:
    days = sorted(hf_listing)
    seen: list[date] = []
    query: dict[str, str] | None = {}
    while query is not None:
        page = hf_client.get("/", params=query).text
        day = date.fromisoformat(query.get("day", days[-1].isoformat()))
        assert f"Daily papers · {day:%a %d %b %Y}" in page
        assert sorted(card_ids(page)) == sorted(e.id for e in hf_listing[day])
        seen.append(day)
        query = day_link(page, "prev")
        if query is not None:
            assert query["period"] == "day" and query["sort"] == "votes"
    assert seen == days[::-1]
    assert day_link(hf_client.get("/").text, "next") is None  # nothing after the latest day
    forward, query = [], {"day": days[0].isoformat()}
    while query is not None:
        forward.append(date.fromisoformat(query["day"]))
        query = day_link(hf_client.get("/", params=query).text, "next")
    assert forward == days


def test_a_day_without_listings_says_so_and_links_to_its_neighbours(
    hf_client: TestClient,
) -> None:
    saturday = hf_client.get("/", params={"day": "2026-04-25"})
    assert saturday.status_code == 200
    assert card_ids(saturday.text) == []
    assert "No papers were listed on this day." in saturday.text
    assert day_link(saturday.text, "prev")["day"] == "2026-04-24"
    assert day_link(saturday.text, "next")["day"] == "2026-04-27"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"day": "yesterday"}, "day"),
        ({"day": "2026-02-30"}, "day"),
        ({"period": "year"}, "period"),
        ({"sort": "hot"}, "sort"),
        ({"page": "0"}, "page"),
    ],
)
def test_bad_feed_parameters_are_a_400_naming_the_field(
    hf_client: TestClient, params: dict[str, str], field: str
) -> None:
    response = hf_client.get("/", params=params)
    assert response.status_code == 400
    message = alert(response.text)
    assert message is not None and message.startswith(f"{field}:")


def test_week_view_holds_every_day_of_the_week_and_no_other(
    hf_client: TestClient, hf_listing: Listing
) -> None:
    # Wednesday 2026-04-29: the week is Mon 04-27 .. Sun 05-03 (listings Mon to Fri).
    expected = listed_between(hf_listing, date(2026, 4, 27), date(2026, 5, 3))
    assert {e.day for e in expected.values()} == {date(2026, 4, d) for d in (27, 28, 29, 30)} | {
        date(2026, 5, 1)
    }
    pages = all_pages(hf_client, "/", {"day": "2026-04-29", "period": "week"})
    shown = [c for page in pages for c in cards(page)]
    assert sorted(c.id for c in shown) == sorted(expected)  # each paper once, none missing
    assert [c.upvotes for c in shown] == sorted((c.upvotes for c in shown), reverse=True)
    assert all(c.upvotes == expected[c.id].upvotes for c in shown)
    first = pages[0]
    assert "Papers of the week · 2026-04-27 – 2026-05-03" in first
    assert summary_count(first) == len(expected) == 75
    assert page_of(first) == (1, 4)
    assert day_link(first, "prev") == {"day": "2026-04-24", "period": "week", "sort": "votes"}
    assert day_link(first, "next") == {"day": "2026-05-04", "period": "week", "sort": "votes"}


def test_month_view_holds_every_day_of_the_month(
    hf_client: TestClient, hf_listing: Listing
) -> None:
    april = listed_between(hf_listing, date(2026, 4, 1), date(2026, 4, 30))
    pages = all_pages(hf_client, "/", {"day": "2026-04-28", "period": "month"})
    assert sorted(card_ids("".join(pages))) == sorted(april)
    assert "Papers of the month · April 2026" in pages[0]
    assert day_link(pages[0], "prev") is None  # nothing listed before April
    assert day_link(pages[0], "next")["day"] == "2026-05-01"
    may = listed_between(hf_listing, date(2026, 5, 1), date(2026, 5, 31))
    may_pages = all_pages(hf_client, "/", {"day": "2026-05-04", "period": "month"})
    assert sorted(card_ids("".join(may_pages))) == sorted(may)
    assert day_link(may_pages[0], "prev")["day"] == "2026-04-30"
    assert set(april).isdisjoint(may)


def test_newest_sort_orders_by_published_date(hf_client: TestClient, hf_listing: Listing) -> None:
    week = {"day": "2026-04-29", "period": "week"}
    by_votes = card_ids("".join(all_pages(hf_client, "/", week)))
    newest = [c for page in all_pages(hf_client, "/", {**week, "sort": "new"}) for c in cards(page)]
    expected = listed_between(hf_listing, date(2026, 4, 27), date(2026, 5, 3))
    assert [c.published for c in newest] == [expected[c.id].published for c in newest]
    assert [c.published for c in newest] == sorted((c.published for c in newest), reverse=True)
    assert sorted(c.id for c in newest) == sorted(by_votes)
    assert [c.id for c in newest] != by_votes


def test_pages_split_the_list_and_keep_the_view(hf_client: TestClient) -> None:
    params = {"day": "2026-04-29", "period": "week", "sort": "new"}
    first = hf_client.get("/", params=params).text
    second = hf_client.get("/", params={**params, "page": 2}).text
    assert len(card_ids(first)) == len(card_ids(second)) == 20
    assert set(card_ids(first)).isdisjoint(card_ids(second))
    assert page_of(second) == (2, 4)
    back = urlsplit(unescape(rel_link(second, "prev", within="pages") or ""))
    assert parse_qs(back.query) == {
        "day": ["2026-04-27"],  # the week's first day: the same week
        "period": ["week"],
        "sort": ["new"],
        "page": ["1"],
    }
    assert card_ids(hf_client.get(f"/?{back.query}").text) == card_ids(first)
    api = hf_client.get("/api/v1/feed", params={**params, "limit": 20, "offset": 20}).json()
    assert [p["id"] for p in api["papers"]] == card_ids(second)


def test_a_new_install_explains_how_to_get_papers(empty_site: Site) -> None:
    client = empty_site.client()
    page = client.get("/")
    assert page.status_code == 200
    assert card_ids(page.text) == []
    assert "<code>paperfeed ingest</code>" in page.text
    assert "<code>paperfeed demo</code>" in page.text
    assert '<a href="/submit">' in page.text
    trending = client.get("/trending")
    assert trending.status_code == 200
    assert "Nothing listed in this period yet." in trending.text
    feed = client.get("/api/v1/feed").json()
    assert (feed["start"], feed["total"], feed["papers"]) == (None, 0, [])
    assert client.get("/api/daily_papers").json() == []
    assert client.get("/healthz").json() == {"status": "ok", "papers": 0}


def test_papers_without_listing_days_are_pointed_to_search(
    empty_site: Site, tmp_path: Path
) -> None:
    """Sources such as arXiv API answers carry no listing day: the feed says where they are."""
    feeds = []
    for prefix in ("id_1605.08386", "id_astro-ph_0601001", "id_0808.05394_1707.08567"):
        [recording] = ARXIV_DATA.glob(f"{prefix}_*.json")
        feeds.append(tmp_path / f"{prefix}.xml")
        feeds[-1].write_text(json.loads(recording.read_text())["body"])
    report = ingest_files(empty_site.workspace.db, get_format("arxiv-atom"), feeds)
    assert report.added == 3
    page = empty_site.client().get("/").text
    assert card_ids(page) == []
    assert "None of the 3 papers here is listed on a day yet" in page
    assert "No papers yet" not in page
