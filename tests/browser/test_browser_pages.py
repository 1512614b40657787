"""How the pages behave in Chromium: math, keyboard use, labels, phone width, dark mode.
(Screenshots of every screen, with axe-core's verdict: ``test_browser_screens``.)"""

from __future__ import annotations

import pytest
from _browser_helpers import (
    OVERFLOW_JS,
    PHONE,
    UNLABELLED_JS,
    NewContext,
    Reader,
    Site,
    Traffic,
    browser_test,
    contrast,
    luminance,
    settle,
    sign_up,
)
from playwright.sync_api import Page, expect

pytestmark = browser_test


def _pages(site: Site) -> dict[str, str]:
    """The pages the phone check covers, by name."""
    return {
        "feed": "/",
        "week": "/week",
        "month": "/month",
        "subscribe": "/subscribe",
        "about": "/about",
        "docs": "/docs",
        "search": "/search?q=video+generation",
        "paper": f"/papers/{site.math_paper}",
        "library": "/library",
        "trending": "/trending",
        "signup": "/signup",
        "subscriptions": "/settings/subscriptions",
    }


def test_abstract_math_renders_with_katex(page: tuple[Page, Traffic], site: Site) -> None:
    tab, traffic = page
    tab.goto(f"{site.url}/papers/{site.math_paper}")
    abstract = tab.locator(".abstract-full")
    expect(abstract.locator(".katex").first).to_be_visible()
    expect(abstract.locator(".katex-error")).to_have_count(0)
    assert "\\(" not in abstract.inner_text()  # every delimiter was consumed
    settle(tab)
    traffic.assert_clean()  # KaTeX's script, stylesheet and fonts are all served locally
    assert any("/static/vendor/katex/fonts/" in url for url in traffic.requests)


def test_tab_reaches_the_skip_link_then_the_search_box(
    page: tuple[Page, Traffic], site: Site
) -> None:
    tab, traffic = page
    tab.goto(site.url + "/")
    tab.keyboard.press("Tab")
    skip = tab.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, "the focused skip link is off screen"
    stops = []  # what each further Tab focuses: the brand, the sections, then the search box
    for _ in range(6):
        tab.keyboard.press("Tab")
        stops.append(tab.evaluate("(e => e.id || e.textContent)(document.activeElement)"))
    assert "q" in stops, f"the header search box is not among the next 6 tab stops: {stops}"
    traffic.assert_clean()


def test_vote_button_works_from_the_keyboard(page: tuple[Page, Traffic], site: Site) -> None:
    tab, traffic = page
    sign_up(tab, site.url, "keyboard")
    tab.goto(site.url + "/")
    vote = tab.locator("article.card .vote-button").nth(1)
    count = vote.locator(".count")
    before = int(count.inner_text())
    vote.focus()
    tab.keyboard.press("Enter")
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(count).to_have_text(str(before + 1))
    expect(vote).to_be_focused()  # updated in place: focus stays where it was
    tab.keyboard.press("Space")
    expect(vote).to_have_attribute("aria-pressed", "false")
    expect(count).to_have_text(str(before))
    traffic.assert_clean()


def test_every_form_field_has_a_label(new_context: NewContext, site: Site, reader: Reader) -> None:
    anonymous, traffic = new_context()
    logged_in, logged_traffic = new_context(storage_state=reader.storage_state)
    tab = anonymous.new_page()
    for path in ("/signup", "/login", "/search?q=video", "/", "/subscribe"):
        tab.goto(site.url + path)
        assert tab.evaluate(UNLABELLED_JS) == [], path
    tab = logged_in.new_page()
    tab.goto(f"{site.url}/papers/{site.math_paper}")
    expect(tab.locator("textarea#comment-body")).to_be_visible()  # the comment form is there
    assert tab.evaluate(UNLABELLED_JS) == []
    tab.goto(f"{site.url}/settings/subscriptions")
    assert tab.evaluate(UNLABELLED_JS) == []
    traffic.assert_clean()
    logged_traffic.assert_clean()


def test_phone_width_pages_do_not_scroll_sideways(
    new_context: NewContext, site: Site, reader: Reader
) -> None:
    context, traffic = new_context(viewport=PHONE, storage_state=reader.storage_state)
    tab = context.new_page()
    too_wide = {}
    for name, path in _pages(site).items():
        tab.goto(site.url + path)
        settle(tab)
        sizes = tab.evaluate(OVERFLOW_JS)
        if sizes["scrollWidth"] > sizes["innerWidth"] + 1:
            too_wide[name] = sizes
    assert too_wide == {}
    traffic.assert_clean()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colour_scheme_follows_the_system(new_context: NewContext, site: Site, scheme: str) -> None:
    context, traffic = new_context(color_scheme=scheme)
    tab = context.new_page()
    tab.goto(site.url + "/")
    background = luminance(tab, "body")
    if scheme == "dark":
        assert background < 0.05
    else:
        assert background > 0.9
    # Body text and card titles stay readable on their backgrounds (WCAG AA: 4.5).
    assert contrast(background, luminance(tab, "body", "color")) >= 4.5
    card_title = luminance(tab, "article.card h2 a", "color")
    assert contrast(luminance(tab, "article.card"), card_title) >= 4.5
    traffic.assert_clean()
