"""Trending (``/trending``): the documented formula, recomputed here from the listings."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from _web_helpers import USERS, HfEntry, Site, api_write, card_ids, cards, rel_link
from fastapi.testclient import TestClient

Listing = dict[date, list[HfEntry]]
SPAN = {"day": 1, "week": 7, "month": 30}


def formula(upvotes: int, age_days: int) -> float:
    """``paperfeed.community.rank``'s docstring: upvotes / (age_days + 2) ** 1.5."""
    return upvotes / (age_days + 2) ** 1.5


def first_listed(listing: Listing) -> dict[str, date]:
    first: dict[str, date] = {}
    for day in sorted(listing):
        for entry in listing[day]:
            first.setdefault(entry.id, day)
    return first


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_trending_order_follows_the_documented_formula(
    hf_client: TestClient, hf_listing: Listing, period: str
) -> None:
    reference = max(hf_listing)
    start = reference - timedelta(days=SPAN[period] - 1)
    in_window = {e.id for day, es in hf_listing.items() if start <= day for e in es}
    upvotes = {e.id: e.upvotes for es in hf_listing.values() for e in es}
    first = first_listed(hf_listing)
    data = hf_client.get("/api/v1/trending", params={"period": period, "limit": 200}).json()
    assert (data["start"], data["end"]) == (start.isoformat(), reference.isoformat())
    assert data["total"] == len(in_window)
    papers = data["papers"]
    assert sorted(p["id"] for p in papers) == sorted(in_window)
    expected = {i: formula(upvotes[i], (reference - first[i]).days) for i in in_window}
    for paper in papers:
        assert paper["upvotes"] == upvotes[paper["id"]]
        assert paper["score"] == pytest.approx(expected[paper["id"]], abs=1e-6)
    ranked = [expected[p["id"]] for p in papers]
    assert ranked == sorted(ranked, reverse=True)
    page = hf_client.get("/trending", params={"period": period})
    assert page.status_code == 200
    assert card_ids(page.text) == [p["id"] for p in papers[:20]]


def test_trending_decays_with_age(hf_client: TestClient, hf_listing: Listing) -> None:
    """The month's most upvoted paper (124, four days old) is not its top trending one."""
    month = hf_client.get("/api/v1/trending", params={"period": "month", "limit": 1}).json()
    most_upvoted = max((e for es in hf_listing.values() for e in es), key=lambda e: e.upvotes)
    top = month["papers"][0]
    assert most_upvoted.upvotes == 124 and top["upvotes"] < most_upvoted.upvotes
    assert top["id"] != most_upvoted.id
    assert top["id"] in {e.id for e in hf_listing[max(hf_listing)]}


def test_trending_page_switches_period(hf_client: TestClient, hf_listing: Listing) -> None:
    default = hf_client.get("/trending").text
    assert "<h1>Trending this week</h1>" in default
    assert '<a href="/trending?period=week" aria-current="page">' in default
    today = hf_client.get("/trending", params={"period": "day"}).text
    assert "<h1>Trending today</h1>" in today
    assert sorted(card_ids(today)) == sorted(e.id for e in hf_listing[max(hf_listing)])
    month = hf_client.get("/trending", params={"period": "month"}).text
    assert "<h1>Trending this month</h1>" in month
    assert rel_link(month, "next", within="pages") == "/trending?period=month&page=2"
    second = hf_client.get("/trending", params={"period": "month", "page": 2}).text
    assert '<ol class="ranked" start="21">' in second
    assert set(card_ids(second)).isdisjoint(card_ids(month))
    assert hf_client.get("/trending", params={"period": "year"}).status_code == 400
    assert hf_client.get("/api/v1/trending", params={"period": "year"}).status_code == 422


def test_our_votes_move_a_paper_up(site: Site) -> None:
    anonymous = site.client()
    before = anonymous.get("/api/v1/trending", params={"period": "day"}).json()["papers"]
    # The first pair our three users can reorder: a paper at most two votes behind the next.
    ahead, behind = next((a, b) for a, b in pairwise(before) if a["upvotes"] - b["upvotes"] < 3)
    needed = ahead["upvotes"] - behind["upvotes"] + 1
    for user in USERS[:needed]:
        response = api_write(site.client(user), "PUT", f"/api/v1/papers/{behind['id']}/vote")
        assert response.status_code == 200
    after = anonymous.get("/api/v1/trending", params={"period": "day"}).json()["papers"]
    order = [p["id"] for p in after]
    assert order.index(behind["id"]) < order.index(ahead["id"])
    moved = after[order.index(behind["id"])]
    assert moved["upvotes"] == behind["upvotes"] + needed
    assert moved["score"] == pytest.approx(formula(moved["upvotes"], 0), abs=1e-6)
    shown = {c.id: c.upvotes for c in cards(anonymous.get("/trending?period=day").text)}
    assert shown[behind["id"]] == behind["upvotes"] + needed
