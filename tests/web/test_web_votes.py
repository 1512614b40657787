"""Upvotes: one per user per paper, counted on top of the external (Hugging Face) upvotes."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

from _web_helpers import (
    USERS,
    HfEntry,
    Site,
    api_write,
    cards,
    csrf,
    form_fields,
    input_value,
    press,
)
from sqlalchemy import func, select

from paperfeed.db import Paper, Vote

Listing = dict[date, list[HfEntry]]
LATEST = date(2026, 5, 5)


def our_votes(site: Site, paper_id: str) -> tuple[int, int]:
    """(the paper's vote counter, the vote rows behind it)."""
    with site.workspace.db.session() as session:
        paper = session.scalar(select(Paper).where(Paper.id == paper_id))
        rows = session.scalar(select(func.count()).where(Vote.paper_pk == paper.pk))
        return paper.votes, rows


def shown_upvotes(site: Site, paper_id: str) -> dict[str, int]:
    """The paper's count everywhere it is shown: feed page, paper page, API, HF compat."""
    client = site.client()
    feed = {c.id: c.upvotes for c in cards(client.get("/").text)}
    page = client.get(f"/papers/{paper_id}").text
    count = page.split('<span class="count">', 1)[1].split("<", 1)[0]
    api = client.get(f"/api/v1/papers/{paper_id}").json()["upvotes"]
    api_feed = {p["id"]: p["upvotes"] for p in client.get("/api/v1/feed").json()["papers"]}
    hf = {e["paper"]["id"]: e["paper"]["upvotes"] for e in client.get("/api/daily_papers").json()}
    return {
        "feed": feed[paper_id],
        "page": int(count),
        "api": api,
        "api feed": api_feed[paper_id],
        "hf compat": hf[paper_id],
    }


def test_one_vote_per_user_per_paper(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[LATEST][3]
    url = f"/api/v1/papers/{entry.id}/vote"
    bob, cyd = site.client("bob"), site.client("cyd")
    first = api_write(bob, "PUT", url)
    assert first.status_code == 200
    assert first.json() == {"paper_id": entry.id, "upvotes": entry.upvotes + 1, "voted": True}
    again = api_write(bob, "PUT", url)
    assert again.json()["upvotes"] == entry.upvotes + 1
    assert our_votes(site, entry.id) == (1, 1)
    assert api_write(cyd, "PUT", url).json()["upvotes"] == entry.upvotes + 2
    assert our_votes(site, entry.id) == (2, 2)
    assert set(shown_upvotes(site, entry.id).values()) == {entry.upvotes + 2}
    assert bob.get(f"/api/v1/papers/{entry.id}").json()["voted"] is True
    assert site.client("ada").get(f"/api/v1/papers/{entry.id}").json()["voted"] is False


def test_withdrawing_a_vote(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[LATEST][5]
    url = f"/api/v1/papers/{entry.id}/vote"
    bob, cyd = site.client("bob"), site.client("cyd")
    api_write(bob, "PUT", url)
    api_write(cyd, "PUT", url)
    withdrawn = api_write(bob, "DELETE", url)
    assert withdrawn.json() == {"paper_id": entry.id, "upvotes": entry.upvotes + 1, "voted": False}
    assert api_write(bob, "DELETE", url).json()["upvotes"] == entry.upvotes + 1  # idempotent
    assert our_votes(site, entry.id) == (1, 1)
    api_write(cyd, "DELETE", url)
    assert set(shown_upvotes(site, entry.id).values()) == {entry.upvotes}
    assert our_votes(site, entry.id) == (0, 0)


def test_our_votes_reorder_the_feed(site: Site, hf_listing: Listing) -> None:
    day = hf_listing[LATEST]
    leader, runner_up, fourth, fifth = day[0], day[1], day[3], day[4]
    assert [e.upvotes for e in (leader, runner_up, fourth, fifth)] == [63, 58, 5, 4]
    for user in USERS:  # three votes do not close a gap of five...
        api_write(site.client(user), "PUT", f"/api/v1/papers/{runner_up.id}/vote")
    for user in USERS[:2]:  # ...but two overtake a paper one vote ahead
        api_write(site.client(user), "PUT", f"/api/v1/papers/{fifth.id}/vote")
    shown = cards(site.client().get("/").text)
    order = [c.id for c in shown]
    assert order[:2] == [leader.id, runner_up.id]
    assert order.index(fifth.id) == order.index(fourth.id) - 1
    counts = {c.id: c.upvotes for c in shown}
    assert (counts[runner_up.id], counts[fifth.id], counts[fourth.id]) == (61, 6, 5)


def test_the_vote_button_works_without_javascript(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[LATEST][4]
    bob = site.client("bob")
    feed = bob.get("/").text
    action = f"/papers/{entry.id}/vote"
    response = press(bob, feed, action)
    assert response.status_code == 303
    assert response.headers["location"] == f"/papers/{entry.id}"  # no Referer: its page
    card = next(c for c in cards(bob.get("/").text) if c.id == entry.id)
    assert card.voted and card.upvotes == entry.upvotes + 1
    # Pressed again (the form now says up=false), the vote is withdrawn; back to the feed.
    fields = form_fields(bob.get("/", params={"day": LATEST.isoformat()}).text, action)
    assert fields["up"] == "false"
    back = bob.post(
        action,
        data=fields,
        headers={"Referer": f"http://testserver/?day={LATEST}"},
        follow_redirects=False,
    )
    assert back.status_code == 303
    assert back.headers["location"] == f"http://testserver/?day={LATEST}"
    card = next(c for c in cards(bob.get("/").text) if c.id == entry.id)
    assert not card.voted and card.upvotes == entry.upvotes
    # A Referer from another site is not followed.
    elsewhere = bob.post(
        action,
        data={"csrf_token": csrf(bob), "up": "true"},
        headers={"Referer": "https://evil.example/"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"] == f"/papers/{entry.id}"


def test_anonymous_votes_are_sent_to_log_in(site: Site, hf_listing: Listing) -> None:
    entry = hf_listing[LATEST][0]
    visitor = site.client()
    api = api_write(visitor, "PUT", f"/api/v1/papers/{entry.id}/vote")
    assert api.status_code == 401
    assert api.json() == {"error": "log in first"}
    page = visitor.get(f"/papers/{entry.id}").text
    form = visitor.post(
        f"/papers/{entry.id}/vote",
        data={"csrf_token": csrf(visitor), "up": "true"},
        headers={"Referer": f"http://testserver/papers/{entry.id}"},
        follow_redirects=False,
    )
    assert form.status_code == 303
    target = urlsplit(form.headers["location"])
    assert target.path == "/login"
    # After logging in, the visitor is back on the page they voted from (a page, not 404).
    back_to = parse_qs(target.query)["next"][0]
    assert back_to == f"/papers/{entry.id}"
    assert "Log in to vote" in page
    assert our_votes(site, entry.id) == (0, 0)
    assert visitor.get(back_to).status_code == 200
    # From a card on a feed page, back to that very feed page (its query kept).
    from_feed = visitor.post(
        f"/papers/{entry.id}/vote",
        data={"csrf_token": csrf(visitor), "up": "true"},
        headers={"Referer": f"http://testserver/?day={LATEST}&period=week"},
        follow_redirects=False,
    )
    login = visitor.get(from_feed.headers["location"]).text
    assert input_value(login, "next") == f"/?day={LATEST}&period=week"


def test_votes_on_an_unknown_paper_are_404(site: Site) -> None:
    bob = site.client("bob")
    response = api_write(bob, "PUT", "/api/v1/papers/2604.99999/vote")
    assert response.status_code == 404
    assert response.json() == {"error": "no paper with id '2604.99999'"}
    form = bob.post(
        "/papers/2604.99999/vote", data={"csrf_token": csrf(bob)}, follow_redirects=False
    )
    assert form.status_code == 404
