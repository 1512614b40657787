"""Paper pages, their BibTeX, and the assets every page loads (all served from here)."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from urllib.parse import unquote, urljoin

import pytest
from _web_helpers import HfEntry, Site, card_ids, tags
from fastapi.testclient import TestClient
from markupsafe import escape

from paperfeed.web.abstracts import render_abstract

Listing = dict[date, list[HfEntry]]
KATEX = "/static/vendor/katex"


@pytest.fixture(scope="module")
def entry(hf_listing: Listing) -> HfEntry:
    return hf_listing[date(2026, 4, 29)][0]  # 56 upvotes, published 2026-04-28


def similar_ids(page: str) -> list[str]:
    section = re.search(r'<section class="similar".*?</section>', page, re.S)
    assert section is not None, "no similar papers section"
    return re.findall(r'<li><a href="/papers/([^"]+)">', section.group(0))


def test_paper_page_shows_title_authors_abstract_and_links(
    hf_client: TestClient, entry: HfEntry
) -> None:
    response = hf_client.get(f"/papers/{entry.id}")
    assert response.status_code == 200
    page = response.text
    assert f"<h1>{escape(entry.title)}</h1>" in page
    # The abstract's closing link ("Code and Data are provided in https://…") is a link.
    assert f'<p class="abstract-full">{render_abstract(entry.summary)}</p>' in page
    assert '<a href="https://recursivemas.github.io" rel="nofollow noopener">' in page
    author_links = re.findall(r'<a href="/authors/([^"]+)">', page)  # their pages
    assert [unquote(unescape(a)) for a in author_links] == entry.authors
    assert f'<time datetime="{entry.published}">' in page
    hrefs = {a.get("href") for a in tags(page, "a")}
    assert {
        f"https://arxiv.org/abs/{entry.id}",
        f"https://arxiv.org/pdf/{entry.id}",
        f"/papers/{entry.id}/bibtex",
        f"/login?next=/papers/{entry.id}",
    } <= hrefs
    assert f"<title>{escape(entry.title)} · paperfeed</title>" in page


def test_paper_page_lists_the_most_similar_papers(hf_client: TestClient, entry: HfEntry) -> None:
    shown = similar_ids(hf_client.get(f"/papers/{entry.id}").text)
    assert len(shown) == 8 and entry.id not in shown
    api = hf_client.get(f"/api/v1/papers/{entry.id}/similar", params={"limit": 8}).json()
    assert shown == [p["id"] for p in api]
    scores = [p["score"] for p in api]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] < 1


def test_paper_page_links_its_categories(arxiv_cs_client: TestClient) -> None:
    paper = arxiv_cs_client.get("/api/v1/search", params={"q": "cat:cs.GR"}).json()["results"][0]
    assert len(paper["categories"]) >= 1
    page = arxiv_cs_client.get(f"/papers/{paper['id']}").text
    for category in paper["categories"]:
        assert f'<a class="tag" href="/search?cat={category}">{category}</a>' in page
    listed = card_ids(arxiv_cs_client.get("/search", params={"cat": "cs.GR"}).text)
    assert paper["id"] in listed
    for paper_id in listed:
        assert "cs.GR" in arxiv_cs_client.get(f"/api/v1/papers/{paper_id}").json()["categories"]


def test_a_versioned_id_finds_the_paper(hf_client: TestClient, entry: HfEntry) -> None:
    page = hf_client.get(f"/papers/{entry.id}v2")
    assert page.status_code == 200
    assert f"<h1>{escape(entry.title)}</h1>" in page.text
    assert hf_client.get(f"/api/v1/papers/{entry.id}v2").json()["id"] == entry.id


def test_an_unknown_paper_is_a_404_page(hf_client: TestClient) -> None:
    response = hf_client.get("/papers/2604.99999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no paper with id &#39;2604.99999&#39;" in response.text


def test_paper_bibtex(hf_client: TestClient, entry: HfEntry) -> None:
    response = hf_client.get(f"/papers/{entry.id}/bibtex")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    text = response.text
    assert text.count("@misc{") == 1
    assert f"  eprint = {{{entry.id}}}," in text
    assert "  archivePrefix = {arXiv}," in text
    assert f"  year = {{{entry.published.year}}}," in text
    assert f"  author = {{{' and '.join(entry.authors)}}}," in text
    assert f"  url = {{https://arxiv.org/abs/{entry.id}}}" in text
    assert text.count("{") == text.count("}")
    assert hf_client.get("/papers/2604.99999/bibtex").status_code == 404


def test_katex_is_served_from_here(hf_client: TestClient, entry: HfEntry) -> None:
    page = hf_client.get(f"/papers/{entry.id}").text
    scripts = [s["src"] for s in tags(page, "script") if s.get("src")]
    styles = [s["href"] for s in tags(page, "link") if s.get("rel") == "stylesheet"]
    assert f"{KATEX}/katex.min.js" in scripts
    assert f"{KATEX}/contrib/auto-render.min.js" in scripts
    assert "/static/math.js" in scripts
    assert f"{KATEX}/katex.min.css" in styles
    for script in scripts:
        response = hf_client.get(script)
        assert response.status_code == 200
        assert "javascript" in response.headers["content-type"]
    assert "renderMathInElement" in hf_client.get(f"{KATEX}/contrib/auto-render.min.js").text
    css = hf_client.get(f"{KATEX}/katex.min.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    fonts = re.findall(r"url\(([^)]+)\)", css.text)
    assert len(fonts) >= 20
    for font in fonts:
        url = urljoin(f"{KATEX}/katex.min.css", font.strip("'\""))
        response = hf_client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("font/"), url
        assert len(response.content) > 1000, url
    assert hf_client.get(f"{KATEX}/nothing.js").status_code == 404


def test_every_page_loads_its_scripts_and_styles_from_this_site(
    site: Site, hf_listing: Listing
) -> None:
    paper = hf_listing[date(2026, 5, 1)][0].id
    pages = [
        "/",
        "/?period=month&sort=new",
        "/trending",
        "/search",
        "/search?q=agents",
        f"/papers/{paper}",
        "/submit",
        "/login",
        "/signup",
        "/about",
        "/papers/2604.99999",  # the error page
    ]
    visitors = {"anonymous": site.client(), "admin": site.client("ada")}
    member_pages = ["/library", "/account"]
    checked: set[str] = set()
    for who, client in visitors.items():
        for path in pages + (member_pages if who == "admin" else []):
            page = client.get(path)
            assert page.status_code in (200, 404), (who, path)
            urls = [t["src"] for t in tags(page.text, "script") if t.get("src")]
            urls += [t["href"] for t in tags(page.text, "link") if t.get("href")]
            assert urls, path
            for url in urls:
                assert url.startswith("/") and not url.startswith("//"), (who, path, url)
                if url not in checked:
                    assert client.get(unescape(url)).status_code == 200, (who, path, url)
                    checked.add(url)
    assert len(checked) >= 8


def test_the_api_docs_load_their_assets_from_this_site(hf_client: TestClient) -> None:
    page = hf_client.get("/docs").text
    urls = [t["src"] for t in tags(page, "script") if t.get("src")]
    urls += [t["href"] for t in tags(page, "link") if t.get("href")]
    assert len(urls) >= 3, urls
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert all(hf_client.get(url).status_code == 200 for url in urls), urls
