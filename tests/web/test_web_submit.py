"""Submitting papers by arXiv id or link, fetched from a local replay of real arXiv answers.

Each test fetches at most once per workspace: the workspace's arXiv client keeps arXiv's
three seconds between requests, and a second fetch would wait for them.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from _core_helpers import copy_workspace
from _web_helpers import (
    Community,
    HfEntry,
    Site,
    alert,
    api_write,
    card_ids,
    cards,
    csrf,
    input_value,
    post_form,
    press,
    serve_arxiv,
)
from replay_server import ReplayServer
from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.db import Listing, Paper, User
from paperfeed.db.lease import WORKER, Lease
from paperfeed.live.arxiv_api import ArxivApi
from paperfeed.ops.worker import run_job
from paperfeed.search.catchup import catch_up
from paperfeed.web.app import create_app
from paperfeed.workspace import Workspace

Listings = dict[date, list[HfEntry]]
KNOWN = "1605.08386"  # recorded: "Heat-bath random walks with Markov bases", math.CO
KNOWN_TITLE = "Heat-bath random walks with Markov bases"
ACCEPTED = (
    "expected e.g. 2401.12345, 2401.12345v2, arXiv:2401.12345, hep-th/9901001, "
    "or a link like https://arxiv.org/abs/2401.12345 or https://arxiv.org/pdf/2401.12345"
)


@pytest.fixture
def arxiv() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def site_with_arxiv(community: Community, data_dir: Path, arxiv_url: str) -> Site:
    copy = copy_workspace(community.workspace, data_dir)
    copy.db.engine.dispose()
    ws = Workspace.open(copy.settings.model_copy(update={"arxiv_api_url": arxiv_url}))
    return Site(ws, create_app(ws), community.cookies)


@pytest.fixture
def submit_site(community: Community, tmp_path: Path, arxiv: ReplayServer) -> Iterator[Site]:
    """A private site whose arXiv is the replay server."""
    site = site_with_arxiv(community, tmp_path / "site", serve_arxiv(arxiv))
    yield site
    for client in site.clients:
        client.close()
    site.workspace.db.engine.dispose()


def today() -> date:
    return datetime.now(UTC).date()


def paper_count(site: Site) -> int:
    with site.workspace.db.session() as session:
        return session.scalar(select(func.count()).select_from(Paper)) or 0


def submitted_listings(site: Site, paper_id: str) -> list[date]:
    with site.workspace.db.session() as session:
        return list(
            session.scalars(
                select(Listing.day)
                .join(Paper, Paper.pk == Listing.paper_pk)
                .where(Paper.id == paper_id, Listing.source == "submitted")
            )
        )


def submitter(site: Site, paper_id: str) -> str | None:
    with site.workspace.db.session() as session:
        return session.scalar(
            select(User.username)
            .join(Paper, Paper.submitted_by_pk == User.pk)
            .where(Paper.id == paper_id)
        )


def test_a_new_paper_is_fetched_stored_indexed_and_listed_today(
    submit_site: Site, arxiv: ReplayServer
) -> None:
    bob = submit_site.client("bob")
    before = paper_count(submit_site)
    form = bob.get("/submit").text
    response = press(bob, form, "/submit", ref=f"https://arxiv.org/abs/{KNOWN}v1")
    assert response.status_code == 303
    assert response.headers["location"] == f"/papers/{KNOWN}"
    [request] = arxiv.requests
    assert request.query["id_list"] == KNOWN
    assert request.headers["user-agent"].startswith("paperfeed/")
    assert paper_count(submit_site) == before + 1
    assert submitted_listings(submit_site, KNOWN) == [today()]
    assert submitter(submit_site, KNOWN) == "bob"
    visitor = submit_site.client()
    page = visitor.get(response.headers["location"]).text
    assert f"<h1>{KNOWN_TITLE}</h1>" in page
    assert '<a class="tag" href="/search?cat=math.CO">math.CO</a>' in page
    assert "Caprice Stanley" in page
    # Today's feed (now the latest day) lists it.
    feed = visitor.get("/").text
    assert f"Daily papers · {today():%a %d %b %Y}" in feed
    assert card_ids(feed) == [KNOWN]
    # Searchable at once, by words and by meaning.
    lexical = visitor.get("/api/v1/search", params={"q": "heat-bath Markov", "mode": "lexical"})
    assert lexical.json()["results"][0]["id"] == KNOWN
    dense = visitor.get("/api/v1/search", params={"q": KNOWN_TITLE, "mode": "dense"})
    assert dense.json()["results"][0]["id"] == KNOWN
    assert len(visitor.get(f"/api/v1/papers/{KNOWN}/similar").json()) == 10
    assert KNOWN in card_ids(visitor.get("/search", params={"cat": "math.CO"}).text)
    assert len(arxiv.requests) == 1


def test_a_paper_we_have_is_listed_today_without_asking_arxiv(
    submit_site: Site, arxiv: ReplayServer, hf_listing: Listings
) -> None:
    entry = hf_listing[date(2026, 4, 24)][0]
    bob = submit_site.client("bob")
    before = paper_count(submit_site)
    response = post_form(bob, "/submit", {"ref": f"arXiv:{entry.id}"})
    assert (response.status_code, response.headers["location"]) == (303, f"/papers/{entry.id}")
    again = api_write(submit_site.client("cyd"), "POST", "/api/v1/submit", {"ref": entry.id})
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["upvotes"]) == (entry.id, entry.upvotes)
    assert arxiv.requests == []  # never fetched
    assert paper_count(submit_site) == before
    assert submitted_listings(submit_site, entry.id) == [today()]  # listed once
    assert submitter(submit_site, entry.id) == "bob"  # the first to submit it
    [card] = cards(submit_site.client().get("/").text)
    assert (card.id, card.upvotes) == (entry.id, entry.upvotes)
    old_day = submit_site.client().get("/", params={"day": "2026-04-24"}).text
    assert entry.id in card_ids(old_day)  # still listed on its own day too


def test_an_old_style_id_is_fetched_and_served_under_its_slash(
    submit_site: Site, arxiv: ReplayServer
) -> None:
    bob = submit_site.client("bob")
    response = api_write(
        bob, "POST", "/api/v1/submit", {"ref": "https://arxiv.org/pdf/astro-ph/0601001v2.pdf"}
    )
    assert response.status_code == 200, response.text
    paper = response.json()
    assert paper["id"] == "astro-ph/0601001"
    assert paper["categories"][0] == "astro-ph"
    assert [r.query["id_list"] for r in arxiv.requests] == ["astro-ph/0601001"]
    page = bob.get("/papers/astro-ph/0601001")
    assert page.status_code == 200 and f"<h1>{paper['title']}</h1>" in page.text
    vote = api_write(bob, "PUT", "/api/v1/papers/astro-ph/0601001/vote")
    assert vote.json() == {"paper_id": "astro-ph/0601001", "upvotes": 1, "voted": True}
    assert bob.get("/papers/astro-ph/0601001/bibtex").text.count("eprint = {astro-ph/0601001}")


@pytest.mark.parametrize(
    "ref", ["not a paper", "2401.123", "https://example.org/abs/2401.12345", "  "]
)
def test_a_bad_reference_is_refused_saying_what_works(
    submit_site: Site, arxiv: ReplayServer, ref: str
) -> None:
    bob = submit_site.client("bob")
    page = post_form(bob, "/submit", {"ref": ref})
    assert page.status_code == 400
    message = alert(page.text)
    assert message.startswith("not an arXiv id or link: ") and message.endswith(ACCEPTED)
    assert input_value(page.text, "ref") == ref  # kept, to correct
    api = api_write(bob, "POST", "/api/v1/submit", {"ref": ref})
    assert api.status_code == 400
    assert api.json()["error"] == message
    assert arxiv.requests == []


@pytest.mark.parametrize("via", ["form", "api"])
def test_an_id_arxiv_does_not_have_is_not_found(
    submit_site: Site, arxiv: ReplayServer, via: str
) -> None:
    bob = submit_site.client("bob")
    before = paper_count(submit_site)
    if via == "form":
        response = post_form(bob, "/submit", {"ref": "0000.0000"})
        assert response.status_code == 400
        assert alert(response.text) == "not on arXiv: 0000.0000"
    else:
        response = api_write(bob, "POST", "/api/v1/submit", {"ref": "0000.0000"})
        assert response.status_code == 404
        assert response.json() == {"error": "not on arXiv: 0000.0000"}
    assert [r.query["id_list"] for r in arxiv.requests] == ["0000.0000"]
    assert paper_count(submit_site) == before
    assert submit_site.client().get("/api/v1/feed").json()["start"] == "2026-05-05"


@pytest.mark.parametrize("via", ["form", "api"])
def test_arxiv_out_of_reach_is_a_clear_error_and_stores_nothing(
    community: Community, tmp_path: Path, via: str
) -> None:
    with ReplayServer() as gone:
        url = serve_arxiv(gone)  # a port nothing listens on once the server stops
    site = site_with_arxiv(community, tmp_path / "site", url)
    # The workspace keeps one arXiv client; this one retries at once instead of backing off.
    waits: list[float] = []
    site.workspace.arxiv_api = ArxivApi.from_settings(site.workspace.settings, sleep=waits.append)
    bob = site.client("bob")
    before = paper_count(site)
    if via == "form":
        response = post_form(bob, "/submit", {"ref": "2401.00001"})
        message = alert(response.text)
        assert input_value(response.text, "ref") == "2401.00001"
    else:
        response = api_write(bob, "POST", "/api/v1/submit", {"ref": "2401.00001"})
        message = response.json()["error"]
    assert response.status_code == (400 if via == "form" else 502)  # API: a bad gateway
    assert message.startswith(f"GET {url}?id_list=2401.00001")
    assert "failed after 5 tries: cannot connect" in message
    assert {1.0, 2.0, 4.0, 8.0} <= set(waits)  # backed off (without waiting) between tries
    assert paper_count(site) == before
    assert site.client().get("/api/v1/feed").json()["start"] == "2026-05-05"
    site.workspace.db.engine.dispose()


def test_submitting_needs_a_login(submit_site: Site, arxiv: ReplayServer) -> None:
    visitor = submit_site.client()
    page = visitor.get("/submit").text
    assert '<a href="/login?next=/submit">Log in</a>' in page
    assert 'name="ref"' not in page
    form = visitor.post(
        "/submit",
        data={"csrf_token": csrf(visitor), "ref": KNOWN},
        headers={"Referer": "http://testserver/submit"},
        follow_redirects=False,
    )
    assert (form.status_code, form.headers["location"]) == (303, "/login?next=/submit")
    api = api_write(visitor, "POST", "/api/v1/submit", {"ref": KNOWN})
    assert (api.status_code, api.json()) == (401, {"error": "log in first"})
    assert arxiv.requests == []


@pytest.mark.sqlite_only("the embedded index files' lock")
def test_a_submission_while_another_process_writes_the_indexes_is_stored_and_indexed_later(
    submit_site: Site, arxiv: ReplayServer
) -> None:
    """Another process (a second web worker, `paperfeed worker`) holding the index lock: the
    submission still stores and lists the paper (the sync is skipped, not waited for); once a
    sync elsewhere has run, this app's searches see the paper without a restart."""
    ws = submit_site.workspace
    ws.indexes  # opened before the other process takes the lock  # noqa: B018
    holder = os.open(ws.settings.index_dir / ".lock", os.O_RDWR)  # flock: per open file
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        bob = submit_site.client("bob")
        response = press(bob, bob.get("/submit").text, "/submit", ref=KNOWN)
        assert response.status_code == 303
        assert submitted_listings(submit_site, KNOWN) == [today()]
        search = {"q": "heat-bath Markov", "mode": "lexical"}
        ids = [r["id"] for r in bob.get("/api/v1/search", params=search).json()["results"]]
        assert KNOWN not in ids  # not indexed yet
    finally:
        os.close(holder)
    other = Workspace.open(Settings(data_dir=ws.settings.data_dir))  # "the other process"
    assert catch_up(other).lexical >= 1
    other.db.engine.dispose()
    visitor = submit_site.client()
    lexical = visitor.get("/api/v1/search", params={"q": "heat-bath Markov", "mode": "lexical"})
    assert lexical.json()["results"][0]["id"] == KNOWN
    dense = visitor.get("/api/v1/search", params={"q": KNOWN_TITLE, "mode": "dense"})
    assert dense.json()["results"][0]["id"] == KNOWN
    assert len(visitor.get(f"/api/v1/papers/{KNOWN}/similar").json()) == 10


