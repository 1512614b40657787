"""A reader's whole visit, in Chromium against the real server: feed, search, paper, account,
vote, comment with math, library and BibTeX, log out and in again; and the same forms with
JavaScript off."""

from __future__ import annotations

import re
from pathlib import Path

from _browser_helpers import (
    NewContext,
    Site,
    Traffic,
    browser_test,
    fill_signup,
    log_in,
    post_comment,
    sign_up,
)
from playwright.sync_api import Page, expect

pytestmark = browser_test


def _search_word(title: str) -> str:
    """The title's longest plain word: rare enough to find the paper, safe to type."""
    return max(re.findall(r"[A-Za-z]{5,}", title), key=len)


def test_reader_journey(page: tuple[Page, Traffic], site: Site) -> None:
    tab, traffic = page

    # The feed lists cards.
    tab.goto(site.url + "/")
    cards = tab.locator("article.card")
    expect(cards.first).to_be_visible()
    assert cards.count() > 1
    title = cards.first.locator("h2 a").inner_text()

    # Search from the header box: the results mark the word.
    word = _search_word(title)
    tab.locator("header").get_by_label("Search papers").fill(word)
    tab.keyboard.press("Enter")
    tab.wait_for_url(re.compile(r"/search\?q="))
    expect(tab.locator("#search-q")).to_have_value(word)
    marks = tab.locator("article.card mark")
    expect(marks.first).to_be_visible()
    assert word.lower() in {m.lower() for m in marks.all_inner_texts()}

    # Open the paper from its (highlighted) result.
    tab.locator("article.card h2 a").filter(has_text=title).first.click()
    tab.wait_for_url(re.compile(r"/papers/"))
    paper_url = tab.url
    paper_id = paper_url.rsplit("/papers/", 1)[1]
    expect(tab.locator("h1")).to_have_text(title)

    # Sign up from the header and come back to the paper, logged in.
    tab.locator("nav.account").get_by_role("link", name="Sign up").click()
    fill_signup(tab, "journey")
    tab.wait_for_url(paper_url)
    expect(tab.locator("nav.account")).to_contain_text("journey")

    # Upvote in place: the count goes up by one and no page load happens.
    vote = tab.locator(".paper-actions .vote-button")
    count = vote.locator(".count")
    expect(vote).to_have_attribute("aria-pressed", "false")
    before = int(count.inner_text())
    tab.evaluate("window.sameDocument = true")
    with tab.expect_response(lambda r: r.request.method == "PUT" and "/api/v1/" in r.url):
        vote.click()
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(count).to_have_text(str(before + 1))
    assert tab.evaluate("window.sameDocument === true"), "voting reloaded the page"
    tab.reload()
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(count).to_have_text(str(before + 1))
    # A toggle button keeps its name; aria-pressed carries the state, after a reload too.
    expect(vote).to_have_attribute("aria-label", f"Upvote: {title}")

    # Un-vote, then vote again; the last state is what a reload shows.
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "false")
    expect(count).to_have_text(str(before))
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(count).to_have_text(str(before + 1))
    tab.reload()
    expect(count).to_have_text(str(before + 1))

    # A comment in Markdown with inline math comes back rendered.
    post_comment(tab, "This is **bold** and $E=mc^2$ too.")
    comment = tab.locator("article.comment").last
    expect(comment.locator(".comment-body strong")).to_have_text("bold")
    expect(comment.locator(".comment-body .katex")).to_have_count(1)
    expect(comment.locator(".katex annotation")).to_have_text("E=mc^2")
    expect(comment.locator(".katex-error")).to_have_count(0)

    # Save to the library, open it, export BibTeX.
    save = tab.locator(".paper-actions .save-button")
    save.click()
    expect(save).to_have_attribute("aria-pressed", "true")
    expect(save).to_contain_text("Saved")
    tab.locator("nav.sections").get_by_role("link", name="Library").click()
    tab.wait_for_url(re.compile(r"/library$"))
    expect(tab.locator("article.card h2 a")).to_have_text([title])
    with tab.expect_download() as download:
        tab.get_by_role("link", name=re.compile("Export BibTeX")).click()
    bibtex = Path(download.value.path()).read_text()
    assert bibtex.startswith("@misc{")
    assert f"eprint = {{{paper_id}}}" in bibtex
    assert word in bibtex

    # Log out: the paper page shows the anonymous view.
    tab.get_by_role("button", name="Log out").click()
    tab.wait_for_url(site.url + "/")
    expect(tab.locator("nav.account")).to_contain_text("Log in")
    tab.goto(paper_url)
    expect(vote).to_have_attribute("aria-pressed", "false")
    expect(tab.locator(".paper-actions .save-button")).to_have_count(0)

    # Log in again from the header: back on the paper with the vote and save remembered.
    tab.locator("nav.account").get_by_role("link", name="Log in").click()
    log_in(tab, "journey")
    tab.wait_for_url(paper_url)
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(count).to_have_text(str(before + 1))
    expect(save).to_have_attribute("aria-pressed", "true")

    traffic.assert_clean()


def test_votes_saves_and_comments_work_without_javascript(
    new_context: NewContext, site: Site
) -> None:
    context, traffic = new_context(java_script_enabled=False)
    tab = context.new_page()
    sign_up(tab, site.url, "no-script")
    tab.goto(f"{site.url}/papers/{site.math_paper}")
    vote = tab.locator(".paper-actions .vote-button")
    before = int(vote.locator(".count").inner_text())

    with tab.expect_navigation():  # a plain form post, then a redirect back to the page
        vote.click()
    assert tab.url == f"{site.url}/papers/{site.math_paper}"
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(vote.locator(".count")).to_have_text(str(before + 1))

    save = tab.locator(".paper-actions .save-button")
    with tab.expect_navigation():
        save.click()
    expect(save).to_have_attribute("aria-pressed", "true")

    post_comment(tab, "Works *without* scripts.")
    expect(tab.locator("article.comment").last.locator("em")).to_have_text("without")
    traffic.assert_clean()


def test_subscribing_by_email_from_a_search(new_context: NewContext, site: Site) -> None:
    """From a search to a saved-search alert: the search page's link fills in the query; the
    form asks for an address, then says what became of the confirmation link (this site has
    no mail server configured: it says so)."""
    context, traffic = new_context()
    tab = context.new_page()
    tab.goto(f"{site.url}/search?q=video+generation")
    tab.get_by_role("link", name="Email me new papers matching this").click()
    expect(tab).to_have_url(re.compile(r"/subscribe\?kind=search&q=video"))
    expect(tab.get_by_label("New papers matching a search")).to_be_checked()
    expect(tab.get_by_label("Search (for search alerts")).to_have_value("video generation")
    tab.get_by_label("How often").select_option("weekly")
    tab.get_by_label("Email address").fill("reader@example.org")
    tab.get_by_role("button", name="Subscribe").click()
    expect(tab.get_by_role("status")).to_contain_text("no mail server is configured here")
    expect(tab.get_by_role("status")).to_contain_text("reader@example.org")
    expect(tab.get_by_role("status")).to_contain_text(
        "a weekly alert for new papers matching \u2018video generation\u2019"
    )
    traffic.assert_clean()
