"""Hostile input at the web edge: every page, API call and feed answers a clear 4xx, never a 500.

Paging past ``bounds`` (20-digit page numbers and offsets included), dates outside its range,
control characters and lone surrogates in queries, JSON bodies and forms, stored text that
XML cannot carry, and subscription addresses that would reach more than one mailbox. All
against the real app over real SQLite workspaces (``conftest.py``).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date

import httpx
import pytest
from _web_helpers import HfEntry, Site, alert, csrf, post_form
from fastapi.testclient import TestClient
from sqlalchemy import update

from paperfeed import bounds
from paperfeed.db import OutboxMessage, Paper
from paperfeed.web import pages

Listing = dict[date, list[HfEntry]]
LATEST = date(2026, 5, 5)
HUGE = "9" * 20  # past every 64-bit integer
RANGE = bounds.date_range_text()
ATOM = "{http://www.w3.org/2005/Atom}"


def page_error(response: httpx.Response) -> str:
    """The message of a 400 error page."""
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    message = alert(response.text)
    assert message, response.text[:500]
    return message


def api_error(response: httpx.Response, status: int = 400) -> str:
    """The ``{"error": …}`` message of a JSON error."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    return response.json()["error"]


def post_json(client: TestClient, url: str, body: str) -> httpx.Response:
    """POST ``body`` as the raw JSON text given (httpx cannot encode a lone surrogate, but a
    JSON ``\\ud800`` escape decodes to one)."""
    headers = {"X-CSRF-Token": csrf(client), "content-type": "application/json"}
    return client.post(url, content=body.encode(), headers=headers)


# -- paging ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"/?page={HUGE}",
        f"/?page={pages.LAST_LIST_PAGE + 1}",
        f"/?period=week&sort=new&page={HUGE}",
        f"/trending?page={HUGE}",
        f"/trending?period=month&page={pages.LAST_LIST_PAGE + 1}",
    ],
)
def test_a_list_page_past_the_deepest_is_a_400_page(hf_client: TestClient, url: str) -> None:
    assert f"page: at most {pages.LAST_LIST_PAGE}" in page_error(hf_client.get(url))


@pytest.mark.parametrize("page", [HUGE, "999999999999999999", str(pages.LAST_SEARCH_PAGE + 1)])
def test_a_search_page_past_the_deepest_is_a_400_with_the_search_form(
    hf_client: TestClient, page: str
) -> None:
    response = hf_client.get("/search", params={"q": "language models", "page": page})
    assert f"page: at most {pages.LAST_SEARCH_PAGE}" in page_error(response)
    assert 'name="q"' in response.text  # the form is still there to narrow the query


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"/api/v1/search?q=model&offset={HUGE}", "1000 deep"),
        ("/api/v1/search?q=model&offset=991", "1000 deep"),
        ("/api/v1/search?q=model&offset=901&limit=100", "1000 deep"),
        (f"/api/v1/feed?offset={HUGE}", "offset: from 0 to 10000"),
        ("/api/v1/feed?offset=10001", "offset: from 0 to 10000"),
        (f"/api/v1/trending?offset={HUGE}", "offset: from 0 to 10000"),
        (f"/api/daily_papers?p={HUGE}", "p: at most 100 with limit=100"),
        ("/api/daily_papers?p=21&limit=500", "p: at most 20 with limit=500"),
    ],
)
def test_an_api_page_past_the_deepest_is_a_400_saying_so(
    hf_client: TestClient, url: str, message: str
) -> None:
    assert message in api_error(hf_client.get(url))


@pytest.mark.parametrize(
    "url",
    [
        f"/?page={pages.LAST_LIST_PAGE}",
        f"/trending?page={pages.LAST_LIST_PAGE}",
        f"/search?q=language+models&page={pages.LAST_SEARCH_PAGE}",
        "/api/v1/search?q=model&offset=990&limit=10",
        "/api/v1/search?q=cat:cs.CL&offset=900&limit=100",
        "/api/v1/feed?offset=10000",
        "/api/v1/trending?offset=10000",
        "/api/daily_papers?p=20&limit=500",
    ],
)
def test_the_deepest_page_is_served_empty(hf_client: TestClient, url: str) -> None:
    response = hf_client.get(url)
    assert response.status_code == 200, response.text[:300]


