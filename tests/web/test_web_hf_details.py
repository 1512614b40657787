"""What Hugging Face says of a paper, shown and served: cards, paper pages, /api/v1, the
HF-compatible feed, cached media under /media, and the author and organisation pages."""

from __future__ import annotations

import hashlib
from datetime import date
from urllib.parse import quote

import pytest
from _web_helpers import HfEntry, Site, cards, tags
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from paperfeed.db import Paper
from paperfeed.live.media import media_dir
from paperfeed.web.app import CONTENT_SECURITY_POLICY
from paperfeed.workspace import Workspace

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def _with_summary(hf_listing: dict[date, list[HfEntry]], client: TestClient) -> dict:
    """A paper of the first day that has an AI summary, an organisation and GitHub stars."""
    day = min(hf_listing)
    papers = client.get("/api/v1/feed", params={"day": day.isoformat()}).json()["papers"]
    full = [p for p in papers if p["ai_summary"] and p["organization"] and p["github_stars"]]
    assert full, "the first day has papers with all details"
    return full[0]


def test_api_papers_carry_the_hf_details(
    hf_client: TestClient, hf_listing: dict[date, list[HfEntry]]
) -> None:
    paper = _with_summary(hf_listing, hf_client)
    assert paper["ai_keywords"] and all(isinstance(k, str) for k in paper["ai_keywords"])
    assert paper["code_url"].startswith("https://github.com/")
    assert isinstance(paper["github_stars"], int) and paper["github_stars"] >= 0
    assert paper["submitter"]
    assert paper["thumbnail"] is None  # the files were ingested: no image was fetched
    one = hf_client.get(f"/api/v1/papers/{paper['id']}").json()
    assert one["ai_summary"] == paper["ai_summary"]
    assert one["organization_name"]


def test_cards_show_the_ai_summary_organisation_stars_and_author_links(
    hf_client: TestClient, hf_listing: dict[date, list[HfEntry]]
) -> None:
    paper = _with_summary(hf_listing, hf_client)
    day = min(hf_listing).isoformat()
    page = hf_client.get("/", params={"day": day}).text
    [card] = [c for c in cards(page) if c.id == paper["id"]]
    assert "AI summary" in card.html
    assert 'class="keyword"' in card.html
    assert f'href="/orgs/{quote(paper["organization"])}"' in card.html
    assert f"★ {paper['github_stars']}" in card.html
    assert f'href="/authors/{quote(paper["authors"][0])}"' in card.html
    assert f"submitted by {paper['submitter']}" in card.html
    assert "<img" not in card.html  # no cached thumbnail, no image, never a remote one
    detail = hf_client.get(f"/papers/{paper['id']}").text
    assert paper["ai_summary"].split()[0] in detail
    assert all(k in detail for k in paper["ai_keywords"][:3])
    for img in tags(page, "img") + tags(detail, "img"):
        assert (img["src"] or "").startswith("/"), img


def test_the_hf_compatible_feed_uses_hf_field_names(
    hf_client: TestClient, hf_listing: dict[date, list[HfEntry]]
) -> None:
    paper = _with_summary(hf_listing, hf_client)
    day = min(hf_listing).isoformat()
    entries = hf_client.get("/api/daily_papers", params={"date": day}).json()
    [entry] = [e for e in entries if e["paper"]["id"] == paper["id"]]
    assert entry["paper"]["ai_summary"] == paper["ai_summary"]
    assert entry["paper"]["ai_keywords"] == paper["ai_keywords"]
    assert entry["paper"]["githubRepo"] == paper["code_url"]
    assert entry["paper"]["githubStars"] == paper["github_stars"]
    assert entry["organization"]["name"] == paper["organization"]
    assert entry["submittedBy"]["name"] == paper["submitter"]
    assert "thumbnail" not in entry  # nothing cached: no link to Hugging Face's copy
    assert not [e for e in entries if "thumbnail" in e or "mediaUrls" in e]


