"""The web app and JSON API through FastAPI's TestClient, on real indexed workspaces."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from _core_helpers import MATRYOSHKA, SEED_COUNT, make_workspace, paper_by_title
from fastapi.testclient import TestClient
from markupsafe import escape

from paperfeed.ingest import ingest_files
from paperfeed.sources import get_source
from paperfeed.web.app import create_app
from paperfeed.web.pages import PAGE_SIZE
from paperfeed.workspace import Workspace

CARD = re.compile(r'<h2><a href="/papers/([^"]+)">')
UPVOTES = re.compile(r"▲ (\d+)")


@pytest.fixture(scope="module")
def seeded_client(seeded_workspace: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(seeded_workspace)) as client:
        yield client


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory, hf_history_paths: list[Path]) -> Workspace:
    ws = make_workspace(tmp_path_factory.mktemp("web-daily") / "data")
    ingest_files(ws.db, get_source("hf-daily"), hf_history_paths)
    ws.indexes.sync(ws.db)
    return ws


@pytest.fixture(scope="module")
def daily_client(daily: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(daily)) as client:
        yield client


def day_links(page: str) -> tuple[list[str], list[str]]:
    """The day links of the feed's navigation: (before the heading, after it)."""
    nav = re.search(r'<nav class="days">(.*?)</nav>', page, re.S)
    assert nav is not None
    before, after = nav.group(1).split("<h1>")
    link = re.compile(r'href="/\?day=([0-9-]+)"')
    return link.findall(before), link.findall(after)


def listed(path: Path) -> dict[str, int]:
    """arXiv id -> upvotes of the entries in one saved /api/daily_papers response."""
    entries = json.loads(gzip.decompress(path.read_bytes()))
    return {e["paper"]["id"]: e["paper"]["upvotes"] for e in entries}


def days_of(paths: list[Path]) -> list[date]:
    return [date.fromisoformat(p.name.split(".")[0]) for p in paths]


# -- the daily feed ---------------------------------------------------------------------------


def test_feed_shows_the_latest_day_most_upvoted_first(
    daily_client: TestClient, hf_history_paths: list[Path]
) -> None:
    _, middle, latest = days_of(hf_history_paths)
    response = daily_client.get("/")
    assert response.status_code == 200
    page = response.text
    assert f"Daily papers · {latest}" in page
    expected = listed(hf_history_paths[-1])
    ids = CARD.findall(page)
    assert set(ids) == set(expected)
    votes = [int(v) for v in UPVOTES.findall(page)]
    assert votes == [expected[i] for i in ids]
    assert votes == sorted(votes, reverse=True)
    assert day_links(page) == ([middle.isoformat()], [])  # previous day; nothing after


def test_feed_of_an_earlier_day_links_both_ways(
    daily_client: TestClient, hf_history_paths: list[Path]
) -> None:
    first, middle, latest = days_of(hf_history_paths)
    page = daily_client.get("/", params={"day": middle.isoformat()}).text
    assert f"Daily papers · {middle}" in page
    assert set(CARD.findall(page)) == set(listed(hf_history_paths[1]))
    assert day_links(page) == ([first.isoformat()], [latest.isoformat()])
    oldest = daily_client.get("/", params={"day": first.isoformat()}).text
    assert set(CARD.findall(oldest)) == set(listed(hf_history_paths[0]))
    assert day_links(oldest) == ([], [middle.isoformat()])


def test_feed_of_a_day_without_listings_and_a_bad_day(daily_client: TestClient) -> None:
    page = daily_client.get("/", params={"day": "2020-01-01"})
    assert page.status_code == 200
    assert CARD.findall(page.text) == []
    assert "No papers listed" in page.text
    assert daily_client.get("/", params={"day": "yesterday"}).status_code == 422


def test_feed_of_a_workspace_without_listings(seeded_client: TestClient) -> None:
    page = seeded_client.get("/")
    assert page.status_code == 200
    assert "No papers listed" in page.text
    assert f"paperfeed · {SEED_COUNT} papers" in page.text  # the footer


# -- search pages -----------------------------------------------------------------------------


def test_search_page_shows_results_and_pages(seeded_client: TestClient) -> None:
    first = seeded_client.get("/search", params={"q": "vision-language pre-training"})
    assert first.status_code == 200
    ids = CARD.findall(first.text)
    assert len(ids) == PAGE_SIZE
    assert "page=2" in first.text and "page=0" not in first.text
    assert "← previous" not in first.text
    second = seeded_client.get("/search", params={"q": "vision-language pre-training", "page": 2})
    assert second.status_code == 200
    more = CARD.findall(second.text)
    assert more and not set(more) & set(ids)
    assert "← previous" in second.text