def test_pagers_offer_no_page_past_the_deepest() -> None:
    assert pages.pages_offered(10**9, pages.LAST_SEARCH_PAGE) == pages.LAST_SEARCH_PAGE
    assert pages.pages_offered(10**9, pages.LAST_LIST_PAGE) == pages.LAST_LIST_PAGE
    assert pages.pages_offered(0, pages.LAST_LIST_PAGE) == 1


def test_library_paging_is_bounded_too(site: Site) -> None:
    bob = site.client("bob")
    assert "page: at most" in page_error(bob.get(f"/library?page={HUGE}"))
    assert "offset: from 0 to 10000" in api_error(bob.get(f"/api/v1/library?offset={HUGE}"))
    assert bob.get(f"/library?page={pages.LAST_LIST_PAGE}").status_code == 200


# -- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/search?q=since:2300", "/search?q=graphs&until=1000-01", "/search?q=x+since:9999"]
)
def test_a_query_date_outside_the_range_is_a_400_naming_the_range(
    hf_client: TestClient, url: str
) -> None:
    assert RANGE in page_error(hf_client.get(url))


@pytest.mark.parametrize("url", ["/api/v1/search?q=since:2300", "/feeds/search.atom?q=until:1600"])
def test_a_query_date_outside_the_range_is_a_400_in_the_api_and_feeds(
    hf_client: TestClient, url: str
) -> None:
    response = hf_client.get(url)
    assert response.status_code == 400
    assert RANGE in response.text


@pytest.mark.parametrize(
    "url",
    [
        "/?day=9999-12-31",
        "/?day=9999-12-31&period=week",
        "/?day=0001-01-01&period=month",
        "/?day=2200-01-01&period=week",
    ],
)
def test_a_feed_day_outside_the_range_is_a_400_page(hf_client: TestClient, url: str) -> None:
    message = page_error(hf_client.get(url))
    assert message.startswith("day: ") and RANGE in message


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/feed?day=9999-12-31&period=week", "day"),
        ("/api/v1/feed?day=0001-01-01", "day"),
        ("/api/daily_papers?date=9999-12-31", "date"),
        ("/api/daily_papers?date=1000-01-01", "date"),
    ],
)
def test_an_api_day_outside_the_range_is_a_400_naming_the_parameter(
    hf_client: TestClient, url: str, name: str
) -> None:
    message = api_error(hf_client.get(url))
    assert message.startswith(f"{name}: ") and RANGE in message


@pytest.mark.parametrize(
    "url",
    [
        "/?day=2199-12-31&period=month",
        "/?day=1678-01-01&period=week",
        "/api/v1/feed?day=2199-12-31&period=week",
        "/api/daily_papers?date=1678-01-01",
    ],
)
def test_days_at_the_edges_of_the_range_are_served(hf_client: TestClient, url: str) -> None:
    assert hf_client.get(url).status_code == 200


# -- queries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        "\x01",
        "\x00\x00",
        '"',
        'author:""',
        "cat:",
        "--",
        '"-"',
        "+ - && || ! ( ) { } [ ] ^ ~ * ? : \\ /",
        "\U0001f600",
        "x" * 1001,
    ],
)
def test_a_hostile_query_is_answered_or_refused_never_a_500(hf_client: TestClient, q: str) -> None:
    for url in ("/search", "/api/v1/search", "/feeds/search.atom"):
        response = hf_client.get(url, params={"q": q})
        assert response.status_code in (200, 400), (url, q, response.text[:300])


def test_control_characters_in_a_query_are_dropped(hf_client: TestClient) -> None:
    clean = hf_client.get("/api/v1/search", params={"q": "language models", "mode": "lexical"})
    dirty = hf_client.get(
        "/api/v1/search", params={"q": "lang\x01uage\x00 models", "mode": "lexical"}
    )
    assert dirty.status_code == 200
    ids = [r["id"] for r in dirty.json()["results"]]
    assert ids and ids == [r["id"] for r in clean.json()["results"]]


# -- Atom feeds -----------------------------------------------------------------------------


