"""The JSON API (``/api/v1``), its OpenAPI description, and the Hugging Face-compatible API."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest
from _web_helpers import HfEntry, Site, api_write, csrf, day_of, parse_iso
from fastapi.testclient import TestClient

Listing = dict[date, list[HfEntry]]
LATEST = date(2026, 5, 5)
PAPER_FIELDS = {
    "id", "title", "abstract", "authors", "categories", "published", "abs_url", "pdf_url",
    "code_url", "upvotes", "num_comments", "voted", "saved",
    # What Hugging Face says of it (test_web_hf_details.py)
    "github_stars", "project_page", "ai_summary", "ai_keywords", "organization",
    "organization_name", "submitter", "thumbnail", "media",
}  # fmt: skip


def test_feed(hf_client: TestClient, hf_listing: Listing) -> None:
    data = hf_client.get("/api/v1/feed").json()
    assert {k: data[k] for k in ("period", "start", "end", "previous", "next", "total")} == {
        "period": "day",
        "start": "2026-05-05",
        "end": "2026-05-05",
        "previous": "2026-05-04",
        "next": None,
        "total": 13,
    }
    hf = hf_listing[LATEST]
    assert {p["id"]: p["upvotes"] for p in data["papers"]} == {e.id: e.upvotes for e in hf}
    assert [p["upvotes"] for p in data["papers"]] == [e.upvotes for e in hf]  # ties aside
    first, entry = data["papers"][0], hf[0]
    assert set(first) == PAPER_FIELDS | {"score"}
    assert (first["title"], first["abstract"], first["authors"]) == (
        entry.title,
        entry.summary,
        entry.authors,
    )
    assert parse_iso(first["published"]).date() == entry.published
    assert first["abs_url"] == f"https://arxiv.org/abs/{entry.id}"
    assert (first["voted"], first["saved"], first["score"]) == (False, False, None)
    week = hf_client.get(
        "/api/v1/feed", params={"day": "2026-04-30", "period": "week", "limit": 10, "offset": 70}
    ).json()
    assert (week["start"], week["end"], week["total"]) == ("2026-04-27", "2026-05-03", 75)
    assert (week["previous"], week["next"]) == ("2026-04-24", "2026-05-04")
    assert len(week["papers"]) == 5  # 75 papers, from the 71st
    newest = hf_client.get("/api/v1/feed", params={"sort": "new", "limit": 200}).json()
    published = [p["published"] for p in newest["papers"]]
    assert published == sorted(published, reverse=True)
    empty_day = hf_client.get("/api/v1/feed", params={"day": "2026-04-26"}).json()
    assert (empty_day["total"], empty_day["papers"]) == (0, [])


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/feed", {"day": "yesterday"}, "day"),
        ("/api/v1/feed", {"period": "year"}, "period"),
        ("/api/v1/feed", {"sort": "hot"}, "sort"),
        ("/api/v1/feed", {"limit": 0}, "limit"),
        ("/api/v1/feed", {"limit": 201}, "limit"),
        ("/api/v1/feed", {"offset": -1}, "offset"),
        ("/api/v1/trending", {"period": "decade"}, "period"),
        ("/api/v1/trending", {"limit": 201}, "limit"),
        ("/api/v1/search", {}, "q"),
        ("/api/v1/search", {"q": "x", "limit": 101}, "limit"),
        ("/api/v1/search", {"q": "x", "mode": "fuzzy"}, "mode"),
        ("/api/v1/papers/2604.25917/similar", {"limit": 51}, "limit"),
        ("/api/v1/library", {"limit": 0}, "limit"),
        ("/api/daily_papers", {"date": "2026-5-5x"}, "date"),
        ("/api/daily_papers", {"p": -1}, "p"),
    ],
)
def test_invalid_parameters_are_a_422_naming_them(
    hf_client: TestClient, path: str, params: dict[str, object], field: str
) -> None:
    response = hf_client.get(path, params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["error"].startswith(f"{field}: ")
    assert body["detail"][0]["loc"][-1] == field


def test_search(hf_client: TestClient, hf_listing: Listing) -> None:
    entry = hf_listing[date(2026, 4, 30)][0]
    data = hf_client.get("/api/v1/search", params={"q": entry.title, "limit": 3}).json()
    assert (data["query"], data["mode"], data["offset"]) == (entry.title, "hybrid", 0)
    assert data["total"] >= 3 and len(data["results"]) == 3
    top = data["results"][0]
    assert (top["id"], top["title"]) == (entry.id, entry.title)
    assert set(top) == PAPER_FIELDS | {"score"}
    scores = [r["score"] for r in data["results"]]
    assert scores == sorted(scores, reverse=True)
    shifted = hf_client.get(
        "/api/v1/search", params={"q": entry.title, "limit": 2, "offset": 1}
    ).json()
    assert [r["id"] for r in shifted["results"]] == [r["id"] for r in data["results"][1:]]
    assert data["next_offset"] == 3 and data["nearest"] == []
    lexical = hf_client.get("/api/v1/search", params={"q": "qwzxvbnm", "mode": "lexical"}).json()
    assert (lexical["total"], lexical["results"]) == (0, [])
    assert all(set(p) == PAPER_FIELDS | {"score"} for p in lexical["nearest"])
    assert lexical["nearest"], "nothing matches: the nearest by meaning are offered apart"


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("agents since:2024-13", "since:2024-13 is not a date"),
        ("", "empty query: type some words, or a filter such as cat:cs.CL"),
        ("  ...  ", "empty query"),
    ],
)
def test_a_bad_search_is_a_400_with_the_reason(hf_client: TestClient, q: str, message: str) -> None:
    response = hf_client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert list(response.json()) == ["error"]
    assert response.json()["error"].startswith(message)


def test_paper_and_similar(hf_client: TestClient, hf_listing: Listing) -> None:
    entry = hf_listing[date(2026, 4, 27)][0]  # 101 upvotes
    paper = hf_client.get(f"/api/v1/papers/{entry.id}").json()
    assert set(paper) == PAPER_FIELDS
    assert (paper["id"], paper["title"], paper["upvotes"]) == (entry.id, entry.title, 101)
    assert paper["pdf_url"] == f"https://arxiv.org/pdf/{entry.id}"
    for ref in (f"arXiv:{entry.id}", f"{entry.id}v2", f"arxiv.org/abs/{entry.id}"):
        assert hf_client.get(f"/api/v1/papers/{ref}").json() == paper  # one lookup everywhere
    assert hf_client.get(f"/api/v1/papers/{entry.id}v3").json()["id"] == entry.id
    similar = hf_client.get(f"/api/v1/papers/{entry.id}/similar", params={"limit": 5}).json()
    assert len(similar) == 5 and entry.id not in [p["id"] for p in similar]
    assert all(0 < p["score"] < 1 for p in similar)
    default = hf_client.get(f"/api/v1/papers/{entry.id}/similar").json()
    assert [p["id"] for p in default[:5]] == [p["id"] for p in similar]
    assert len(default) == 10


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/papers/2604.99999",
        "/api/v1/papers/2604.99999/similar",
        "/api/v1/papers/2604.99999/comments",
        "/api/v1/papers/title:nothing",
    ],
)
def test_an_unknown_paper_is_a_404_json_error(hf_client: TestClient, path: str) -> None:
    response = hf_client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    paper_id = path.split("/")[4]
    assert response.json() == {"error": f"no paper with id '{paper_id}'"}


def test_an_unknown_api_route_is_a_404_json_error(hf_client: TestClient) -> None:
    response = hf_client.get("/api/v1/nothing-here")
    assert (response.status_code, response.json()) == (404, {"error": "no such page"})
    wrong_method = hf_client.post("/api/v1/feed")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "Method Not Allowed"}


def test_me(site: Site) -> None:
    visitor = site.client()
    anonymous = visitor.get("/api/v1/me").json()
    assert (anonymous["username"], anonymous["is_admin"]) == (None, False)
    assert len(anonymous["csrf_token"]) >= 24
    assert visitor.get("/api/v1/me").json()["csrf_token"] == anonymous["csrf_token"]  # stable
    assert site.client("ada").get("/api/v1/me").json()["is_admin"] is True
    bob = site.client("bob").get("/api/v1/me").json()
    assert (bob["username"], bob["is_admin"]) == ("bob", False)


def test_a_member_sees_their_own_vote_and_save_flags(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[LATEST][0]
    bob = site.client("bob")
    api_write(bob, "PUT", f"/api/v1/papers/{entry.id}/vote")
    api_write(bob, "PUT", f"/api/v1/library/{entry.id}")
    for client, expected in ((bob, True), (site.client("cyd"), False), (site.client(), False)):
        paper = client.get(f"/api/v1/papers/{entry.id}").json()
        assert (paper["voted"], paper["saved"]) == (expected, expected)
        feed = client.get("/api/v1/feed").json()["papers"][0]
        assert feed["id"] == entry.id and (feed["voted"], feed["saved"]) == (expected, expected)
    library = bob.get("/api/v1/library").json()
    assert library["total"] == 1 and library["papers"][0]["upvotes"] == entry.upvotes + 1


def test_vote_and_save_flags_are_told_apart(site: Site, hf_listing: Listing) -> None:
    """One paper only voted for, another only saved: each flag comes from its own table."""
    voted, saved = hf_listing[LATEST][1], hf_listing[LATEST][2]
    bob = site.client("bob")
    api_write(bob, "PUT", f"/api/v1/papers/{voted.id}/vote")
    api_write(bob, "PUT", f"/api/v1/library/{saved.id}")
    flags = {p["id"]: (p["voted"], p["saved"]) for p in bob.get("/api/v1/feed").json()["papers"]}
    assert flags[voted.id] == (True, False)
    assert flags[saved.id] == (False, True)


def test_comments_api(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[LATEST][2]
    bob = site.client("bob")
    posted = api_write(bob, "POST", f"/api/v1/papers/{entry.id}/comments", {"body": " *hi* "})
    assert posted.status_code == 201
    comment = posted.json()
    assert set(comment) == {"id", "paper_id", "user", "body", "created_at"}
    assert (comment["paper_id"], comment["user"], comment["body"]) == (entry.id, "bob", "*hi*")
    listed = site.client().get(f"/api/v1/papers/{entry.id}/comments").json()
    assert listed == [comment]
    unknown = api_write(bob, "POST", "/api/v1/papers/2604.99999/comments", {"body": "hi"})
    assert unknown.status_code == 404
    not_json = bob.post(
        f"/api/v1/papers/{entry.id}/comments",
        content="hi",
        headers={"X-CSRF-Token": csrf(bob), "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422


def test_openapi_lists_the_whole_api(hf_client: TestClient) -> None:
    schema = hf_client.get("/openapi.json").json()
    methods = {
        path: {m for m in ops if m in {"get", "post", "put", "delete"}}
        for path, ops in schema["paths"].items()
    }
    assert methods == {
        "/api/v1/feed": {"get"},
        "/api/v1/trending": {"get"},
        "/api/v1/search": {"get"},
        "/api/v1/me": {"get"},
        "/api/v1/library": {"get"},
        "/api/v1/library/{paper_id}": {"put", "delete"},
        "/api/v1/submit": {"post"},
        "/api/v1/submissions/{number}": {"get"},
        "/api/v1/papers/{paper_id}": {"get"},
        "/api/v1/papers/{paper_id}/similar": {"get"},
        "/api/v1/papers/{paper_id}/vote": {"put", "delete"},
        "/api/v1/papers/{paper_id}/comments": {"get", "post"},
        "/api/v1/sources": {"get"},
        "/api/v1/sources/runs": {"get"},
        "/api/v1/subscriptions": {"get", "post"},
        "/api/v1/subscriptions/{pk}": {"delete"},
        "/api/v1/mail/status": {"get"},
        "/api/v1/authors/{name}": {"get"},
        "/api/v1/orgs/{name}": {"get"},
        "/api/daily_papers": {"get"},
        "/feeds/daily.atom": {"get"},
        "/feeds/trending.atom": {"get"},
        "/feeds/search.atom": {"get"},
    }
    search = schema["paths"]["/api/v1/search"]["get"]
    assert {p["name"] for p in search["parameters"]} == {"q", "mode", "limit", "offset"}
    assert schema["info"]["title"] == "paperfeed"


def test_health(hf_client: TestClient, hf_listing: Listing) -> None:
    papers = {e.id for entries in hf_listing.values() for e in entries}
    assert hf_client.get("/healthz").json() == {"status": "ok", "papers": len(papers)}
    assert len(papers) == 116


def test_every_response_says_how_long_the_app_took(hf_client: TestClient) -> None:
    for path in ("/", "/api/v1/feed", "/static/style.css", "/api/v1/nothing"):
        timing = hf_client.get(path).headers["server-timing"]
        assert timing.startswith("app;dur=") and float(timing.split("=")[1]) >= 0


# -- Hugging Face compatibility ------------------------------------------------------------------


def hf_file(hf_days: list[Path], day: date) -> list[dict]:
    path = next(p for p in hf_days if day_of(p) == day)
    return json.loads(gzip.decompress(path.read_bytes()))


def test_daily_papers_answers_like_hugging_face(hf_client: TestClient, hf_days: list[Path]) -> None:
    for path in hf_days:
        day = day_of(path)
        theirs = hf_file(hf_days, day)
        response = hf_client.get("/api/daily_papers", params={"date": day.isoformat()})
        assert response.status_code == 200
        ours = response.json()
        # The same papers with the same upvotes, most upvoted first (ties may differ in order).
        assert {e["paper"]["id"]: e["paper"]["upvotes"] for e in ours} == {
            e["paper"]["id"]: e["paper"]["upvotes"] for e in theirs
        }
        assert [e["paper"]["upvotes"] for e in ours] == [e["paper"]["upvotes"] for e in theirs]
        by_id = {e["paper"]["id"]: e for e in theirs}
        for mine in ours:
            real = by_id[mine["paper"]["id"]]
            for key in ("title", "publishedAt"):
                assert mine["paper"][key] == real["paper"][key], (day, key)
            assert mine["paper"]["summary"] == " ".join(real["paper"]["summary"].split())
            assert [a["name"] for a in mine["paper"]["authors"]] == [
                a["name"] for a in real["paper"]["authors"]
            ]
            assert mine["title"] == real["title"]
            assert mine["summary"] == mine["paper"]["summary"]
            assert mine["numComments"] == 0 and isinstance(real["numComments"], int)
            assert mine["publishedAt"].startswith(day.isoformat())
            assert set(mine) <= set(real) and set(mine["paper"]) <= set(real["paper"])


def test_daily_papers_defaults_and_paging(hf_client: TestClient, hf_listing: Listing) -> None:
    latest = hf_client.get("/api/daily_papers").json()
    assert sorted(e["paper"]["id"] for e in latest) == sorted(e.id for e in hf_listing[LATEST])
    whole = hf_client.get("/api/daily_papers", params={"date": "2026-04-28"}).json()
    assert len(whole) == len(hf_listing[date(2026, 4, 28)]) == 20
    pages = [
        hf_client.get("/api/daily_papers", params={"date": "2026-04-28", "limit": 8, "p": p})
        for p in range(3)
    ]
    assert [len(p.json()) for p in pages] == [8, 8, 4]
    assert [e for p in pages for e in p.json()] == whole
    assert hf_client.get("/api/daily_papers", params={"date": "2026-04-26"}).json() == []


def test_daily_papers_count_our_votes_and_comments(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[date(2026, 4, 28)][4]
    bob = site.client("bob")
    api_write(bob, "PUT", f"/api/v1/papers/{entry.id}/vote")
    api_write(bob, "POST", f"/api/v1/papers/{entry.id}/comments", {"body": "Neat."})
    day = site.client().get("/api/daily_papers", params={"date": "2026-04-28"}).json()
    mine = next(e for e in day if e["paper"]["id"] == entry.id)
    assert (mine["paper"]["upvotes"], mine["numComments"]) == (entry.upvotes + 1, 1)
