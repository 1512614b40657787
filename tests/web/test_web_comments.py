"""Comments (Markdown, made safe) and moderation: hiding comments and papers."""

from __future__ import annotations

import re
from datetime import date

import pytest
from _web_helpers import (
    HfEntry,
    Site,
    alert,
    api_write,
    card_ids,
    cards,
    csrf,
    post_form,
    press,
    tags,
)
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.community import activity
from paperfeed.db import User
from paperfeed.errors import InvalidInputError

Listing = dict[date, list[HfEntry]]
LATEST = date(2026, 5, 5)


@pytest.fixture
def paper(hf_listing: Listing) -> HfEntry:
    return hf_listing[LATEST][1]


def comment_bodies(page: str) -> list[str]:
    return re.findall(r'<div class="comment-body">(.*?)</div>', page, re.S)


def discussion_count(page: str) -> int:
    return int(re.search(r"<h2 id=\"comments-title\">Discussion \((\d+)\)</h2>", page).group(1))


def comment(client: TestClient, paper_id: str, body: str) -> int:
    response = api_write(client, "POST", f"/api/v1/papers/{paper_id}/comments", {"body": body})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_comment_posted_with_the_form_appears_rendered(site: Site, paper: HfEntry) -> None:
    bob = site.client("bob")
    page = bob.get(f"/papers/{paper.id}").text
    body = "**Nice** result, see `eq. 3`:\n\n- a list\n- [the code](https://example.org/x)"
    response = press(bob, page, f"/papers/{paper.id}/comments", body=body)
    assert response.status_code == 303
    pk = int(response.headers["location"].rsplit("#comment-", 1)[1])
    assert response.headers["location"] == f"/papers/{paper.id}#comment-{pk}"
    shown = site.client().get(f"/papers/{paper.id}").text
    assert f'id="comment-{pk}"' in shown
    [rendered] = comment_bodies(shown)
    assert "<strong>Nice</strong>" in rendered
    assert "<code>eq. 3</code>" in rendered
    assert "<li>a list</li>" in rendered
    assert '<a href="https://example.org/x" rel="nofollow noopener ugc">the code</a>' in rendered
    assert "<strong>bob</strong>" in shown
    api = site.client().get(f"/api/v1/papers/{paper.id}/comments").json()
    assert [(c["id"], c["user"], c["body"], c["paper_id"]) for c in api] == [
        (pk, "bob", body, paper.id)
    ]


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert('x')</script>",
        '<img src="x" onerror="alert(1)">',
        '<iframe src="https://evil.example"></iframe>',
        '<a href="javascript:alert(1)">x</a>',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](  javascript:alert(1))",
        "<javascript:alert(1)>",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
    ],
)
def test_raw_html_and_script_links_in_comments_are_neutralised(
    site: Site, paper: HfEntry, body: str
) -> None:
    comment(site.client("bob"), paper.id, body)
    page = site.client().get(f"/papers/{paper.id}").text
    [rendered] = comment_bodies(page)
    assert set(re.findall(r"<(\w+)", rendered)) <= {"p", "a"}, rendered  # raw HTML is text
    for link in tags(rendered, "a"):
        assert (link["href"] or "").startswith(("http://", "https://", "mailto:")), link
    if body.startswith("<"):
        assert "&lt;" in rendered  # shown as the text that was typed
    assert not re.search(r"<[^>]*\bon\w+=", rendered)  # no event handler attributes


@pytest.mark.parametrize("body", ["", "   \n  "])
def test_an_empty_comment_is_refused_with_a_message(site: Site, paper: HfEntry, body: str) -> None:
    bob = site.client("bob")
    response = post_form(bob, f"/papers/{paper.id}/comments", {"body": body})
    assert response.status_code == 400
    assert alert(response.text) == "comment: empty"
    assert discussion_count(response.text) == 0
    api = api_write(bob, "POST", f"/api/v1/papers/{paper.id}/comments", {"body": body})
    assert (api.status_code, api.json()) == (400, {"error": "comment: empty"})
    assert bob.get(f"/api/v1/papers/{paper.id}/comments").json() == []


def test_a_too_long_comment_is_refused_and_the_draft_kept(site: Site, paper: HfEntry) -> None:
    bob = site.client("bob")
    draft = "word " * 2001
    response = post_form(bob, f"/papers/{paper.id}/comments", {"body": draft})
    assert response.status_code == 400
    assert alert(response.text) == "comment: longer than 10000 characters"
    assert f">{draft}</textarea>" in response.text
    missing = api_write(bob, "POST", f"/api/v1/papers/{paper.id}/comments", {"text": "hi"})
    assert missing.status_code == 422
    assert "body" in missing.json()["error"]


def test_a_comment_with_control_characters_is_refused_below_the_web_forms_too(
    site: Site, paper: HfEntry
) -> None:
    """The CLI and any other caller of ``paperfeed.community.activity`` get the forms' check."""
    with site.workspace.db.session() as session:
        user = session.scalar(select(User.pk).where(User.username == "bob"))
    with pytest.raises(InvalidInputError, match="control characters"):
        activity.add_comment(site.workspace, user, paper.id, "fine\x1b[2Jthen not")
    multiline = activity.add_comment(site.workspace, user, paper.id, "line one\n\tline two")
    assert multiline.body == "line one\n\tline two"