def atom(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text[:300]
    return ET.fromstring(response.content)


def test_a_control_character_in_the_search_feed_query_is_dropped(hf_client: TestClient) -> None:
    assert hf_client.get("/feeds/search.atom", params={"q": "\x01"}).status_code == 400
    feed = atom(hf_client.get("/feeds/search.atom", params={"q": "language\x01 models\x1b"}))
    assert feed.findtext(f"{ATOM}title", "").endswith("Search: language models")
    assert feed.findall(f"{ATOM}entry")
    [self_link] = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link.get("href", "").endswith("?q=language+models")


@pytest.mark.sqlite_only("PostgreSQL text cannot hold the NUL this test stores")
def test_stored_text_that_xml_cannot_carry_does_not_take_the_feeds_down(
    site: Site, hf_listing: Listing
) -> None:
    paper = hf_listing[LATEST][0]
    with site.workspace.db.session() as session:
        session.execute(
            update(Paper)
            .where(Paper.id == paper.id)
            .values(
                title=f"Bad\x01 {paper.title}\x0b",
                abstract="an\x00 abstract\x1f with\x7f junk\x85",
                authors=["Ada\x08 Lovelace", "\x02"],
                categories=["cs.\x07CL", "\x03"],
            )
        )
    client = site.client()
    for url in (
        "/feeds/daily.atom",
        "/feeds/trending.atom",
        "/feeds/search.atom?" + httpx.QueryParams({"q": paper.title}).__str__(),
    ):
        feed = atom(client.get(url))
        entries = {
            e.findtext(f"{ATOM}id", "").rsplit("/", 1)[-1]: e for e in feed.findall(f"{ATOM}entry")
        }
        entry = entries[paper.id.rsplit("/", 1)[-1]]
        assert entry.findtext(f"{ATOM}title") == f"Bad {paper.title}"
        assert entry.findtext(f"{ATOM}summary") == "an abstract with junk"
        authors = [a.findtext(f"{ATOM}name") for a in entry.findall(f"{ATOM}author")]
        assert authors == ["Ada Lovelace"]
        assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["cs.CL"]


# -- JSON bodies ----------------------------------------------------------------------------


@pytest.fixture
def paper(hf_listing: Listing) -> HfEntry:
    return hf_listing[LATEST][1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"body": "\\ud800"}', "body"),
        ('{"body": "fine \\udfff text"}', "body"),
        ('{"body": "a\\u0001b"}', "body"),
        ('{"body": "bell \\u0007"}', "body"),
    ],
)
def test_a_comment_with_unprintable_text_is_a_400_naming_the_field(
    site: Site, paper: HfEntry, body: str, field: str
) -> None:
    bob = site.client("bob")
    response = post_json(bob, f"/api/v1/papers/{paper.id}/comments", body)
    assert api_error(response).startswith(f"{field}: ")
    assert bob.get(f"/api/v1/papers/{paper.id}/comments").json() == []


def test_a_comment_keeps_tabs_and_newlines(site: Site, paper: HfEntry) -> None:
    bob = site.client("bob")
    response = post_json(bob, f"/api/v1/papers/{paper.id}/comments", '{"body": "a\\tb\\r\\nc"}')
    assert response.status_code == 201
    assert response.json()["body"].replace("\r\n", "\n") == "a\tb\nc"


