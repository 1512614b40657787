"""arXiv OAI-PMH: the parser on real recorded answers, the connector against the replay server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from _live_helpers import OAI_DATA, REAL_OAI_IDS, FakeClock, OaiReplay
from replay_server import ReplayServer, Response

from paperfeed.errors import SourceError
from paperfeed.live.connector import SourceSpec
from paperfeed.live.http import PoliteClient
from paperfeed.live.oai import OaiError, pages, parse_response

UA = "paperfeed-tests/1 (mailto:tests@example.org)"


def _read(name: str) -> str:
    return (OAI_DATA / name).read_text()


# -- the parser, on real answers -----------------------------------------------------------


def test_real_list_records_page_gives_records_token_and_date() -> None:
    page = parse_response(_read("ListRecordsResponse.xml"), "ListRecordsResponse.xml")
    assert [r.arxiv_id for r in page.records] == REAL_OAI_IDS[:6]
    assert page.token == "726959|1001"
    assert page.complete_list_size == 58011
    assert page.response_date == "2015-01-06T20:49:59Z"
    assert page.problems == [] and page.deleted == []


def test_arxivraw_record_keeps_versions_dates_and_first_doi() -> None:
    page = parse_response(_read("ListRecordsResponse.xml"), "x")
    shetty = page.records[0]
    assert shetty.title == (
        "Density dependence of the symmetry energy and the nuclear equation of state: "
        "A Dynamical and Statistical model perspective"
    )
    assert shetty.authors == ["D.V. Shetty", "S.J. Yennello", "G.A. Souliotis"]
    assert shetty.categories == ["nucl-ex", "nucl-th"]
    assert shetty.doi == "10.1103/PhysRevC.76.024606"  # arXiv lists the erratum's DOI second
    assert shetty.abstract.startswith("The density dependence of the symmetry energy")
    assert 'an extremely " stiff "' in shetty.abstract  # &quot; decoded
    richard = page.records[1]
    assert richard.version == 4
    assert richard.published == datetime(2007, 4, 5, 12, 45, 3, tzinfo=UTC)
    assert richard.updated == datetime(2008, 11, 14, 9, 7, 25, tzinfo=UTC)
    assert richard.journal_ref and richard.journal_ref.startswith("Polygons, polyominoes")
    assert richard.abs_url == "https://arxiv.org/abs/0704.0716"


def test_get_record_answer_parses_too() -> None:
    [record] = parse_response(_read("GetRecordResponse.xml"), "x").records
    assert record.arxiv_id == "1302.2146"
    assert record.authors == [
        "Joshua Berger",
        "Maxim Perelstein",
        "Michael Saelim",
        "Philip Tanedo",
    ]
    assert record.version == 2


def test_arxiv_format_record_joins_forenames_and_keyname() -> None:
    page = parse_response(_read("ListRecords_arXiv_format_invenio.xml"), "x")
    [record] = page.records
    assert record.arxiv_id == "0801.3931"
    assert record.authors == ["T. Manos", "E. Athanassoula"]
    assert record.published == datetime(2008, 1, 25, tzinfo=UTC)
    assert record.version is None  # the arXiv format carries no version numbers
    assert record.doi == "10.1007/978-3-540-75826-6_11"
    assert page.token is None  # no resumptionToken: the list is complete


def test_no_records_match_is_an_empty_answer() -> None:
    page = parse_response(_read("ErrorResponseNoRecordsMatch.xml"), "x")
    assert page.records == [] and page.token is None
    assert page.response_date == "2015-06-23T13:28:30Z"


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("ErrorResponseBadResumptionToken.xml", "badResumptionToken", "illegal for this"),
        ("ErrorResponseBadArgument.xml", "badArgument", "illegal argument 'identifier'"),
        ("ErrorResponseBadVerb.xml", "badVerb", "Verb 'wah' not implemented"),
        ("ErrorResponseIdDoesNotExist.xml", "idDoesNotExist", "oai:arXiv.org:0813.2274"),
    ],
)
def test_oai_errors_raise_with_code_and_message(name: str, code: str, message: str) -> None:
    with pytest.raises(OaiError, match=message) as raised:
        parse_response(_read(name), "https://oai.example/oai?verb=ListRecords")
    assert raised.value.code == code
    assert "https://oai.example/oai?verb=ListRecords" in str(raised.value)


def test_cut_off_xml_names_the_url() -> None:
    text = _read("ListRecordsResponse.xml")
    with pytest.raises(SourceError, match=r"^http://h/oai\?x=1: not an OAI-PMH XML response"):
        parse_response(text[: len(text) // 2], "http://h/oai?x=1")


def test_a_bad_record_is_a_problem_not_a_failure() -> None:
    text = _read("ListRecordsResponse.xml").replace("<id>0704.0716</id>", "<id>nonsense</id>", 1)
    page = parse_response(text, "page.xml")
    assert len(page.records) == 5
    [problem] = page.problems
    assert "oai:arXiv.org:0704.0716" in str(problem) and "'nonsense'" in str(problem)


def test_deleted_records_are_listed_apart() -> None:
    text = _read("ListRecordsResponse.xml").replace(
        "<header>\n <identifier>oai:arXiv.org:0704.0874",
        '<header status="deleted">\n <identifier>oai:arXiv.org:0704.0874',
    )
    page = parse_response(text, "x")
    assert page.deleted == ["0704.0874"]
    assert "0704.0874" not in [r.arxiv_id for r in page.records]


# -- the connector, against the replay server -------------------------------------------------


@pytest.fixture
def client(fake_clock: FakeClock) -> Iterator[PoliteClient]:
    with PoliteClient(UA, timeout=5, sleep=fake_clock.sleep, clock=fake_clock) as client:
        yield client


def _spec(url: str, **params: object) -> SourceSpec:
    return SourceSpec("oai-test", "arxiv-oai", {"metadata_prefix": "arXivRaw", **params}, url)


def test_pages_follow_resumption_tokens_to_the_end(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    replay = OaiReplay(replay_server, per_page=3)
    spec = _spec(replay.url, set="physics", **{"from": "2014-10-01"})
    got = list(pages(client, spec, {}))
    assert [[r.arxiv_id for r in p.records] for p in got] == [
        REAL_OAI_IDS[0:3],
        REAL_OAI_IDS[3:6],
        REAL_OAI_IDS[6:7],
    ]
    first, *rest = replay_server.requests
    assert first.query == {
        "verb": "ListRecords",
        "metadataPrefix": "arXivRaw",
        "set": "physics",
        "from": "2014-10-01",
    }
    # OAI-PMH: a token request carries the token and nothing else.
    assert [r.query for r in rest] == [
        {"verb": "ListRecords", "resumptionToken": token} for token in replay.tokens
    ]
    # Mid-window the cursor holds the token; at the end, the next window's from.
    assert got[0].next_cursor == {
        "from": "2014-10-01",
        "token": "726959|4",
        "window_until": "2015-01-06T20:49:59Z",
    }
    assert got[-1].next_cursor == {"from": "2015-01-06"}
    assert {p.window for p in got} == {("2014-10-01", "2015-01-06T20:49:59Z")}


def test_a_cursor_with_a_token_resumes_mid_window(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    replay = OaiReplay(replay_server, per_page=3)
    cursor = {"from": "2014-10-01", "token": replay.tokens[1], "window_until": "2015-01-06"}
    got = list(pages(client, _spec(replay.url), cursor))
    assert [r.arxiv_id for p in got for r in p.records] == REAL_OAI_IDS[6:]
    assert replay.page_requests(replay_server) == [replay.tokens[1]]


def test_an_expired_token_restarts_the_window_and_says_so(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    replay = OaiReplay(replay_server, per_page=3)
    replay.expire(replay.tokens[0])
    cursor = {"from": "2014-10-01", "token": replay.tokens[0], "window_until": "2015-01-06"}
    got = list(pages(client, _spec(replay.url), cursor))
    assert replay.page_requests(replay_server) == [replay.tokens[0], 0, *replay.tokens]
    assert got[0].note == "resumption token expired; restarted the window from 2014-10-01"
    assert [r.arxiv_id for p in got for r in p.records] == REAL_OAI_IDS
    assert replay_server.requests[1].query["from"] == "2014-10-01"


def test_no_records_match_ends_the_window_at_the_response_date(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    replay_server.add("/oai", _response(_read("ErrorResponseNoRecordsMatch.xml")))
    [page] = pages(client, _spec(replay_server.url_for("/oai"), set="moo"), {"from": "2015-06-01"})
    assert page.records == []
    assert page.next_cursor == {"from": "2015-06-23"}


def test_categories_keep_only_matching_records(
    replay_server: ReplayServer, client: PoliteClient
) -> None:
    replay = OaiReplay(replay_server, per_page=7)
    [page] = pages(client, _spec(replay.url, categories=["nucl-th", "gr-qc"]), {})
    assert [r.arxiv_id for r in page.records] == ["0704.0471", "0704.1109", "0704.1586"]
    assert page.skipped == 4


def _response(body: str) -> Response:
    return Response(body=body, content_type="text/xml; charset=utf-8")