def test_a_cached_thumbnail_is_shown_and_served_from_our_origin(site: Site) -> None:
    site_workspace, site_client = site.workspace, site.client()
    name = hashlib.sha256(b"https://example.org/t.png").hexdigest() + ".png"
    directory = media_dir(site_workspace.settings.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(PNG)
    with site_workspace.db.session() as session:
        pk, paper_id = session.execute(select(Paper.pk, Paper.id).order_by(Paper.pk).limit(1)).one()
        session.execute(update(Paper).where(Paper.pk == pk).values(thumbnail=name))
    answer = site_client.get(f"/media/{name}")
    assert answer.status_code == 200
    assert answer.content == PNG
    assert answer.headers["content-type"] == "image/png"
    assert "immutable" in answer.headers["cache-control"]
    api = site_client.get(f"/api/v1/papers/{paper_id}").json()
    assert api["thumbnail"] == f"/media/{name}"
    page = site_client.get(f"/papers/{paper_id}").text
    assert f'src="/media/{name}"' in page
    assert "img-src 'self' data:" in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "name",
    ["../paperfeed.db", "x.png", "a" * 64 + ".svg", "A" * 64 + ".png", "%2e%2e%2fsecret_key"],
)
def test_media_names_other_than_cached_images_are_404(hf_client: TestClient, name: str) -> None:
    answer = hf_client.get(f"/media/{name}")
    assert answer.status_code == 404


def test_an_author_page_lists_their_papers_newest_first_and_co_authors(
    hf_client: TestClient, hf_listing: dict[date, list[HfEntry]]
) -> None:
    paper = _with_summary(hf_listing, hf_client)
    author = paper["authors"][0]
    page = hf_client.get(f"/authors/{quote(author)}")
    assert page.status_code == 200
    ids = [c.id for c in cards(page.text)]
    assert paper["id"] in ids
    api = hf_client.get(f"/api/v1/authors/{quote(author)}").json()
    assert api["total"] >= len(ids) >= 1
    assert [p["id"] for p in api["papers"]] == ids
    dates = [p["published"] for p in api["papers"]]
    assert dates == sorted(dates, reverse=True)
    co = [c["name"] for c in api["co_authors"]]
    assert author not in co
    assert set(co) <= {a for p in api["papers"] for a in p["authors"]}
    if len(paper["authors"]) > 1:
        assert co and f'href="/authors/{quote(co[0])}"' in page.text


def test_an_organisation_page_lists_its_papers(
    hf_client: TestClient, hf_listing: dict[date, list[HfEntry]]
) -> None:
    paper = _with_summary(hf_listing, hf_client)
    org = paper["organization"]
    page = hf_client.get(f"/orgs/{quote(org)}")
    assert page.status_code == 200
    assert paper["organization_name"] in page.text
    api = hf_client.get(f"/api/v1/orgs/{quote(org)}").json()
    assert paper["id"] in [p["id"] for p in api["papers"]]
    assert all(p["organization"] == org for p in api["papers"])


@pytest.mark.parametrize(
    "name",
    [
        "x" * 5000,
        "a/b/../../etc/passwd",
        "Robert'); DROP TABLE papers;--",
        "名前 ü 🙂",
        "a\x00b",
        " ",
        "nobody at all",
    ],
)
@pytest.mark.parametrize("kind", ["authors", "orgs"])
def test_hostile_people_names_get_a_clean_404(hf_client: TestClient, kind: str, name: str) -> None:
    for url in (f"/{kind}/{quote(name)}", f"/api/v1/{kind}/{quote(name)}"):
        answer = hf_client.get(url)
        assert answer.status_code == 404, (url, answer.status_code)


def test_pages_past_the_end_are_404_and_beyond_the_limit_400(
    hf_client: TestClient, hf_listing: dict[date, list[HfEntry]]
) -> None:
    author = _with_summary(hf_listing, hf_client)["authors"][0]
    assert hf_client.get(f"/authors/{quote(author)}", params={"page": 999999}).status_code == 400
    assert hf_client.get(f"/authors/{quote(author)}", params={"page": "x"}).status_code == 400


def test_authors_with_accented_or_dotted_names_have_a_page(
    hf_workspace: Workspace, hf_client: TestClient
) -> None:
    with hf_workspace.db.session() as session:
        names = [a for authors in session.scalars(select(Paper.authors)) for a in authors]
    special = sorted({n for n in names if not n.isascii()}) + [n for n in names if "." in n][:2]
    assert len(special) > 2, "the eight days have authors with accents (Víctor, João)"
    for name in special[:3] + special[-2:]:
        answer = hf_client.get(f"/api/v1/authors/{quote(name)}")
        assert answer.status_code == 200, name
        assert all(name in p["authors"] for p in answer.json()["papers"])