def test_comment_counts_follow_the_discussion(site: Site, paper: HfEntry) -> None:
    first = comment(site.client("bob"), paper.id, "First!")
    comment(site.client("cyd"), paper.id, "Second.")
    visitor = site.client()
    page = visitor.get(f"/papers/{paper.id}").text
    assert discussion_count(page) == 2
    assert comment_bodies(page) == ["<p>First!</p>\n", "<p>Second.</p>\n"]  # oldest first
    assert visitor.get(f"/api/v1/papers/{paper.id}").json()["num_comments"] == 2
    card = next(c for c in cards(visitor.get("/").text) if c.id == paper.id)
    assert card.comments == 2
    assert post_form(site.client("ada"), f"/comments/{first}/hide").status_code == 303
    assert visitor.get(f"/api/v1/papers/{paper.id}").json()["num_comments"] == 1
    assert discussion_count(visitor.get(f"/papers/{paper.id}").text) == 1
    card = next(c for c in cards(visitor.get("/").text) if c.id == paper.id)
    assert card.comments == 1


def test_a_hidden_comment_disappears_for_everyone_but_admins(site: Site, paper: HfEntry) -> None:
    pk = comment(site.client("bob"), paper.id, "Buy cheap watches")
    admin = site.client("ada")
    page = admin.get(f"/papers/{paper.id}").text
    response = press(admin, page, f"/comments/{pk}/hide")
    assert response.status_code == 303
    assert response.headers["location"] == f"/papers/{paper.id}#comment-{pk}"
    for viewer in (site.client(), site.client("bob"), site.client("cyd")):
        assert "cheap watches" not in viewer.get(f"/papers/{paper.id}").text
        assert viewer.get(f"/api/v1/papers/{paper.id}/comments").json() == []
    seen = admin.get(f"/papers/{paper.id}").text
    assert "cheap watches" in seen
    assert f'class="comment hidden-comment" id="comment-{pk}"' in seen
    # Shown again by the admin, it is back for everyone.
    assert press(admin, seen, f"/comments/{pk}/hide").status_code == 303
    assert "cheap watches" in site.client().get(f"/papers/{paper.id}").text


def test_only_admins_can_hide(site: Site, paper: HfEntry) -> None:
    pk = comment(site.client("cyd"), paper.id, "An honest remark")
    bob = site.client("bob")
    for action in (f"/comments/{pk}/hide", f"/papers/{paper.id}/hide"):
        response = post_form(bob, action, {"hidden": "true"})
        assert response.status_code == 403
        assert alert(response.text) == "only admins can do this"
    assert "An honest remark" in site.client().get(f"/papers/{paper.id}").text
    assert site.client().get(f"/api/v1/papers/{paper.id}").status_code == 200
    page = bob.get(f"/papers/{paper.id}").text
    assert "/hide" not in page  # no moderation buttons for members
    assert post_form(site.client("ada"), "/comments/999999/hide").status_code == 404


def test_a_hidden_paper_is_gone_for_everyone_but_admins(site: Site, paper: HfEntry) -> None:
    admin = site.client("ada")
    neighbour = admin.get(f"/api/v1/papers/{paper.id}/similar", params={"limit": 1}).json()[0]
    page = admin.get(f"/papers/{paper.id}").text
    assert press(admin, page, f"/papers/{paper.id}/hide").status_code == 303
    for viewer in (site.client(), site.client("bob")):
        assert paper.id not in card_ids(viewer.get("/").text)
        feed = viewer.get("/api/v1/feed").json()
        assert paper.id not in [p["id"] for p in feed["papers"]] and feed["total"] == 12
        assert paper.id not in card_ids(viewer.get("/search", params={"q": paper.title}).text)
        found = viewer.get("/api/v1/search", params={"q": paper.title}).json()["results"]
        assert paper.id not in [r["id"] for r in found]
        trending = viewer.get("/api/v1/trending", params={"limit": 200}).json()["papers"]
        assert paper.id not in [p["id"] for p in trending]
        similar = viewer.get(f"/api/v1/papers/{neighbour['id']}/similar").json()
        assert paper.id not in [p["id"] for p in similar]
        assert paper.id not in viewer.get("/feeds/daily.atom").text
        assert paper.id not in [e["paper"]["id"] for e in viewer.get("/api/daily_papers").json()]
        assert viewer.get(f"/papers/{paper.id}").status_code == 404
        for path in ("", "/similar", "/comments"):
            response = viewer.get(f"/api/v1/papers/{paper.id}{path}")
            assert response.status_code == 404, path
            assert response.json() == {"error": f"no paper with id '{paper.id}'"}
    seen = admin.get(f"/papers/{paper.id}")
    assert seen.status_code == 200
    assert "This paper is hidden from everyone but admins." in seen.text
    assert press(admin, seen.text, f"/papers/{paper.id}/hide").status_code == 303  # show again
    assert paper.id in card_ids(site.client().get("/").text)


def test_writes_need_a_login(site: Site, paper: HfEntry) -> None:
    visitor = site.client()
    response = api_write(visitor, "POST", f"/api/v1/papers/{paper.id}/comments", {"body": "hi"})
    assert (response.status_code, response.json()) == (401, {"error": "log in first"})
    form = visitor.post(
        f"/papers/{paper.id}/comments",
        data={"csrf_token": csrf(visitor), "body": "hi"},
        follow_redirects=False,
    )
    assert form.status_code == 303 and form.headers["location"].startswith("/login?next=")
    assert visitor.get(f"/api/v1/papers/{paper.id}/comments").json() == []
    assert "to comment" in visitor.get(f"/papers/{paper.id}").text
