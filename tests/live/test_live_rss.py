"""arXiv RSS listings: the parser on a real feed, conditional GET against the replay server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from _live_helpers import RSS_FILE, FakeClock
from replay_server import ReplayServer, Response

from paperfeed.errors import SourceError
from paperfeed.live.connector import SourceSpec
from paperfeed.live.http import PoliteClient
from paperfeed.live.rss import pages, parse_feed

UA = "paperfeed-tests/1 (mailto:tests@example.org)"
ETAG = '"rss-2026-09-24"'
IDS = ["2609.26811", "2609.26820", "2205.06398", "2009.13987"]


def test_real_feed_gives_every_announcement_with_its_day() -> None:
    listing = parse_feed(RSS_FILE.read_text(), "feed.xml")
    assert listing.day == date(2026, 9, 24)  # the announcement day, in arXiv's time zone
    assert [r.arxiv_id for r in listing.records] == IDS
    assert listing.announce_types == dict(zip(IDS, ["new", "new", "cross", "replace"], strict=True))
    assert listing.problems == []
    for record in listing.records:
        assert [(x.source, x.day) for x in record.listings] == [("arxiv-rss", date(2026, 9, 24))]


def test_items_carry_title_abstract_authors_categories_doi() -> None:
    first, second, cross, replaced = parse_feed(RSS_FILE.read_text(), "feed.xml").records
    assert first.title == ("The Drift Contract: Spectral Updates for Depth-Robust Local Learning")
    assert first.abstract.startswith("Local learning trains each layer with its own auxiliary")
    assert "Announce Type" not in first.abstract
    assert first.authors == ["Fabien Polly"]
    assert second.authors == ["Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan"]
    assert second.categories == ["cs.LG", "cs.AI"]
    assert cross.categories == ["stat.ME", "stat.AP", "stat.ML"]
    assert cross.doi == "10.1093/bioinformatics/btac431"
    assert (replaced.arxiv_id, replaced.version) == ("2009.13987", 3)
    assert first.abs_url == "https://arxiv.org/abs/2609.26811"


def test_not_rss_is_a_source_error() -> None:
    with pytest.raises(SourceError, match=r"^u: not an RSS feed \(root element <feed>\)"):
        parse_feed("<feed/>", "u")
    with pytest.raises(SourceError, match=r"^u: not an XML RSS feed"):
        parse_feed(RSS_FILE.read_text()[:4000], "u")


@pytest.fixture
def client(fake_clock: FakeClock) -> Iterator[PoliteClient]:
    with PoliteClient(UA, timeout=5, sleep=fake_clock.sleep, clock=fake_clock) as client:
        yield client


def test_feed_url_names_the_categories_and_304_means_nothing_new(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    path = "/rss/cs.LG+cs.AI+cs.CL+stat.ML"
    replay_server.add(
        path, Response(body=RSS_FILE.read_text(), content_type="application/rss+xml", etag=ETAG)
    )
    spec = SourceSpec(
        "ml",
        "arxiv-rss",
        {"categories": ["cs.LG", "cs.AI", "cs.CL", "stat.ML"]},
        replay_server.url_for("/rss"),
    )
    [page] = pages(client, spec, {})
    assert [r.arxiv_id for r in page.records] == IDS
    assert page.next_cursor == {"etag": ETAG, "last_modified": None, "day": "2026-09-24"}
    assert page.window == ("2026-09-24", "2026-09-24")

    [again] = pages(client, spec, page.next_cursor)
    assert again.records == []
    assert again.next_cursor == page.next_cursor
    assert again.note == "feed not modified since the last run"
    first, second = replay_server.requests
    assert first.path == path and "if-none-match" not in first.headers
    assert second.headers["if-none-match"] == ETAG
