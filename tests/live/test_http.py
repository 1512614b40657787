"""PoliteClient against a real local server: identity, pacing, retries, conditional GET."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
from _live_helpers import FakeClock
from replay_server import ReplayServer, Response

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.errors import ConfigError, SourceError
from paperfeed.live.http import HttpStatusError, PoliteClient, default_user_agent

UA = "paperfeed-tests/1 (mailto:tests@example.org)"


@pytest.fixture
def server(replay_server: ReplayServer) -> ReplayServer:
    replay_server.add("/hello", Response(body="hello"))
    return replay_server


@pytest.fixture
def client(fake_clock: FakeClock) -> Iterator[PoliteClient]:
    with PoliteClient(UA, timeout=5, sleep=fake_clock.sleep, clock=fake_clock) as client:
        yield client


def test_every_request_carries_the_user_agent(server: ReplayServer, client: PoliteClient) -> None:
    client.get(server.url_for("/hello"))
    client.get(server.url_for("/hello"), params={"page": 2})
    assert [r.headers["user-agent"] for r in server.requests] == [UA, UA]
    assert server.requests[1].query == {"page": "2"}


def test_default_user_agent_names_version_and_contact(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, contact_email="ops@example.org")
    assert default_user_agent(settings) == f"paperfeed/{__version__} (mailto:ops@example.org)"
    custom = Settings(data_dir=tmp_path, user_agent="my-mirror/2 (ops@example.org)")
    assert default_user_agent(custom) == "my-mirror/2 (ops@example.org)"


def test_blank_user_agent_is_refused() -> None:
    with pytest.raises(ConfigError, match="User-Agent"):
        PoliteClient("  ", timeout=5)


def test_requests_to_a_paced_host_wait_their_turn(
    server: ReplayServer, fake_clock: FakeClock
) -> None:
    paced = PoliteClient(
        UA, 5, min_interval={"127.0.0.1": 3.0}, sleep=fake_clock.sleep, clock=fake_clock
    )
    with paced:
        for _ in range(3):
            paced.get(server.url_for("/hello"))
            fake_clock.now += 1.0  # time the caller spends between requests counts
    assert fake_clock.sleeps == [pytest.approx(2.0), pytest.approx(2.0)]
    assert len(server.requests) == 3


def test_other_hosts_are_not_paced(server: ReplayServer, fake_clock: FakeClock) -> None:
    paced = PoliteClient(
        UA, 5, min_interval={"export.arxiv.org": 3.0}, sleep=fake_clock.sleep, clock=fake_clock
    )
    with paced:
        for _ in range(3):
            paced.get(server.url_for("/hello"))
    assert fake_clock.sleeps == []


def test_spacing_is_real_on_the_wire(server: ReplayServer) -> None:
    with PoliteClient(UA, timeout=5, min_interval=0.2) as client:
        for _ in range(3):
            client.get(server.url_for("/hello"))
    arrivals = [r.at for r in server.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 2
    assert all(gap >= 0.18 for gap in gaps), gaps  # only a lower bound: no flaky upper bound


def test_503_with_retry_after_is_retried_then_succeeds(
    server: ReplayServer, client: PoliteClient, fake_clock: FakeClock
) -> None:
    server.fail_next(503, retry_after=7)
    result = client.get(server.url_for("/hello"))
    assert (result.status, result.text) == (200, "hello")
    assert fake_clock.sleeps == [7.0]
    assert len(server.requests) == 2


def test_retry_after_may_be_an_http_date(
    server: ReplayServer, client: PoliteClient, fake_clock: FakeClock
) -> None:
    server.fail_next(429, retry_after=formatdate(time.time() + 30, usegmt=True))
    assert client.get(server.url_for("/hello")).text == "hello"
    [wait] = fake_clock.sleeps
    assert 25 <= wait <= 31


def test_retry_after_is_capped(server: ReplayServer, fake_clock: FakeClock) -> None:
    server.fail_next(503, retry_after=3600)
    with PoliteClient(UA, 5, max_wait=120, sleep=fake_clock.sleep, clock=fake_clock) as client:
        client.get(server.url_for("/hello"))
    assert fake_clock.sleeps == [120]


def test_without_retry_after_the_wait_doubles(
    server: ReplayServer, client: PoliteClient, fake_clock: FakeClock
) -> None:
    server.fail_next(500, times=3)
    assert client.get(server.url_for("/hello")).text == "hello"
    assert fake_clock.sleeps == [1.0, 2.0, 4.0]


def test_gives_up_after_the_last_try_with_a_clear_error(
    server: ReplayServer, fake_clock: FakeClock
) -> None:
    server.fail_next(503, retry_after=1, times=3)
    url = server.url_for("/hello")
    with (
        PoliteClient(UA, 5, retries=2, sleep=fake_clock.sleep, clock=fake_clock) as client,
        pytest.raises(HttpStatusError) as raised,
    ):
        client.get(url)
    message = str(raised.value)
    assert url in message
    assert "HTTP 503" in message
    assert "3 tries" in message
    assert raised.value.status == 503
    assert len(server.requests) == 3


def test_dropped_connection_is_retried(
    server: ReplayServer, client: PoliteClient, fake_clock: FakeClock
) -> None:
    server.add("/big", Response(body="x" * 10_000))
    server.drop_next()
    assert client.get(server.url_for("/big")).text == "x" * 10_000
    assert len(server.requests) == 2
    assert fake_clock.sleeps == [1.0]


def test_connection_dropped_every_time_says_so(server: ReplayServer, fake_clock: FakeClock) -> None:
    server.drop_next(times=2)
    with (
        PoliteClient(UA, 5, retries=1, sleep=fake_clock.sleep, clock=fake_clock) as client,
        pytest.raises(SourceError, match=r"failed after 2 tries: connection broken"),
    ):
        client.get(server.url_for("/hello"))


def test_timeout_is_retried(server: ReplayServer) -> None:
    server.stall_next(1.0)
    with PoliteClient(UA, timeout=0.2, backoff=0.01) as client:
        assert client.get(server.url_for("/hello")).text == "hello"
    assert len(server.requests) == 2


def test_refused_connection_gives_up_with_the_url(fake_clock: FakeClock) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed"
    with (
        PoliteClient(UA, 5, retries=1, sleep=fake_clock.sleep, clock=fake_clock) as client,
        pytest.raises(SourceError, match=r"failed after 2 tries: cannot connect") as raised,
    ):
        client.get(url)
    assert url in str(raised.value)


def test_404_fails_at_once_with_status_and_excerpt(
    server: ReplayServer, client: PoliteClient, fake_clock: FakeClock
) -> None:
    server.add("/gone", Response(status=404, body="No such paper.\n" + "padding " * 200))
    with pytest.raises(HttpStatusError) as raised:
        client.get(server.url_for("/gone"))
    message = str(raised.value)
    assert "HTTP 404 Not Found: No such paper." in message
    assert len(message) < 400  # an excerpt, not the whole page
    assert raised.value.status == 404
    assert len(server.requests) == 1
    assert fake_clock.sleeps == []


def test_unsupported_scheme_is_a_source_error(client: PoliteClient) -> None:
    with pytest.raises(SourceError, match=r"ftp://example\.org/feed"):
        client.get("ftp://example.org/feed")


def test_etag_gives_304_and_keeps_the_validator(server: ReplayServer, client: PoliteClient) -> None:
    server.add("/feed", Response(body="<feed/>", etag='"v1"'))
    first = client.get(server.url_for("/feed"))
    assert (first.status, first.text, first.etag, first.not_modified) == (
        200,
        "<feed/>",
        '"v1"',
        False,
    )
    again = client.get(server.url_for("/feed"), etag=first.etag)
    assert again.not_modified
    assert (again.status, again.text, again.etag) == (304, "", '"v1"')
    assert server.requests[1].headers["if-none-match"] == '"v1"'


def test_changed_etag_gives_the_new_body(server: ReplayServer, client: PoliteClient) -> None:
    server.add("/feed", Response(body="<feed>new</feed>", etag='"v2"'))
    result = client.get(server.url_for("/feed"), etag='"v1"')
    assert (result.status, result.text, result.etag) == (200, "<feed>new</feed>", '"v2"')


def test_last_modified_gives_304(server: ReplayServer, client: PoliteClient) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    server.add("/feed", Response(body="<feed/>", last_modified=stamp))
    first = client.get(server.url_for("/feed"))
    assert first.last_modified == stamp
    again = client.get(server.url_for("/feed"), last_modified=first.last_modified)
    assert again.not_modified
    assert again.last_modified == stamp
    assert server.requests[1].headers["if-modified-since"] == stamp
