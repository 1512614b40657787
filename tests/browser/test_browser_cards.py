"""The feed's cards in Chromium with what Hugging Face says of each paper: a cached
thumbnail, the organisation, stars, the AI summary and its keywords, at phone and desktop
width, light and dark. Screenshots go to the test's tmp dir for a person to look at."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _browser_helpers import DESKTOP, OVERFLOW_JS, NewContext, Site, browser_test, settle
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select, update

from paperfeed.community import rank
from paperfeed.db import Paper
from paperfeed.live.media import media_dir

pytestmark = browser_test
PHONE_390 = {"width": 390, "height": 844}


def _thumbnail() -> bytes:
    """A 640x360 PNG, a gradient, as HF's social thumbnails are 16:9 images."""
    image = Image.new("RGB", (640, 360))
    image.putdata([(x * 255 // 640, 90, y * 255 // 360) for y in range(360) for x in range(640)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def thumbnails(site: Site) -> Iterator[list[str]]:
    """The latest day's first three papers get a cached thumbnail (taken back afterwards)."""
    body = _thumbnail()
    name = hashlib.sha256(b"test-thumbnail").hexdigest() + ".png"
    directory = media_dir(site.workspace.settings.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(body)
    feed = rank.feed(site.workspace, None, "day", "votes", limit=3)
    ids = [item.paper.id for item in feed.items]
    with site.workspace.db.session() as session:
        session.execute(update(Paper).where(Paper.id.in_(ids)).values(thumbnail=name))
    yield ids
    with site.workspace.db.session() as session:
        session.execute(update(Paper).where(Paper.id.in_(ids)).values(thumbnail=None))
        assert session.scalar(select(Paper.thumbnail).where(Paper.id == ids[0])) is None


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_feed_cards_with_thumbnails_at_phone_and_desktop_width(
    new_context: NewContext, site: Site, thumbnails: list[str], scheme: str, tmp_path: Path
) -> None:
    for size_name, size in (("phone", PHONE_390), ("desktop", DESKTOP)):
        context, traffic = new_context(viewport=size, color_scheme=scheme)
        tab = context.new_page()
        tab.goto(site.url + "/")
        settle(tab)
        card = tab.locator(f'article.card[data-paper="{thumbnails[0]}"]')
        image = card.locator(".thumb img")
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth") == 640
        assert (image.get_attribute("src") or "").startswith("/media/")
        box = image.bounding_box()
        assert box is not None and box["width"] > 100
        if size_name == "phone":  # full width above the title
            assert box["width"] > size["width"] * 0.6
        else:  # beside the text
            assert box["width"] < size["width"] * 0.3
        with_summary = tab.locator("article.card .ai-summary").first
        expect(with_summary).to_contain_text("AI summary")
        expect(tab.locator("article.card .keyword").first).to_be_visible()
        overflow = tab.evaluate(OVERFLOW_JS)
        assert overflow["scrollWidth"] <= overflow["innerWidth"], overflow
        shot = tmp_path / f"feed-cards-{scheme}-{size_name}.png"
        tab.screenshot(path=shot, full_page=False)
        assert shot.stat().st_size > 5000

        tab.goto(f"{site.url}/papers/{thumbnails[0]}")
        settle(tab)
        expect(tab.locator(".paper-thumb")).to_be_visible()
        expect(tab.locator(".paper .ai-summary")).to_contain_text("AI summary")
        first_author = tab.locator(".paper .authors a").first
        expect(first_author).to_have_attribute("href", re.compile("^/authors/"))
        overflow = tab.evaluate(OVERFLOW_JS)
        assert overflow["scrollWidth"] <= overflow["innerWidth"], overflow
        tab.screenshot(path=tmp_path / f"paper-{scheme}-{size_name}.png", full_page=True)

        first_author.click()  # the author's page: their papers and frequent co-authors
        expect(tab.locator("article.card").first).to_be_visible()
        expect(tab.locator(f'article.card[data-paper="{thumbnails[0]}"]')).to_have_count(1)
        overflow = tab.evaluate(OVERFLOW_JS)
        assert overflow["scrollWidth"] <= overflow["innerWidth"], overflow
        tab.screenshot(path=tmp_path / f"author-{scheme}-{size_name}.png", full_page=False)
        traffic.assert_clean()  # no request left our origin
