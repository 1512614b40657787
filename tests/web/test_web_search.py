"""The search page (``/search``): results, highlighting, filters, shareable URLs, errors."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from _web_helpers import HfEntry, alert, card_ids, cards, input_value, page_of, rel_link, tags
from fastapi.testclient import TestClient

Listing = dict[date, list[HfEntry]]
MARK = re.compile(r"<mark>(.*?)</mark>")
AUTHOR = "Franck Dernoncourt"  # the author with most papers in the eight days (four)


def entries(listing: Listing) -> dict[str, HfEntry]:
    return {e.id: e for es in listing.values() for e in es}


def api_ids(client: TestClient, q: str, **params: object) -> list[str]:
    response = client.get("/api/v1/search", params={"q": q, "limit": 20, **params})
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["results"]]


def test_search_page_lists_what_the_api_ranks(hf_client: TestClient) -> None:
    page = hf_client.get("/search", params={"q": "video generation"})
    assert page.status_code == 200
    ids = card_ids(page.text)
    assert len(ids) == 20
    assert ids == api_ids(hf_client, "video generation")
    total = hf_client.get("/api/v1/search", params={"q": "video generation"}).json()["total"]
    assert f"{total:,} matching papers for “video generation”" in page.text
    assert input_value(page.text, "q") == "video generation"


def test_a_title_search_puts_that_paper_first(hf_client: TestClient, hf_listing: Listing) -> None:
    wanted = hf_listing[date(2026, 4, 28)][0]  # the day's most upvoted paper
    page = hf_client.get("/search", params={"q": wanted.title}).text
    assert card_ids(page)[0] == wanted.id


def test_matched_words_are_marked_as_the_index_stems_them(hf_client: TestClient) -> None:
    page = hf_client.get("/search", params={"q": "embeddings"}).text
    marked = [unescape(m).lower() for m in MARK.findall(page)]
    assert "embedding" in marked  # the singular, marked for the plural asked
    assert set(marked) <= {"embedding", "embeddings", "embedded", "embed"}
    first = cards(page)[0]
    assert "<mark>" in first.html
    # Text around the marks stays escaped text; the snippet is cut to the best window.
    snippet = re.search(r'<p class="abstract">(.*?)</p>', first.html, re.S).group(1)
    assert set(re.findall(r"</?(\w+)", snippet)) <= {"mark"}
    assert len(unescape(re.sub(r"</?mark>", "", snippet)).split()) <= 62  # 60 words + "…"s


def test_words_in_a_title_are_marked_there_too(hf_client: TestClient) -> None:
    page = hf_client.get("/search", params={"q": "reasoning agents"}).text
    titles = re.findall(r'<h2><a href="/papers/[^"]+">(.*?)</a></h2>', page)
    assert any("<mark>" in title for title in titles)
    # Stemmed, inside compounds too: "Reasoner", "agentic", "multi-agent".
    marked = {unescape(m).lower() for m in MARK.findall(page)}
    assert {"reasoning", "agents", "agent"} <= marked
    assert all("reason" in m or "agent" in m for m in marked)


def test_author_filter_field_equals_the_query_syntax(
    hf_client: TestClient, hf_listing: Listing
) -> None:
    theirs = sorted(e.id for e in entries(hf_listing).values() if AUTHOR in e.authors)
    assert len(theirs) == 4
    by_field = card_ids(hf_client.get("/search", params={"author": AUTHOR}).text)
    by_syntax = card_ids(hf_client.get("/search", params={"q": f'author:"{AUTHOR}"'}).text)
    assert sorted(by_field) == theirs
    assert by_field == by_syntax
    ranked = card_ids(hf_client.get("/search", params={"q": "language", "author": AUTHOR}).text)
    assert ranked == card_ids(
        hf_client.get("/search", params={"q": f'language author:"{AUTHOR}"'}).text
    )
    assert ranked and set(ranked) <= set(theirs)


def test_date_filter_fields_equal_the_query_syntax(
    hf_client: TestClient, hf_listing: Listing
) -> None:
    known = entries(hf_listing)
    fields = {"q": "reasoning", "since": "2026-04-28", "until": "2026-04-29"}
    by_field = card_ids(hf_client.get("/search", params=fields).text)
    by_syntax = card_ids(
        hf_client.get("/search", params={"q": "reasoning since:2026-04-28 until:2026-04-29"}).text
    )
    assert by_field == by_syntax
    assert by_field
    assert {known[i].published for i in by_field} <= {date(2026, 4, 28), date(2026, 4, 29)}
    unfiltered = card_ids(hf_client.get("/search", params={"q": "reasoning"}).text)
    assert {known[i].published for i in unfiltered} - {date(2026, 4, 28), date(2026, 4, 29)}


def test_category_filter_field_equals_the_query_syntax(arxiv_cs_client: TestClient) -> None:
    by_field = card_ids(arxiv_cs_client.get("/search", params={"q": "model", "cat": "cs.CV"}).text)
    by_syntax = card_ids(arxiv_cs_client.get("/search", params={"q": "model cat:cs.CV"}).text)
    assert by_field == by_syntax
    assert by_field
    for paper_id in by_field:
        paper = arxiv_cs_client.get(f"/api/v1/papers/{paper_id}").json()
        assert "cs.CV" in paper["categories"]
    unfiltered = api_ids(arxiv_cs_client, "model")
    others = [
        i
        for i in unfiltered
        if "cs.CV" not in arxiv_cs_client.get(f"/api/v1/papers/{i}").json()["categories"]
    ]
    assert others  # the filter removed something
    tag = arxiv_cs_client.get("/search", params={"cat": "cs.CV"}).text
    assert sorted(card_ids(tag)) == sorted(api_ids(arxiv_cs_client, "cat:cs.CV", limit=100))


def test_a_search_url_round_trips_into_the_form_and_its_pages(hf_client: TestClient) -> None:
    fields = {"q": "language models", "since": "2026-04-27", "until": "2026-05-05"}
    first = hf_client.get("/search", params={**fields, "mode": "lexical"}).text
    for name, value in fields.items():
        assert input_value(first, name) == value
    assert '<option value="lexical" selected>' in first
    number, pages = page_of(first)
    assert number == 1 and pages >= 2
    following = urlsplit(unescape(rel_link(first, "next", within="pages") or ""))
    assert following.path == "/search"
    assert parse_qs(following.query) == {
        **{k: [v] for k, v in fields.items()},
        "mode": ["lexical"],
        "page": ["2"],
    }
    second = hf_client.get(f"/search?{following.query}").text
    assert page_of(second) == (2, pages)
    assert card_ids(second) == api_ids(
        hf_client, "language models since:2026-04-27 until:2026-05-05", mode="lexical", offset=20
    )
    assert set(card_ids(second)).isdisjoint(card_ids(first))
    back = urlsplit(unescape(rel_link(second, "prev", within="pages") or ""))
    assert card_ids(hf_client.get(f"/search?{back.query}").text) == card_ids(first)
    # Hybrid is the default and stays out of shared URLs.
    hybrid = hf_client.get("/search", params=fields).text
    assert "mode=" not in (rel_link(hybrid, "next", within="pages") or "mode=")


def test_results_link_an_atom_feed_of_the_same_search(hf_client: TestClient) -> None:
    page = hf_client.get("/search", params={"q": "agents", "author": AUTHOR}).text
    feeds = [a["href"] for a in tags(page, "link") if a.get("type") == "application/atom+xml"]
    expected = "/feeds/search.atom?" + urlencode({"q": f'agents author:"{AUTHOR}"'})
    assert expected.replace("+", "%20") in [unescape(f or "") for f in feeds]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "agents since:2024-13"}, "since:2024-13 is not a date; use YYYY, YYYY-MM or"),
        ({"q": "agents", "since": "2026-13-01"}, "since:2026-13-01 is not a date"),
        ({"q": "agents", "since": "2026-05", "until": "2026-04"}, "since:2026-05-01 is after"),
        ({"q": "agents", "mode": "fuzzy"}, "unknown search mode 'fuzzy'; use one of hybrid"),
        ({"q": "-author:someone agents"}, "'-author:' is not supported"),
        ({"q": "agent" * 2001}, "query is too long (10,005 characters; at most 10,000)"),
    ],
)
def test_a_bad_query_is_a_400_that_says_what_is_wrong(
    hf_client: TestClient, params: dict[str, str], message: str
) -> None:
    response = hf_client.get("/search", params=params)
    assert response.status_code == 400
    shown = alert(response.text)
    assert shown is not None and shown.startswith(message)
    assert input_value(response.text, "q") == params["q"]  # the query is kept to fix
    assert card_ids(response.text) == []


def test_the_empty_search_page_shows_how_to_search(hf_client: TestClient) -> None:
    for params in ({}, {"q": "   "}):
        page = hf_client.get("/search", params=params)
        assert page.status_code == 200
        assert card_ids(page.text) == []
        assert "cat:cs.CV" in page.text and "Some examples" in page.text
        assert "matching paper" not in page.text and alert(page.text) is None


def matches_of(page: str) -> list[str]:
    """The ids of the result cards, not those offered as nearest by meaning."""
    return card_ids(page.split('<section class="nearest"', 1)[0])


def nearest_of(page: str) -> list[str]:
    """The ids of the cards offered as nearest by meaning (not matches)."""
    parts = page.split('<section class="nearest"', 1)
    return card_ids(parts[1].split("</section>", 1)[0]) if len(parts) == 2 else []


def test_no_results_suggests_what_to_change(hf_client: TestClient) -> None:
    lexical = hf_client.get("/search", params={"q": "qwzxvbnm", "mode": "lexical"}).text
    assert matches_of(lexical) == []
    assert "No papers match “qwzxvbnm”" in lexical
    assert "No papers match." in lexical
    assert 'href="/search?q=qwzxvbnm&amp;mode=hybrid&amp;page=1">search by meaning too' in lexical
    filtered = hf_client.get("/search", params={"q": "agents", "until": "1990"}).text
    assert matches_of(filtered) == [] and nearest_of(filtered) == []  # none pass the filter
    assert "or remove a filter" in filtered


def test_markup_in_a_query_is_shown_as_text(hf_client: TestClient) -> None:
    page = hf_client.get("/search", params={"q": '<script>alert("x")</script> agents'}).text
    assert '<script>alert("x")' not in page
    assert "&lt;script&gt;alert(" in page


def test_nonsense_matches_nothing_and_shows_the_nearest_by_meaning_apart(
    hf_client: TestClient,
) -> None:
    page = hf_client.get("/search", params={"q": "xyzzy plugh"}).text
    assert matches_of(page) == []
    assert "No papers match “xyzzy plugh”" in page and "Nearest by meaning" in page
    api = hf_client.get("/api/v1/search", params={"q": "xyzzy plugh"}).json()
    assert (api["total"], api["results"], api["next_offset"]) == (0, [], None)
    assert nearest_of(page) == [p["id"] for p in api["nearest"]] and len(api["nearest"]) == 5
    assert page_of(page) == (1, 1) and rel_link(page, "next", within="pages") is None


def test_the_count_is_of_matches_and_the_last_page_offers_no_next(hf_client: TestClient) -> None:
    query = "video diffusion"
    first = hf_client.get("/api/v1/search", params={"q": query, "limit": 100}).json()
    total = first["total"]
    assert first["total_exact"] and 20 < total < 1000
    page = hf_client.get("/search", params={"q": query}).text
    number, pages = page_of(page)
    assert (number, pages) == (1, -(-total // 20))
    last = hf_client.get("/search", params={"q": query, "page": pages}).text
    assert f"{total:,} matching papers" in last
    assert len(matches_of(last)) == total - 20 * (pages - 1)
    assert rel_link(last, "next", within="pages") is None
    end = hf_client.get(
        "/api/v1/search", params={"q": query, "limit": 10, "offset": total - 10}
    ).json()
    assert (end["total"], len(end["results"]), end["next_offset"]) == (total, 10, None)
    before_end = hf_client.get(
        "/api/v1/search", params={"q": query, "limit": 10, "offset": total - 11}
    ).json()
    assert before_end["next_offset"] == total - 1