def test_a_too_long_comment_is_refused_by_the_api_naming_the_field(
    site: Site, paper: HfEntry
) -> None:
    bob = site.client("bob")
    body = json.dumps({"body": "x" * 10_001})
    response = post_json(bob, f"/api/v1/papers/{paper.id}/comments", body)
    assert response.status_code == 422
    assert response.json()["error"].startswith("body: ")


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ('{"ref": "\\ud800"}', "ref", 400),
        ('{"ref": "2401.\\u000012345"}', "ref", 400),
        (json.dumps({"ref": "x" * 301}), "ref", 422),
    ],
)
def test_a_hostile_submission_is_refused_naming_the_field(
    site: Site, body: str, field: str, status: int
) -> None:
    response = post_json(site.client("bob"), "/api/v1/submit", body)
    assert api_error(response, status).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ('{"kind": "search", "query": "\\ud800 graphs"}', "query", 400),
        ('{"kind": "search", "query": "graphs\\u0000"}', "query", 400),
        ('{"kind": "\\ud800"}', "kind", 400),
        ('{"kind": "trending", "period": "\\udc00"}', "period", 400),
        ('{"kind": "trending", "email": "\\ud800@example.org"}', "email", 400),
        ('{"kind": "trending", "email": "a@example.org\\r\\nBcc: b@example.org"}', "email", 400),
        ('{"kind": "trending", "email": "Victim <victim@example.org>"}', "email", 400),
        ('{"kind": "trending", "email": "a,b@example.org"}', "email", 400),
        (json.dumps({"kind": "search", "query": "q" * 1001}), "query", 422),
        (json.dumps({"kind": "trending", "email": "a" * 250 + "@example.org"}), "email", 422),
    ],
)
def test_a_hostile_subscription_is_refused_naming_the_field(
    site: Site, body: str, field: str, status: int
) -> None:
    bob = site.client("bob")
    response = post_json(bob, "/api/v1/subscriptions", body)
    assert api_error(response, status).startswith(f"{field}: ")
    assert bob.get("/api/v1/subscriptions").json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('"\\ud800"', "body"),
        ('["\\ud800"]', "body"),
        ('{"kind": ["trending", "\\ud800"]}', "kind"),
        ('{"\\ud800": 1}', "body"),
        ('{"kind": "trending", "extra": {"deep": [["\\u0001"]]}}', "extra"),
        ('{"kind": {"\\udfff": "trending"}}', "kind"),
    ],
)
def test_unprintable_text_anywhere_in_a_json_body_is_a_400_not_an_echo(
    site: Site, body: str, field: str
) -> None:
    """A body of the wrong shape fails validation with its raw input quoted in the 422;
    holding a lone surrogate, that answer could not be encoded (a 500)."""
    response = post_json(site.client("bob"), "/api/v1/subscriptions", body)
    assert api_error(response).startswith(f"{field}: ")


def test_a_json_body_of_the_wrong_shape_is_a_422(site: Site) -> None:
    bob = site.client("bob")
    for body in ('"trending"', "[1, 2]", '{"kind": ["trending"]}', '{"ref": 5}'):
        assert post_json(bob, "/api/v1/subscriptions", body).status_code == 422, body


# -- forms ----------------------------------------------------------------------------------


def test_a_comment_form_with_a_control_character_is_a_400(site: Site, paper: HfEntry) -> None:
    bob = site.client("bob")
    response = post_form(bob, f"/papers/{paper.id}/comments", {"body": "hi\x01"})
    assert page_error(response).startswith("body: ")
    assert bob.get(f"/api/v1/papers/{paper.id}/comments").json() == []


@pytest.mark.parametrize("ref", ["2401.12345\x00", "x" * 301])
def test_a_hostile_submit_form_is_a_400(site: Site, ref: str) -> None:
    assert "ref" in page_error(post_form(site.client("bob"), "/submit", {"ref": ref}))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "Victim <victim@example.org>"}, "email"),
        ({"email": "a,b@example.org"}, "email"),
        ({"email": "victim@example.org\x00"}, "email"),
        ({"email": "x" * 300 + "@example.org"}, "email"),
        ({"kind": "search", "query": "graphs\x01"}, "query"),
        ({"kind": "search", "query": "q" * 1001}, "query"),
    ],
)
def test_a_hostile_subscribe_form_is_a_400_and_mails_nobody(
    site: Site, fields: dict[str, str], field: str
) -> None:
    data = {"email": "reader@example.org", "kind": "trending", "period": "daily", **fields}
    response = post_form(site.client(), "/subscribe", data)
    assert field in page_error(response)
    with site.workspace.db.session() as session:
        assert session.query(OutboxMessage).count() == 0


def test_the_subscribe_form_cannot_mail_bomb_one_inbox_by_respelling_it(site: Site) -> None:
    visitor = site.client()
    spellings = ["victim@example.org", "Victim@EXAMPLE.org", "victim+1@example.org"]
    for email in spellings:
        response = post_form(visitor, "/subscribe", {"email": email, "kind": "trending"})
        assert response.status_code == 200, alert(response.text)
    for email in ["VICTIM+2@Example.Org", "victim@example.org"]:
        response = post_form(visitor, "/subscribe", {"email": email, "kind": "trending"})
        assert response.status_code == 429
        assert "3 confirmation mails in the last hour" in (alert(response.text) or "")
    with site.workspace.db.session() as session:
        sent = [row.to_addr for row in session.query(OutboxMessage).order_by(OutboxMessage.pk)]
    assert sent == ["victim@example.org", "Victim@example.org", "victim+1@example.org"]
