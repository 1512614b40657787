"""Every screen at desktop and phone width, light and dark: axe-core finds no serious or
critical accessibility problem, and a full-page screenshot of each is kept for a person to
look at (in the test's tmp dir, and in ``$PAPERFEED_SCREENSHOTS`` when set)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _browser_helpers import DESKTOP, NewContext, Reader, Site, browser_test, settle
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

pytestmark = browser_test

PHONE_390 = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE_390}
# The axe rules that judge the page's own markup and colours (WCAG 2.x A/AA and best practice).
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
}
BLOCKING = ("serious", "critical")


def screens(site: Site) -> dict[str, str]:
    """Every screen, by name: the reader's library is the one that needs a login."""
    return {
        "feed": "/",
        "week": "/week",
        "month": "/month",
        "search": "/search?q=video+generation",
        "paper": f"/papers/{site.math_paper}",
        "login": "/login",
        "signup": "/signup",
        "subscribe": "/subscribe",
        "about": "/about",
        "docs": "/docs",
        "trending": "/trending",
        "library": "/library",
    }


def _ready(tab: Page, name: str) -> None:
    settle(tab)
    if name == "docs":
        expect(tab.locator(".opblock").first).to_be_visible()
    if name == "paper":
        expect(tab.locator(".abstract-full .katex").first).to_be_visible()


def _problems(axe: Axe, tab: Page) -> list[str]:
    found = axe.run(tab, options=AXE_OPTIONS).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:4])
        for v in found
        if v["impact"] in BLOCKING
    ]


