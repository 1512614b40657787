"""Hugging Face daily papers, day by day, against real recorded days on the replay server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from _live_helpers import FakeClock, serve_hf_days
from replay_server import ReplayServer

from paperfeed.errors import SourceError
from paperfeed.live.connector import SourceSpec
from paperfeed.live.hf_daily import pages
from paperfeed.live.http import PoliteClient

UA = "paperfeed-tests/1 (mailto:tests@example.org)"


@pytest.fixture
def client(fake_clock: FakeClock) -> Iterator[PoliteClient]:
    with PoliteClient(UA, timeout=5, sleep=fake_clock.sleep, clock=fake_clock) as client:
        yield client


def _spec(server: ReplayServer, **params: str) -> SourceSpec:
    return SourceSpec("hf", "hf-daily", params, server.url_for("/api"))


def test_one_request_per_day_weekend_days_are_empty(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    serve_hf_days(replay_server)
    spec = _spec(replay_server, **{"from": "2026-08-13", "until": "2026-08-19"})
    got = list(pages(client, spec, {}))
    asked = [r.query["date"] for r in replay_server.requests]
    assert asked == [f"2026-08-{d}" for d in range(13, 20)]
    assert [len(p.records) for p in got] == [20, 23, 0, 0, 23, 29, 26]  # 15th/16th: weekend
    assert [p.next_cursor["next_day"] for p in got] == [f"2026-08-{d}" for d in range(14, 21)]
    assert got[-1].window == ("2026-08-13", "2026-08-19")


def test_listings_carry_hf_upvotes_and_comments(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    serve_hf_days(replay_server)
    spec = _spec(replay_server, **{"from": "2026-08-19", "until": "2026-08-19"})
    [page] = pages(client, spec, {})
    by_id = {r.arxiv_id: r for r in page.records}
    [listing] = by_id["2608.12313"].listings  # re-submitted: 2 upvotes on the 13th, 27 now
    assert (listing.source, listing.day, listing.upvotes) == ("hf-daily", date(2026, 8, 19), 27)
    assert listing.comments is not None


def test_the_cursor_resumes_and_today_is_asked_again(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    serve_hf_days(replay_server)
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    got = list(pages(client, _spec(replay_server), {"next_day": yesterday.isoformat()}))
    assert [r.query["date"] for r in replay_server.requests] == [
        yesterday.isoformat(),
        today.isoformat(),
    ]
    # Today's list is still growing: the next run asks for it again.
    assert [p.next_cursor for p in got] == [
        {"next_day": today.isoformat()},
        {"next_day": today.isoformat()},
    ]


def test_a_cut_off_answer_is_a_source_error_naming_the_url(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    serve_hf_days(replay_server)
    replay_server.malformed_next()
    spec = _spec(replay_server, **{"from": "2026-08-13", "until": "2026-08-13"})
    with pytest.raises(SourceError, match=r"/api/daily_papers\?date=2026-08-13: not JSON"):
        list(pages(client, spec, {}))
