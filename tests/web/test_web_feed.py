"""The daily feed (``/``): days, weeks and months of real Hugging Face listings."""

from __future__ import annotations

import json
import re
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
from paperfeed.community import activity
from paperfeed.formats import get_format

Listing = dict[date, list[HfEntry]]


def listed_between(listing: Listing, start: date, end: date) -> dict[str, HfEntry]:
    return {e.id: e for day, entries in listing.items() if start <= day <= end for e in entries}


def day_link(page: str, rel: str) -> dict[str, str] | None:
    """The query of the previous/next period link above the feed."""
    href = day_href(page, rel)
    if href is None:
        return None
    return {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}


def day_href(page: str, rel: str) -> str | None:
    """The URL of the previous/next period link above the feed."""
    href = rel_link(page, rel, within="days")
    return None if href is None else unescape(href)


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
        if query is not None:  # a bookmarkable URL: the day alone, the defaults left out
            assert day_href(page, "prev") == f"/?day={query['day']}"
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
    pages = all_pages(hf_client, "/week/2026-W18")
    shown = [c for page in pages for c in cards(page)]
    assert sorted(c.id for c in shown) == sorted(expected)  # each paper once, none missing
    assert [c.upvotes for c in shown] == sorted((c.upvotes for c in shown), reverse=True)
    assert all(c.upvotes == expected[c.id].upvotes for c in shown)
    first = pages[0]
    assert "Papers of the week · 2026-04-27 – 2026-05-03" in first
    assert summary_count(first) == len(expected) == 75
    assert page_of(first) == (1, 4)
    assert day_href(first, "prev") == "/week/2026-W17"
    assert day_href(first, "next") == "/week/2026-W19"
    # Older links and the date picker name a day and a period: they land on the week's URL.
    old = hf_client.get("/", params={"day": "2026-04-29", "period": "week"}, follow_redirects=False)
    assert old.status_code == 303 and old.headers["location"] == "/week/2026-W18"


def test_month_view_holds_every_day_of_the_month(
    hf_client: TestClient, hf_listing: Listing
) -> None:
    april = listed_between(hf_listing, date(2026, 4, 1), date(2026, 4, 30))
    pages = all_pages(hf_client, "/month/2026-04")
    assert sorted(card_ids("".join(pages))) == sorted(april)
    assert "Papers of the month · April 2026" in pages[0]
    assert day_href(pages[0], "prev") is None  # nothing listed before April
    assert day_href(pages[0], "next") == "/month/2026-05"
    may = listed_between(hf_listing, date(2026, 5, 1), date(2026, 5, 31))
    may_pages = all_pages(hf_client, "/month/2026-05")
    assert sorted(card_ids("".join(may_pages))) == sorted(may)
    assert day_href(may_pages[0], "prev") == "/month/2026-04"
    assert card_ids("".join(all_pages(hf_client, "/month"))) == card_ids("".join(may_pages))
    assert set(april).isdisjoint(may)


def test_newest_sort_orders_by_published_date(hf_client: TestClient, hf_listing: Listing) -> None:
    by_votes = card_ids("".join(all_pages(hf_client, "/week/2026-W18")))
    newest = [c for page in all_pages(hf_client, "/week/2026-W18?sort=new") for c in cards(page)]
    expected = listed_between(hf_listing, date(2026, 4, 27), date(2026, 5, 3))
    assert [c.published for c in newest] == [expected[c.id].published for c in newest]
    assert [c.published for c in newest] == sorted((c.published for c in newest), reverse=True)
    assert sorted(c.id for c in newest) == sorted(by_votes)
    assert [c.id for c in newest] != by_votes


def test_pages_split_the_list_and_keep_the_view(hf_client: TestClient) -> None:
    params = {"day": "2026-04-29", "period": "week", "sort": "new"}
    first = hf_client.get("/week/2026-W18?sort=new").text
    second = hf_client.get("/week/2026-W18?sort=new&page=2").text
    assert len(card_ids(first)) == len(card_ids(second)) == 20
    assert set(card_ids(first)).isdisjoint(card_ids(second))
    assert page_of(second) == (2, 4)
    back = unescape(rel_link(second, "prev", within="pages") or "")
    assert back == "/week/2026-W18?sort=new"  # the same week and sort; page 1 left out
    assert card_ids(hf_client.get(back).text) == card_ids(first)
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


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/week/2026-W54", "week"),
        ("/week/2026-18", "week"),
        ("/week/0000-W01", "week"),
        ("/week/9999-W52", "week"),
        ("/month/2026-13", "month"),
        ("/month/April", "month"),
        ("/month/2026-04-01", "month"),
        ("/month/\uff12\uff10\uff12\uff16-04", "month"),  # fullwidth digits
        ("/?day=0001-01-01", "day"),
        ("/?day=9999-12-31&period=week", "day"),
    ],
)
def test_bad_weeks_and_months_are_a_clear_400(hf_client: TestClient, path: str, field: str) -> None:
    response = hf_client.get(path, follow_redirects=False)
    assert response.status_code == 400, response.text
    message = alert(response.text)
    assert message is not None and message.startswith(f"{field}:"), message


def test_the_date_picker_spans_the_listed_days_and_lands_on_the_period(
    hf_client: TestClient, hf_listing: Listing
) -> None:
    first, last = min(hf_listing), max(hf_listing)
    page = hf_client.get("/week/2026-W18").text
    picker = re.search(
        r'<form class="date-picker" action="/" method="get">(.*?)</form>', page, re.S
    )
    assert picker is not None
    assert '<input type="hidden" name="period" value="week">' in picker.group(1)
    day = re.search(r'<input id="feed-day" name="day" type="date"[^>]*>', picker.group(1))
    assert day is not None
    assert f'min="{first}"' in day.group(0) and f'max="{last}"' in day.group(0)
    assert 'value="2026-04-27"' in day.group(0)
    # What the browser sends when a day is picked in the week view: that day's week.
    landed = hf_client.get("/", params={"period": "week", "day": "2026-05-06"})
    assert landed.url.path == "/week/2026-W19" and landed.status_code == 200
    assert "Papers of the week · 2026-05-04 – 2026-05-10" in landed.text


def test_day_links_skip_days_whose_papers_are_all_hidden(site: Site, hf_listing: Listing) -> None:
    """A link never leads to an empty page: a day listing only hidden papers is skipped."""
    days = sorted(hf_listing)
    before, hidden_day, after = days[-3], days[-2], days[-1]
    ids = [e.id for e in hf_listing[hidden_day]]
    for paper_id in ids:
        activity.set_paper_hidden(site.workspace, paper_id, True)
    client = site.client()
    page = client.get("/", params={"day": after.isoformat()}).text
    assert day_href(page, "prev") == f"/?day={before}"
    assert day_href(client.get("/", params={"day": before.isoformat()}).text, "next") == (
        f"/?day={after}"
    )


def test_date_is_a_synonym_of_day_as_on_hugging_face(hf_client: TestClient) -> None:
    moved = hf_client.get("/", params={"date": "2026-04-29"}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/?day=2026-04-29"
    bad = hf_client.get("/", params={"date": "2026-02-30"})
    assert bad.status_code == 400 and (alert(bad.text) or "").startswith("date:")