# Each scheme and each width once by default; the other two pairings with the slow tests
# (one pairing takes ~30 s here: /docs alone loads a 1.5 MB script).
PAIRINGS = [
    pytest.param("light", "desktop", id="light-desktop"),
    pytest.param("dark", "phone", id="dark-phone"),
    pytest.param("light", "phone", id="light-phone", marks=pytest.mark.slow),
    pytest.param("dark", "desktop", id="dark-desktop", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("scheme", "size"), PAIRINGS)
def test_every_screen_has_no_serious_accessibility_problem_and_is_photographed(
    new_context: NewContext, site: Site, reader: Reader, tmp_path: Path, scheme: str, size: str
) -> None:
    folders = [tmp_path]
    if os.environ.get("PAPERFEED_SCREENSHOTS"):
        folders.append(Path(os.environ["PAPERFEED_SCREENSHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    problems: dict[str, list[str]] = {}
    context, traffic = new_context(
        viewport=SIZES[size], color_scheme=scheme, storage_state=reader.storage_state
    )
    tab = context.new_page()
    for name, path in screens(site).items():
        tab.goto(site.url + path)
        _ready(tab, name)
        found = _problems(axe, tab)
        if found:
            problems[name] = found
        shot = tab.screenshot(full_page=True)
        assert len(shot) > 5000, f"{name}: an empty screenshot?"
        for folder in folders:
            (folder / f"{name}-{size}-{scheme}.png").write_bytes(shot)
    traffic.assert_clean()
    assert problems == {}, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in problems.items())
    assert len(list(tmp_path.glob("*.png"))) == len(screens(site))


@pytest.mark.parametrize("path", ["/", "/search?q=video", "/papers/{paper}", "/subscribe"])
def test_the_phone_header_is_one_row_with_one_search_box(
    new_context: NewContext, site: Site, path: str
) -> None:
    context, traffic = new_context(viewport=PHONE_390)
    tab = context.new_page()
    tab.goto(site.url + path.format(paper=site.math_paper))
    header = tab.locator("header.top").bounding_box()
    assert header is not None and header["height"] < 70, header
    assert tab.locator("form[role=search] input[type=search]:visible").count() == 1
    # The sections and the account links are in the menu, which opens without script.
    expect(tab.locator("nav.sections")).to_be_hidden()
    menu = tab.locator("details.menu")
    expect(menu.get_by_role("link", name="Trending")).to_be_hidden()
    menu.locator("summary").click()
    expect(menu.get_by_role("link", name="Trending")).to_be_visible()
    expect(menu.get_by_role("link", name="Log in")).to_be_visible()
    tab.keyboard.press("Escape")
    expect(menu.get_by_role("link", name="Trending")).to_be_hidden()
    traffic.assert_clean()


def test_the_menu_works_without_javascript(new_context: NewContext, site: Site) -> None:
    context, traffic = new_context(viewport=PHONE_390, java_script_enabled=False)
    tab = context.new_page()
    tab.goto(site.url + "/")
    tab.locator("details.menu summary").click()
    tab.locator("details.menu").get_by_role("link", name="Trending").click()
    expect(tab).to_have_url(site.url + "/trending")
    traffic.assert_clean()


@pytest.mark.parametrize(("size", "open_"), [("phone", False), ("desktop", True)])
def test_search_filters_fold_on_a_phone_and_open_on_a_desktop(
    new_context: NewContext, site: Site, size: str, open_: bool
) -> None:
    context, traffic = new_context(viewport=SIZES[size])
    tab = context.new_page()
    tab.goto(site.url + "/search?q=video")
    settle(tab)
    category = tab.get_by_label("Category")
    if open_:
        expect(category).to_be_visible()
    else:
        expect(category).to_be_hidden()
        tab.locator("details.filters summary").click()
        expect(category).to_be_visible()
    # A filter that is set shows, whatever the width.
    tab.goto(site.url + "/search?q=video&cat=cs.CV")
    expect(tab.get_by_label("Category")).to_have_value("cs.CV")
    expect(tab.get_by_label("Category")).to_be_visible()
    traffic.assert_clean()


def test_the_date_picker_and_the_day_links_walk_the_feed(
    new_context: NewContext, site: Site
) -> None:
    context, traffic = new_context()
    tab = context.new_page()
    tab.goto(site.url + "/")
    latest = tab.locator("#feed-day").input_value()
    tab.locator("nav.days a[rel=prev]").click()
    expect(tab).to_have_url(f"{site.url}/?day={tab.locator('#feed-day').input_value()}")
    assert tab.locator("#feed-day").input_value() < latest
    assert tab.locator("article.card").count() > 0  # a day link never leads to an empty day
    # Picking a day in the month view goes to that day's month, by script (on change).
    tab.goto(site.url + "/month")
    first = tab.locator("#feed-day").get_attribute("min")
    assert first
    tab.locator("#feed-day").fill(first)
    tab.wait_for_url(f"{site.url}/month/{first[:7]}")
    assert tab.locator("article.card").count() > 0
    traffic.assert_clean()


def test_subscribing_keeps_the_form_still_and_says_no_mail_server_is_set(
    new_context: NewContext, site: Site
) -> None:
    context, traffic = new_context(viewport=PHONE_390)
    tab = context.new_page()
    tab.goto(site.url + "/subscribe")
    radios = tab.locator("input[name=kind]")

    def places() -> list[float]:
        return [radios.nth(i).bounding_box()["y"] for i in range(radios.count())]  # type: ignore[index]

    before = places()
    tab.get_by_label("New papers matching a search").check()
    assert places() == before
    tab.get_by_label("Search (for search alerts").fill("diffusion models")
    tab.get_by_label("Email address").fill("screens@example.org")
    tab.get_by_role("button", name="Subscribe").click()
    notice = tab.locator("p.notice-box[role=status]")
    expect(notice).to_contain_text("no mail server is configured here")
    assert places() == before  # the notice comes after the form: nothing above it moves
    form_box, notice_box = tab.locator("form.subscribe-form").bounding_box(), notice.bounding_box()
    assert form_box and notice_box and notice_box["y"] >= form_box["y"] + form_box["height"]
    traffic.assert_clean()
