"""arXiv id lookups: what users paste, and real recorded API answers served locally."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from _live_helpers import ARXIV_DATA, FakeClock
from replay_server import ReplayServer, load_recording

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.errors import NotFoundError, QueryError, SourceError
from paperfeed.live.arxiv_api import ArxivApi, parse_arxiv_ref
from paperfeed.live.arxiv_api import pages as query_pages
from paperfeed.live.connector import SourceSpec
from paperfeed.live.http import PoliteClient

ATOM = "{http://www.w3.org/2005/Atom}"
UA = "paperfeed-tests/1 (mailto:tests@example.org)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2401.12345", "2401.12345"),
        ("2401.12345v2", "2401.12345"),
        ("arXiv:2401.12345", "2401.12345"),
        ("arxiv: 2401.12345v1", "2401.12345"),
        ("https://arxiv.org/abs/2401.12345v3", "2401.12345"),
        ("http://arxiv.org/pdf/2401.12345v1.pdf", "2401.12345"),
        ("https://arxiv.org/pdf/2401.12345", "2401.12345"),
        ("https://export.arxiv.org/abs/2401.12345?context=cs#top", "2401.12345"),
        ("arxiv.org/abs/2401.12345/", "2401.12345"),
        ("0704.0001", "0704.0001"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("https://arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001"),
        ("math.AG/0601001v1", "math.AG/0601001"),
        ("  \t2401.12345v2\n", "2401.12345"),
    ],
)
def test_parse_arxiv_ref_accepts_what_users_paste(text: str, expected: str) -> None:
    assert parse_arxiv_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "2401.123",
        "2401.12345v",
        "arXiv:",
        "hep-th/99010",
        "https://example.org/abs/2401.12345",
        "https://arxiv.org/list/cs.LG/recent",
        "10.1103/PhysRevB.85.115117",
        "2401.12345 2401.12346",
    ],
)
def test_parse_arxiv_ref_rejects_anything_else_saying_what_works(text: str) -> None:
    with pytest.raises(QueryError, match=r"not an arXiv id or link.*expected e\.g\. 2401\.12345"):
        parse_arxiv_ref(text)


def _recorded_entry(prefix: str) -> ET.Element:
    """The one <entry> of a recording, read straight from its XML (the expected values)."""
    [path] = ARXIV_DATA.glob(f"{prefix}_*.json")
    body = json.loads(path.read_text(encoding="utf-8"))["body"]
    [entry] = ET.fromstring(body).iterfind(f"{ATOM}entry")
    return entry


@pytest.fixture
def api(arxiv_url: str, fake_clock: FakeClock) -> Iterator[ArxivApi]:
    client = PoliteClient(
        UA, 5, min_interval={"127.0.0.1": 3.0}, sleep=fake_clock.sleep, clock=fake_clock
    )
    with client:
        yield ArxivApi(client, arxiv_url)


@pytest.fixture
def client(fake_clock: FakeClock) -> Iterator[PoliteClient]:
    with PoliteClient(UA, 5, sleep=fake_clock.sleep, clock=fake_clock) as client:
        yield client


def test_fetch_of_a_known_id_returns_the_recorded_paper(
    api: ArxivApi, replay_server: ReplayServer
) -> None:
    entry = _recorded_entry("id_1605.08386")
    record = api.fetch_one("https://arxiv.org/abs/1605.08386v1")
    assert record.title == entry.findtext(f"{ATOM}title")
    assert record.title == "Heat-bath random walks with Markov bases"
    assert record.authors == [a.findtext(f"{ATOM}name") for a in entry.iter(f"{ATOM}author")]
    assert record.authors == ["Caprice Stanley", "Tobias Windisch"]
    assert (record.arxiv_id, record.version) == ("1605.08386", 1)
    assert record.categories == ["math.CO", "math.ST"]
    [request] = replay_server.requests
    assert request.query == {"id_list": "1605.08386", "max_results": "1"}
    assert request.headers["user-agent"] == UA


def test_old_style_id_is_looked_up_with_its_archive(api: ArxivApi) -> None:
    entry = _recorded_entry("id_astro-ph_0601001")
    record = api.fetch_one("arXiv:astro-ph/0601001v1")
    assert record.arxiv_id == "astro-ph/0601001"
    assert record.title == entry.findtext(f"{ATOM}title")
    assert record.journal_ref == "ActaAstron.56:1-50,2006"


def test_unknown_id_is_not_found(api: ArxivApi) -> None:
    # arXiv answers 200 with an empty feed for a well-formed id it does not have.
    with pytest.raises(NotFoundError, match=r"not on arXiv: 0000\.0000$"):
        api.fetch_one("0000.0000")


def test_ids_missing_from_a_batch_are_named(api: ArxivApi) -> None:
    # Recorded: two ids asked, only 1707.08567 came back.
    with pytest.raises(NotFoundError) as raised:
        api.fetch(["0808.05394", "1707.08567"])
    assert str(raised.value) == "not on arXiv: 0808.05394"


def test_duplicate_refs_are_asked_once(api: ArxivApi, replay_server: ReplayServer) -> None:
    records = api.fetch(["1605.08386", "arXiv:1605.08386v1", "https://arxiv.org/pdf/1605.08386"])
    assert [r.arxiv_id for r in records] == ["1605.08386"]
    assert [r.query["id_list"] for r in replay_server.requests] == ["1605.08386"]


def test_requests_to_arxiv_are_three_seconds_apart(api: ArxivApi, fake_clock: FakeClock) -> None:
    api.fetch_one("1605.08386")
    api.fetch_one("astro-ph/0601001")
    assert fake_clock.sleeps == [3.0]


def test_malformed_xml_is_a_source_error(api: ArxivApi, replay_server: ReplayServer) -> None:
    replay_server.malformed_next()
    with pytest.raises(SourceError, match=r"id_list=1605\.08386.*not an XML Atom feed"):
        api.fetch_one("1605.08386")


def test_arxiv_error_entry_is_a_source_error_with_arxivs_message(
    api: ArxivApi, replay_server: ReplayServer
) -> None:
    # arXiv answers an id it cannot read with HTTP 400 and an Atom "Error" entry; our parser
    # rejects "abc" before asking, so serve that recorded answer for an id it lets through.
    [path] = ARXIV_DATA.glob("id_abc_*.json")
    replay_server.add("/api/query", load_recording(path).response)
    with pytest.raises(SourceError, match="arXiv API error: incorrect id format for abc"):
        api.fetch_one("hep-th/9901001")


def test_busy_arxiv_is_retried(
    api: ArxivApi, replay_server: ReplayServer, fake_clock: FakeClock
) -> None:
    replay_server.fail_next(503, retry_after=5)
    assert api.fetch_one("1605.08386").arxiv_id == "1605.08386"
    assert fake_clock.sleeps == [5.0]


def test_more_than_100_ids_are_asked_in_chunks(api: ArxivApi, replay_server: ReplayServer) -> None:
    [empty] = ARXIV_DATA.glob("id_0000.0000_*.json")
    replay_server.add("/api/query", load_recording(empty).response)
    ids = [f"2401.{n:05d}" for n in range(150)]
    with pytest.raises(NotFoundError) as raised:
        api.fetch(ids)
    sizes = [len(r.query["id_list"].split(",")) for r in replay_server.requests]
    assert sizes == [100, 50]
    assert [r.query["max_results"] for r in replay_server.requests] == ["100", "50"]
    assert "2401.00000" in str(raised.value) and "2401.00149" in str(raised.value)


def test_from_settings_uses_the_configured_url_and_identity(
    arxiv_url: str, replay_server: ReplayServer, fake_clock: FakeClock, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, arxiv_api_url=arxiv_url, contact_email="ops@example.org")
    api = ArxivApi.from_settings(settings, sleep=fake_clock.sleep, clock=fake_clock)
    try:
        api.fetch_one("1605.08386")
        api.fetch_one("1605.08386")
    finally:
        api.close()
    agents = {r.headers["user-agent"] for r in replay_server.requests}
    assert agents == {f"paperfeed/{__version__} (mailto:ops@example.org)"}
    assert fake_clock.sleeps == [3.0]


# -- query paging (the arxiv-api live source) -----------------------------------------------


def _serve_query_pages(server: ReplayServer) -> str:
    """The recorded pages of the query "testing" (start 0, 10, 20; 10 per page), chosen by
    ``start``: the recording client sorted by relevance, ours by last update, which changes
    the order of the entries but not how paging works."""
    by_start = {}
    for path in sorted((ARXIV_DATA / "query").glob("*.json")):
        recording = load_recording(path)
        by_start[recording.query["start"]] = recording.response
    server.add_matcher(
        lambda r: r.path == "/api/query" and "search_query" in r.query,
        lambda r: by_start[r.query["start"]],
    )
    return server.url_for("/api/query")


def test_query_pages_until_max_results(replay_server: ReplayServer, client: PoliteClient) -> None:
    url = _serve_query_pages(replay_server)
    spec = SourceSpec(
        "q", "arxiv-api", {"query": "testing", "page_size": 10, "max_results": 30}, url
    )
    got = list(query_pages(client, spec, {}))
    assert [len(p.records) for p in got] == [10, 10, 10]
    assert [r.query for r in replay_server.requests] == [
        {
            "search_query": "testing",
            "start": str(start),
            "max_results": "10",
            "sortBy": "lastUpdatedDate",
            "sortOrder": "descending",
        }
        for start in (0, 10, 20)
    ]
    assert got[0].next_cursor["start"] == 10
    newest = max(r.updated for p in got for r in p.records if r.updated)
    assert got[-1].next_cursor == {"since": newest.isoformat()}  # complete: start over next run


def test_next_query_run_stops_at_what_the_last_one_saw(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    url = _serve_query_pages(replay_server)
    spec = SourceSpec("q", "arxiv-api", {"query": "testing", "page_size": 10}, url)
    [page] = query_pages(client, spec, {"since": "2026-01-01T00:00:00+00:00"})
    assert len(replay_server.requests) == 1  # the first page already reaches older updates
    assert page.next_cursor == {"since": "2026-01-01T00:00:00+00:00"}  # nothing newer seen