def test_with_a_worker_running_submissions_are_queued_for_it_and_only_it_asks_arxiv(
    submit_site: Site, arxiv: ReplayServer
) -> None:
    """Several web nodes must keep arXiv's spacing together: with a worker holding the lease,
    a node queues what it lacks (202) and the worker's submissions job fetches it."""
    ws = submit_site.workspace
    lease = Lease(ws.db, WORKER, 60)
    assert lease.acquire()  # a worker is running
    bob, cyd = submit_site.client("bob"), submit_site.client("cyd")
    before = paper_count(submit_site)

    queued = api_write(bob, "POST", "/api/v1/submit", {"ref": f"arXiv:{KNOWN}"})
    assert queued.status_code == 202
    body = queued.json()
    assert (body["arxiv_id"], body["status"], body["paper_id"]) == (KNOWN, "queued", None)
    form = press(cyd, cyd.get("/submit").text, "/submit", ref=KNOWN)
    assert form.status_code == 202
    assert f"{KNOWN} is queued" in form.text
    assert arxiv.requests == [] and paper_count(submit_site) == before  # nobody asked arXiv
    assert cyd.get(f"/api/v1/submissions/{body['number']}").status_code == 404  # bob's

    result = run_job(ws, "submissions")  # as the worker holding the lease runs it
    assert result.ok and result.summary == "1 fetched, 0 failed, 0 waiting"
    assert [r.query["id_list"] for r in arxiv.requests] == [KNOWN]  # once for both users
    done = bob.get(f"/api/v1/submissions/{body['number']}").json()
    assert (done["status"], done["paper_id"]) == ("done", KNOWN)
    assert submitted_listings(submit_site, KNOWN) == [today()]
    assert submitter(submit_site, KNOWN) == "bob"
    found = submit_site.client().get("/api/v1/search", params={"q": KNOWN_TITLE})
    assert found.json()["results"][0]["id"] == KNOWN
    lease.release()