def test_search_page_puts_the_best_match_first(seeded_client: TestClient) -> None:
    page = seeded_client.get("/search", params={"q": "2D Matryoshka sentence embeddings"}).text
    assert str(escape(MATRYOSHKA)) in page
    first_card = page.split('<article class="card">')[1]
    assert MATRYOSHKA in first_card


def test_empty_search_page_invites_a_query(seeded_client: TestClient) -> None:
    page = seeded_client.get("/search")
    assert page.status_code == 200
    assert CARD.findall(page.text) == []


def test_bad_query_is_a_400_with_the_message(seeded_client: TestClient) -> None:
    response = seeded_client.get("/search", params={"q": "embeddings since:2024-13"})
    assert response.status_code == 400
    assert "since:2024-13 is not a date" in response.text
    assert 'role="alert"' in response.text


# -- paper pages ------------------------------------------------------------------------------


def test_paper_page_has_title_abstract_and_similar_papers(
    seeded_client: TestClient, seeded_workspace: Workspace
) -> None:
    paper = paper_by_title(seeded_workspace, MATRYOSHKA)
    response = seeded_client.get(f"/papers/{paper.id}")
    assert response.status_code == 200
    assert f"<h1>{escape(MATRYOSHKA)}</h1>" in response.text
    assert "Similar papers" in response.text
    similar = re.findall(r'<li><a href="/papers/([^"]+)">', response.text)
    assert len(similar) == 8 and paper.id not in similar
    assert "Starbucks: Improved Training for 2D Matryoshka Embeddings" in response.text


def test_arxiv_paper_page_accepts_a_version(daily_client: TestClient, daily: Workspace) -> None:
    paper_id = CARD.findall(daily_client.get("/").text)[0]
    response = daily_client.get(f"/papers/{paper_id}v1")
    assert response.status_code == 200
    assert f"https://arxiv.org/abs/{paper_id}" in response.text


def test_unknown_paper_is_a_404_page(seeded_client: TestClient) -> None:
    response = seeded_client.get("/papers/9999.99999")
    assert response.status_code == 404
    assert "9999.99999" in response.text
    assert "text/html" in response.headers["content-type"]


# -- JSON API ---------------------------------------------------------------------------------


def test_api_search(seeded_client: TestClient) -> None:
    response = seeded_client.get(
        "/api/v1/search", params={"q": "2D Matryoshka sentence embeddings", "limit": 3}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["query"] == "2D Matryoshka sentence embeddings"
    assert data["offset"] == 0 and data["total"] >= 3
    assert len(data["results"]) == 3
    top = data["results"][0]
    assert top["title"] == MATRYOSHKA
    assert {"id", "title", "abstract", "authors", "score"} <= set(top)
    page2 = seeded_client.get(
        "/api/v1/search",
        params={"q": "2D Matryoshka sentence embeddings", "limit": 2, "offset": 1},
    ).json()
    assert [r["id"] for r in page2["results"]] == [r["id"] for r in data["results"][1:3]]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": "embeddings since:2024-13"}, 400),
        ({"q": ""}, 400),
        ({"q": "x", "limit": 0}, 422),
        ({"q": "x", "limit": 101}, 422),
        ({}, 422),
    ],
)
def test_api_search_errors(seeded_client: TestClient, params: dict, status: int) -> None:
    response = seeded_client.get("/api/v1/search", params=params)
    assert response.status_code == status
    if status == 400:
        assert set(response.json()) == {"error"}
        assert response.json()["error"]


def test_api_paper(seeded_client: TestClient, daily_client: TestClient) -> None:
    hit = seeded_client.get("/api/v1/search", params={"q": MATRYOSHKA, "limit": 1}).json()
    paper_id = hit["results"][0]["id"]
    data = seeded_client.get(f"/api/v1/papers/{paper_id}").json()
    assert data["id"] == paper_id and data["title"] == MATRYOSHKA
    arxiv_id = CARD.findall(daily_client.get("/").text)[0]
    paper = daily_client.get(f"/api/v1/papers/{arxiv_id}").json()
    assert paper["abs_url"] == f"https://arxiv.org/abs/{arxiv_id}"
    assert paper["published"]


def test_api_unknown_paper_is_a_404_json_error(seeded_client: TestClient) -> None:
    response = seeded_client.get("/api/v1/papers/9999.99999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and "9999.99999" in body["error"]


def test_healthz(seeded_client: TestClient, daily_client: TestClient, daily: Workspace) -> None:
    assert seeded_client.get("/healthz").json() == {"status": "ok", "papers": SEED_COUNT}
    health = daily_client.get("/healthz").json()
    assert health["status"] == "ok" and health["papers"] == daily.indexes.lexical.num_docs


def test_openapi_lists_the_api(seeded_client: TestClient) -> None:
    paths = seeded_client.get("/openapi.json").json()["paths"]
    assert "/api/v1/search" in paths
    assert "/api/v1/papers/{paper_id}" in paths
    assert "/healthz" not in paths
