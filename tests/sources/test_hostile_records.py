"""Hostile records in every input format: each one is a problem naming file and line (or is
stored without the bad part), the good records around it are stored, and nothing stored can
run script in a page, break the indexes or an Atom feed, or overflow a column.

File formats go through the real ``ingest_files`` into a real SQLite database; the live
services' parsers are fed the same kinds of records as response bodies.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from _core_helpers import all_papers, paper_by_id
from _sources_helpers import split
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed import bounds
from paperfeed.catalog.ingest import IngestReport, ingest_files, upsert_records
from paperfeed.catalog.records import ListingRecord, PaperRecord, ParseProblem
from paperfeed.catalog.validate import (
    MAX_ABSTRACT_CHARS,
    MAX_AUTHORS,
    MAX_INT,
    MAX_TITLE_CHARS,
    PLAIN_URL,
    check_record,
)
from paperfeed.db import Paper
from paperfeed.errors import SourceError
from paperfeed.formats import arxiv_atom, get_format
from paperfeed.formats import hf_daily as hf_daily_source
from paperfeed.live import oai, rss
from paperfeed.search import search
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

DEEP_OBJECT = '{"a":' * 100_000
DEEP_ARRAY = "[" * 100_000
HUGE = 10**20
CONTROL = "\x00\x01\x08\x0b\x1b\x7f\x85\ud800"


def ingest(ws: Workspace, name: str, path: Path) -> IngestReport:
    return ingest_files(ws.db, get_format(name), [path])


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text(
        "".join(line + "\n" for line in lines), encoding="utf-8", errors="surrogatepass"
    )
    return path


def stored_ids(ws: Workspace) -> set[str]:
    return {paper.id for paper in all_papers(ws)}


def problems_at(report: IngestReport) -> dict[int, list[ParseProblem]]:
    found: dict[int, list[ParseProblem]] = {}
    for problem in report.problems:
        found.setdefault(problem.line, []).append(problem)
    return found


def assert_nothing_hostile_stored(ws: Workspace) -> None:
    """What every later reader (pages, feeds, indexes, the API) relies on."""
    for paper in all_papers(ws):
        texts = [paper.title, paper.abstract, *paper.authors, *paper.categories]
        texts += [paper.doi or "", paper.journal_ref or "", paper.comments or ""]
        for text in texts:
            assert not bounds.has_unprintable(text), (paper.id, text)
        for url in (paper.abs_url, paper.pdf_url, paper.code_url):
            assert url is None or bounds.safe_url(url) == url, (paper.id, url)
        for moment in (paper.published, paper.updated):
            assert moment is None or bounds.date_in_range(moment), (paper.id, moment)
        for listing in paper.listings:
            assert bounds.date_in_range(listing.day)
            for count in (listing.upvotes, listing.comments):
                assert count is None or 0 <= count <= MAX_INT
        assert paper.version is None or 1 <= paper.version <= MAX_INT


# -- our JSON-lines format: every kind of hostile record --------------------------------------


def _jsonl(arxiv_id: str, **fields: Any) -> str:
    obj: dict[str, Any] = {"title": f"Paper {arxiv_id}", "source": "jsonl", "arxiv_id": arxiv_id}
    obj.update(fields)
    return json.dumps(obj)


def test_jsonl_hostile_lines_are_problems_and_the_good_lines_around_them_are_stored(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_lines(
        tmp_path / "hostile.jsonl",
        _jsonl("2401.00001", abstract="good before"),  # 1
        DEEP_OBJECT,  # 2
        DEEP_ARRAY,  # 3
        '{"title": "T", "source": "jsonl", "version": ' + "9" * 5000 + "}",  # 4
        _jsonl("2401.00005", published="9999-12-31T00:00:00+00:00"),  # 5
        _jsonl("2401.00006", published="0001-01-01T00:00:00+00:00"),  # 6
        _jsonl("2401.00007", published="0001-01-01T00:00:00+01:00"),  # 7
        _jsonl("2401.00008", title=5),  # 8
        _jsonl("2401.00009", authors="not a list"),  # 9
        _jsonl("2401.00010", listings={"source": "x"}),  # 10
        _jsonl("2401.00011", listings=[{"source": "hf-daily", "day": 20240102}]),  # 11
        _jsonl("2401.00012", title="x" * (MAX_TITLE_CHARS + 1)),  # 12
        _jsonl("2401.00013", abstract="y" * (MAX_ABSTRACT_CHARS + 1)),  # 13
        _jsonl("9" * 100),  # 14
        json.dumps({"title": "Long source", "source": "s" * 100}),  # 15
        _jsonl("2401.00016", abstract="good after"),  # 16
    )
    report = ingest(workspace, "jsonl", path)

    assert stored_ids(workspace) == {"2401.00001", "2401.00016"}
    lines = problems_at(report)
    assert sorted(lines) == list(range(2, 16))
    assert all(len(found) == 1 and not found[0].kept for found in lines.values())
    assert "nested too deeply" in lines[2][0].reason
    assert "nested too deeply" in lines[3][0].reason
    assert "digits" in lines[4][0].reason
    assert "published 9999-12-31 is outside" in lines[5][0].reason
    assert "published 0001-01-01 is outside" in lines[6][0].reason
    assert "out of range" in lines[7][0].reason
    assert "title" in lines[8][0].reason
    assert "authors" in lines[9][0].reason
    assert "listings" in lines[10][0].reason
    assert "listing" in lines[11][0].reason
    assert f"limit {MAX_TITLE_CHARS:,}" in lines[12][0].reason
    assert f"limit {MAX_ABSTRACT_CHARS:,}" in lines[13][0].reason
    assert "not an arXiv id" in lines[14][0].reason
    assert "source" in lines[15][0].reason
    assert str(lines[5][0]).startswith(f"{path}:5: 2401.00005: published 9999-12-31")
    assert report.skipped == 14
    assert report.added == 2


def test_jsonl_unsafe_links_are_dropped_with_a_problem_and_the_paper_kept(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_lines(
        tmp_path / "links.jsonl",
        _jsonl(
            "2401.00001",
            abs_url="javascript:alert(document.cookie)",
            pdf_url="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            code_url=" JaVaScRiPt:alert(1)",
        ),
        _jsonl(
            "2401.00002",
            abs_url="https://arxiv.org/abs/2401.00002",
            code_url="vbscript:msgbox(1)",
        ),
        _jsonl("2401.00003", code_url="https://github.com/org/repo"),
        _jsonl("2401.00004", code_url="https://example.org/" + "a" * 3000),
        _jsonl("2401.00005", code_url="//evil.example/x"),
    )
    report = ingest(workspace, "jsonl", path)

    assert stored_ids(workspace) == {f"2401.0000{n}" for n in range(1, 6)}
    first = paper_by_id(workspace, "2401.00001")
    assert (first.abs_url, first.pdf_url, first.code_url) == (None, None, None)
    second = paper_by_id(workspace, "2401.00002")
    assert second.abs_url == "https://arxiv.org/abs/2401.00002"
    assert second.code_url is None
    assert paper_by_id(workspace, "2401.00003").code_url == "https://github.com/org/repo"
    assert paper_by_id(workspace, "2401.00004").code_url is None
    assert paper_by_id(workspace, "2401.00005").code_url is None
    lines = problems_at(report)
    assert {line: len(found) for line, found in lines.items()} == {1: 3, 2: 1, 4: 1, 5: 1}
    assert all(problem.kept for problem in report.problems)
    assert report.skipped == 0
    assert "code_url 'vbscript:msgbox(1)' is not an http(s) link" in lines[2][0].reason
    assert_nothing_hostile_stored(workspace)


def test_jsonl_control_characters_are_never_stored(workspace: Workspace, tmp_path: Path) -> None:
    record = {
        "title": f"Control{CONTROL} title",
        "source": "jsonl",
        "arxiv_id": "2401.00001",
        "abstract": f"An abstract\x0c with{CONTROL} junk",
        "authors": [f"Ada{CONTROL} Lovelace", CONTROL],
        "categories": [f"cs.CL{CONTROL}"],
        "comments": f"5 pages{CONTROL}",
        "journal_ref": "\x01",
    }
    path = tmp_path / "control.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")  # \u escapes: valid JSON
    report = ingest(workspace, "jsonl", path)

    paper = paper_by_id(workspace, "2401.00001")
    assert paper.title == "Control title"
    assert paper.abstract == "An abstract with junk"
    assert paper.authors == ["Ada Lovelace"]
    assert paper.categories == ["cs.CL"]
    assert paper.primary_category == "cs.CL"
    assert paper.comments == "5 pages"
    assert paper.journal_ref is None
    assert report.problems == []
    assert_nothing_hostile_stored(workspace)


def test_jsonl_out_of_range_counts_versions_and_details_are_dropped_not_the_paper(
    workspace: Workspace, tmp_path: Path
) -> None:
    hf = {"source": "hf-daily", "day": "2024-01-02"}
    path = write_lines(
        tmp_path / "numbers.jsonl",
        _jsonl("2401.00001", listings=[{**hf, "upvotes": HUGE, "comments": -1}]),
        _jsonl("2401.00002", version=HUGE),
        _jsonl("2401.00003", listings=[{**hf, "upvotes": MAX_INT, "comments": 0}], version=3),
        _jsonl("2401.00004", updated="9999-12-31T23:59:59+00:00"),
        _jsonl(
            "2401.00005",
            listings=[{"source": "hf-daily", "day": "9999-12-31"}, hf],
        ),
        _jsonl("2401.00006", doi="1" * 6000, authors=["A" * 600, "Real Name"]),
    )
    report = ingest(workspace, "jsonl", path)

    assert stored_ids(workspace) == {f"2401.0000{n}" for n in range(1, 7)}
    assert report.skipped == 0
    first = paper_by_id(workspace, "2401.00001")
    assert [(x.upvotes, x.comments) for x in first.listings] == [(None, None)]
    assert paper_by_id(workspace, "2401.00002").version is None
    third = paper_by_id(workspace, "2401.00003")
    assert [(x.upvotes, x.comments) for x in third.listings] == [(MAX_INT, 0)]
    assert third.version == 3
    assert paper_by_id(workspace, "2401.00004").updated is None
    assert [x.day for x in paper_by_id(workspace, "2401.00005").listings] == [date(2024, 1, 2)]
    sixth = paper_by_id(workspace, "2401.00006")
    assert (sixth.doi, sixth.authors) == (None, ["Real Name"])
    lines = problems_at(report)
    assert {line: len(found) for line, found in lines.items()} == {1: 2, 2: 1, 4: 1, 5: 1, 6: 2}
    assert "upvotes 100000000000000000000 is outside" in lines[1][0].reason
    assert_nothing_hostile_stored(workspace)


def test_too_many_authors_keep_the_first_ones(workspace: Workspace, tmp_path: Path) -> None:
    authors = [f"Author {n}" for n in range(MAX_AUTHORS + 5)]
    path = write_lines(tmp_path / "many.jsonl", _jsonl("2401.00001", authors=authors))
    report = ingest(workspace, "jsonl", path)
    assert paper_by_id(workspace, "2401.00001").authors == authors[:MAX_AUTHORS]
    assert [p.kept for p in report.problems] == [True]


def test_after_hostile_records_search_and_reindex_still_work(
    workspace: Workspace, tmp_path: Path
) -> None:
    """An out-of-range date once broke every later sync, search and ingest."""
    path = write_lines(
        tmp_path / "dates.jsonl",
        _jsonl("2401.00001", abstract="sparse attention", published="2024-01-02T00:00:00Z"),
        _jsonl("2401.00002", abstract="sparse attention", published="9999-12-31T00:00:00Z"),
        _jsonl("2401.00003", abstract="sparse attention", published="0001-01-01T00:00:00Z"),
        _jsonl("2401.00004", title=f"Sparse{CONTROL} attention", updated="9999-01-01T00:00:00Z"),
    )
    ingest(workspace, "jsonl", path)
    catch_up(workspace)
    found = {hit.paper.id for hit in search(workspace, "sparse attention").hits}
    assert found == {"2401.00001", "2401.00004"}
    catch_up(workspace)  # and again: nothing left to trip over
    assert ingest(workspace, "jsonl", path).problems  # a later ingest runs too


# -- the other file formats --------------------------------------------------------------------


def test_kaggle_hostile_lines(workspace: Workspace, tmp_path: Path) -> None:
    def line(arxiv_id: str, **fields: Any) -> str:
        obj: dict[str, Any] = {
            "id": arxiv_id,
            "title": f"Paper {arxiv_id}",
            "abstract": "An abstract.",
            "categories": "cs.CL",
            "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
        }
        obj.update(fields)
        return json.dumps(obj)

    path = write_lines(
        tmp_path / "snapshot.jsonl",
        line("0704.0001"),  # 1
        DEEP_OBJECT,  # 2
        line("0704.0003", versions=[{"version": "v1", "created": "Fri, 31 Dec 9999 0:0:0 GMT"}]),
        line("0704.0004", versions=[{"version": "v1", "created": "Wed, 1 Jan 1200 0:0:0 +0100"}]),
        line("0704.0005", categories=["cs.CL"]),  # 5
        line("0704.0006", versions={"v1": "x"}),  # 6
        line("0704.0007", authors_parsed=[5]),  # 7
        line("0704.0008", title=f"Control{CONTROL} title", abstract=f"x{CONTROL}y"),  # 8
        line("0704.0009", versions=[{"version": f"v{HUGE}", "created": "Mon, 2 Apr 2007 0:0:0"}]),
        line("0704.0010"),  # 10
    )
    report = ingest(workspace, "kaggle", path)

    assert stored_ids(workspace) == {"0704.0001", "0704.0008", "0704.0009", "0704.0010"}
    lines = problems_at(report)
    assert sorted(lines) == [2, 3, 4, 5, 6, 7, 9]
    assert "published 9999-12-31" in lines[3][0].reason
    assert lines[9][0].kept and "version" in lines[9][0].reason
    control = paper_by_id(workspace, "0704.0008")
    assert (control.title, control.abstract) == (
        "Control title",
        "x y",
    )  # \x0b and \x85 separate words
    assert_nothing_hostile_stored(workspace)


def test_arxiv_daily_hostile_lines(workspace: Workspace, tmp_path: Path) -> None:
    def line(arxiv_id: str, **fields: Any) -> str:
        obj: dict[str, Any] = {"id": arxiv_id, "title": f"Paper {arxiv_id}", "summary": "Text."}
        obj.update(fields)
        return json.dumps(obj)

    path = write_lines(
        tmp_path / "2026-03-04.jsonl",
        line("2603.00001"),
        line("2603.00002", abs="javascript:alert(1)", pdf="data:application/pdf,x"),
        DEEP_ARRAY,
        line("2603.00004", authors={"name": "x"}),
        line("2603.00005", title=["a list"]),
        line("2603.00006", summary=f"a{CONTROL}b", categories=["cs.CL", 7, "c" * 100]),
        line("2603.00007"),
    )
    report = ingest(workspace, "arxiv-daily", path)

    assert stored_ids(workspace) == {f"2603.0000{n}" for n in (1, 2, 6, 7)}
    links = paper_by_id(workspace, "2603.00002")
    assert (links.abs_url, links.pdf_url) == (None, None)
    sixth = paper_by_id(workspace, "2603.00006")
    assert (sixth.abstract, sixth.categories) == ("a b", ["cs.CL"])
    lines = problems_at(report)
    assert [(n, [p.kept for p in lines[n]]) for n in sorted(lines)] == [
        (2, [True, True]),
        (3, [False]),
        (4, [False]),
        (5, [False]),
        (6, [True]),
    ]
    assert all(x.day == date(2026, 3, 4) for x in links.listings)
    assert_nothing_hostile_stored(workspace)


def test_arxiv_daily_file_named_for_an_impossible_day_keeps_the_papers_unlisted(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_lines(
        tmp_path / "9999-12-31.jsonl", json.dumps({"id": "2603.00001", "title": "T"})
    )
    report = ingest(workspace, "arxiv-daily", path)
    assert paper_by_id(workspace, "2603.00001").listings == []
    assert [(p.kept, "9999-12-31" in p.reason) for p in report.problems] == [(True, True)]


def test_beir_hostile_lines(workspace: Workspace, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "corpus.jsonl",
        json.dumps({"_id": "1", "title": "Good", "text": "Text one."}),
        json.dumps({"_id": "9" * 200, "title": "Huge id", "text": "x"}),
        json.dumps({"_id": True, "title": "Boolean id", "text": "x"}),
        json.dumps({"_id": "4", "title": {"a": 1}, "text": ["b"]}),
        DEEP_OBJECT,
        json.dumps({"_id": "6", "title": f"T{CONTROL}", "text": f"Body{CONTROL}"}),
        json.dumps({"_id": "7", "title": "Good too", "text": "Text seven."}),
    )
    report = ingest(workspace, "beir", path)
    assert stored_ids(workspace) == {"beir:1", "beir:6", "beir:7"}
    assert sorted(problems_at(report)) == [2, 3, 4, 5]
    assert paper_by_id(workspace, "beir:6").title == "T"
    assert_nothing_hostile_stored(workspace)


def test_hf_page_control_characters_are_stripped(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "page.txt"
    path.write_text(
        "Daily Papers\n\n"
        "First\x01 Title\x7f\n\nAn abstract with a bell\x07 in it.\n\n"
        "Second Title\n\nAnother abstract.\n",
        encoding="utf-8",
    )
    report = ingest(workspace, "hf-page", path)
    titles = sorted(paper.title for paper in all_papers(workspace))
    assert titles == ["First Title", "Second Title"]
    assert report.problems == []
    assert_nothing_hostile_stored(workspace)


def _hf_entry(arxiv_id: str, **paper: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": arxiv_id,
        "title": f"Paper {arxiv_id}",
        "summary": "Text.",
        "upvotes": 3,
        "publishedAt": "2026-08-17T00:00:00.000Z",
    }
    fields.update(paper)
    return {"paper": fields, "numComments": 1}


def test_hf_daily_hostile_entries(workspace: Workspace, tmp_path: Path) -> None:
    entries: list[Any] = [
        _hf_entry("2608.00001", githubRepo="https://github.com/org/repo"),
        _hf_entry("2608.00002", githubRepo="javascript:alert(1)", upvotes=HUGE),
        _hf_entry("2608.00003", publishedAt="9999-12-31T00:00:00.000Z"),
        _hf_entry("2608.00004", submittedOnDailyAt="0001-01-01T00:00:00.000Z"),
        ["not", "an", "object"],
        {"paper": ["a list"]},
        _hf_entry("2608.00007", authors={"name": "x"}),
        _hf_entry("2608.00008", title="Bell\x07 title", summary=f"a{CONTROL}b"),
        {**_hf_entry("2608.00009"), "numComments": -5},
        _hf_entry("2608.00010"),
    ]
    path = tmp_path / "2026-08-18.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    report = ingest(workspace, "hf-daily", path)

    assert stored_ids(workspace) == {f"2608.{n:05d}" for n in (1, 2, 4, 8, 9, 10)}
    second = paper_by_id(workspace, "2608.00002")
    assert second.code_url is None
    assert [x.upvotes for x in second.listings] == [None]
    assert paper_by_id(workspace, "2608.00001").code_url == "https://github.com/org/repo"
    assert paper_by_id(workspace, "2608.00004").listings == []
    assert [x.comments for x in paper_by_id(workspace, "2608.00009").listings] == [None]
    assert paper_by_id(workspace, "2608.00008").title == "Bell title"
    lines = problems_at(report)
    assert [(n, [p.kept for p in lines[n]]) for n in sorted(lines)] == [
        (2, [True, True]),
        (3, [False]),
        (4, [True]),
        (5, [False]),
        (6, [False]),
        (7, [False]),
        (9, [True]),
    ]
    assert_nothing_hostile_stored(workspace)


def test_hf_daily_file_nested_too_deeply_is_one_clear_source_error(tmp_path: Path) -> None:
    """The file is one JSON document: too deep anywhere, none of it can be read."""
    path = tmp_path / "2026-08-18.json"
    path.write_text("[" + json.dumps(_hf_entry("2608.00001")) + "," + DEEP_ARRAY + "]")
    with pytest.raises(SourceError, match="nested too deeply"):
        list(get_format("hf-daily").parse(path))
    path.write_text("[" + "9" * 5000 + "]")
    with pytest.raises(SourceError, match="not JSON"):
        list(get_format("hf-daily").parse(path))


_ATOM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"'
    ' xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">\n'
    "<opensearch:totalResults>6</opensearch:totalResults>\n"
)


def _atom_entry(arxiv_id: str, *, published: str = "2024-01-02T00:00:00Z", extra: str = "") -> str:
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id>"
        f"<published>{published}</published><updated>{published}</updated>"
        f"<title>Paper {arxiv_id}</title><summary>Text.</summary>"
        f"<author><name>Ada Lovelace</name></author>{extra}</entry>\n"
    )


def test_arxiv_atom_hostile_entries(workspace: Workspace, tmp_path: Path) -> None:
    feed = (
        _ATOM_HEAD
        + _atom_entry("2401.00001")
        + _atom_entry("2401.00002", extra='<link href="javascript:alert(1)" rel="alternate"/>')
        + _atom_entry("2401.00003", published="9999-12-31T00:00:00Z")
        + _atom_entry("2401.00004", extra="<summary>bell \x07 in raw XML</summary>")
        + _atom_entry("2401.00005", extra="<title>unclosed</entry>")
        + _atom_entry("2401.00006", extra='<link href="data:text/html,x" title="pdf"/>')
        + "</feed>\n"
    )
    path = tmp_path / "response.xml"
    path.write_text(feed, encoding="utf-8")
    report = ingest(workspace, "arxiv-atom", path)

    assert stored_ids(workspace) == {"2401.00001", "2401.00002", "2401.00006"}
    assert paper_by_id(workspace, "2401.00002").abs_url is None
    assert paper_by_id(workspace, "2401.00006").pdf_url is None
    assert paper_by_id(workspace, "2401.00001").abs_url == "https://arxiv.org/abs/2401.00001"
    lines = problems_at(report)
    assert [(n, [p.kept for p in lines[n]]) for n in sorted(lines)] == [
        (2, [True]),
        (3, [False]),
        (4, [False]),
        (5, [False]),
        (6, [True]),
    ]
    assert "not well-formed XML" in lines[4][0].reason
    assert_nothing_hostile_stored(workspace)


def test_arxiv_atom_broken_outside_the_entries_is_one_source_error(tmp_path: Path) -> None:
    path = tmp_path / "response.xml"
    path.write_text(_ATOM_HEAD + "<title>\x01</title>" + _atom_entry("2401.00001") + "</feed>")
    with pytest.raises(SourceError, match="not an XML Atom feed"):
        list(get_format("arxiv-atom").parse(path))


@pytest.mark.parametrize("name", ["jsonl", "kaggle", "arxiv-daily", "beir"])
def test_json_lines_formats_survive_a_deep_line_in_a_gzipped_file(
    name: str, workspace: Workspace, tmp_path: Path
) -> None:
    good = {
        "jsonl": _jsonl("2401.00001"),
        "kaggle": json.dumps({"id": "2401.00001", "title": "T"}),
        "arxiv-daily": json.dumps({"id": "2401.00001", "title": "T"}),
        "beir": json.dumps({"_id": "1", "title": "T", "text": "x"}),
    }[name]
    path = tmp_path / "2026-01-02.jsonl.gz"
    path.write_bytes(gzip.compress(f"{good}\n{DEEP_OBJECT}\n{DEEP_ARRAY}\n".encode()))
    report = ingest(workspace, name, path)
    assert report.added == 1
    assert [p.line for p in report.problems] == [2, 3]


# -- live services' parsers ----------------------------------------------------------------


def test_live_arxiv_api_page_with_hostile_entries_keeps_the_good_ones() -> None:
    feed = (
        _ATOM_HEAD
        + _atom_entry("2401.00001")
        + _atom_entry("2401.00002", extra="<title>\x1b[31m</title>")
        + _atom_entry("2401.00003", published="0001-01-01T00:00:00Z")
        + "</feed>"
    )
    items, info = arxiv_atom.parse_feed(feed, "https://export.arxiv.org/api/query")
    records, problems = split(items)
    assert [r.arxiv_id for r in records] == ["2401.00001"]
    assert [(p.line, p.kept) for p in problems] == [(2, False), (3, False)]
    assert info.total_results == 6


def test_live_hf_daily_answer_with_hostile_entries() -> None:
    body = json.dumps(
        [
            _hf_entry("2608.00001", githubRepo="javascript:fetch('//evil')"),
            _hf_entry("2608.00002", upvotes=HUGE, summary=f"x{CONTROL}"),
            _hf_entry("2608.00003", publishedAt=7),
        ]
    )
    day = date(2026, 8, 18)
    items = hf_daily_source.parse_text(body, "https://huggingface.co/api/daily_papers", day)
    records, problems = split(items)
    assert [(r.arxiv_id, r.code_url) for r in records] == [
        ("2608.00001", None),
        ("2608.00002", None),
    ]
    assert records[1].listings[0].upvotes is None
    assert records[1].abstract == "x"
    assert [(p.line, p.kept) for p in problems] == [(1, True), (2, True), (3, False)]


def _oai_record(arxiv_id: str, *, date_text: str = "Tue, 3 Apr 2007 22:04:11 GMT") -> str:
    return (
        f"<record><header><identifier>oai:arXiv.org:{arxiv_id}</identifier></header><metadata>"
        '<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">'
        f'<id>{arxiv_id}</id><version version="v1"><date>{date_text}</date></version>'
        f"<title>Paper {arxiv_id}</title><authors>A. One</authors>"
        "<categories>cs.CL</categories><abstract>Text.</abstract></arXivRaw></metadata></record>\n"
    )


def test_live_oai_page_with_hostile_records_keeps_the_good_ones() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">\n'
        "<responseDate>2026-01-06T20:49:59Z</responseDate><ListRecords>\n"
        + _oai_record("0704.0001")
        + _oai_record("0704.0002", date_text="Fri, 31 Dec 9999 00:00:00 GMT")
        + _oai_record("0704.0003").replace("Text.", "Te\x02xt.")
        + _oai_record("0704.0004", date_text="Wed, 1 Jan 1200 00:00:00 +0100")
        + _oai_record("0704.0005")
        + '<resumptionToken completeListSize="5">token-1</resumptionToken>'
        "</ListRecords></OAI-PMH>"
    )
    response = oai.parse_response(body, "https://export.arxiv.org/oai2")
    assert [r.arxiv_id for r in response.records] == ["0704.0001", "0704.0005"]
    assert [p.line for p in response.problems] == [2, 3, 4]
    assert "not well-formed XML" in response.problems[1].reason
    assert response.token == "token-1"


def test_live_rss_feed_with_hostile_items_keeps_the_good_ones() -> None:
    def item(arxiv_id: str, title: str = "A title") -> str:
        return (
            f"<item><title>{title}</title><description>arXiv:{arxiv_id}v1 Announce Type: new"
            " Abstract: Text.</description><category>cs.CL</category>"
            "<dc:creator>A. One</dc:creator></item>\n"
        )

    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel>'
        "<pubDate>Thu, 24 Sep 2026 00:00:00 -0400</pubDate>\n"
        + item("2609.00001")
        + item("2609.00002", title="bad\x00byte")
        + item("2609.00003", title="x" * (MAX_TITLE_CHARS + 1))
        + item("2609.00004")
        + "</channel></rss>"
    )
    listing = rss.parse_feed(body, "https://rss.arxiv.org/rss/cs.CL")
    assert [r.arxiv_id for r in listing.records] == ["2609.00001", "2609.00004"]
    assert [(p.line, p.kept) for p in listing.problems] == [(2, False), (3, False)]
    assert set(listing.announce_types) == {"2609.00001", "2609.00004"}


# -- the check itself ----------------------------------------------------------------------


def test_upsert_records_checks_what_callers_hand_it(workspace: Workspace) -> None:
    """Live runs and submissions upsert records directly: the check holds there too."""
    bad = PaperRecord(
        title="From far away",
        source="arxiv-api",
        arxiv_id="2401.00002",
        published=datetime(9999, 12, 31, tzinfo=UTC),
    )
    linked = PaperRecord(
        title="With a script link",
        source="arxiv-api",
        arxiv_id="2401.00003",
        code_url="javascript:alert(1)",
        listings=[ListingRecord("submitted", date(2024, 1, 2), upvotes=HUGE)],
    )
    with workspace.db.session() as session:
        report = upsert_records(session, [bad, linked])
    assert (report.added, report.skipped, len(report.problems)) == (1, 1, 3)
    paper = paper_by_id(workspace, "2401.00003")
    assert paper.code_url is None
    assert [x.upvotes for x in paper.listings] == [None]
    assert_nothing_hostile_stored(workspace)


def test_checking_a_checked_record_changes_nothing() -> None:
    record = PaperRecord(
        title=f"T{CONTROL}",
        source="jsonl",
        arxiv_id="2401.00001v4",
        authors=["A" * 600, "B"],
        code_url="javascript:x",
        updated=datetime(9999, 1, 1, tzinfo=UTC),
        listings=[ListingRecord("hf-daily", date(2024, 1, 2), upvotes=-1)],
    )
    once, problems = check_record(record, "x")
    assert once is not None and problems
    assert (once.arxiv_id, once.version, once.title) == ("2401.00001", 4, "T")
    twice, again = check_record(once, "x")
    assert (twice, again) == (once, [])


def test_real_papers_pass_the_check_unchanged(data_dir: Path) -> None:
    """The limits are chosen from real data: none of it is dropped or skipped. (SciFact has
    five stray C1 control characters, mis-decoded quotes, which the parser already strips.)"""
    samples = [
        ("kaggle", data_dir / "arxiv_kaggle/arxiv-metadata-oai-snapshot.first200.jsonl"),
        ("arxiv-daily", data_dir / "arxiv_daily_cs/days/2026-03-04.jsonl.gz"),
        ("hf-daily", data_dir / "hf_daily_papers/daily_papers_2026-08-18.json"),
        ("beir", data_dir / "scifact/corpus.jsonl"),
    ]
    checked = 0
    for name, path in samples:
        records, problems = split(get_format(name).parse(path))
        assert problems == []
        for record in records:
            kept, found = check_record(record, str(path))
            assert found == [], found
            assert kept is not None
            assert (kept.title, kept.abstract, kept.authors) == (
                record.title,
                record.abstract,
                record.authors,
            )
            checked += 1
    assert checked > 5000


def test_stored_paper_shape_is_what_the_check_promises(workspace: Workspace) -> None:
    """Guard for the column sizes the check is tied to: if a column shrinks, this fails."""
    columns = Paper.__table__.columns
    assert columns["id"].type.length == 64
    assert columns["source"].type.length == 32
    assert columns["primary_category"].type.length == 64


@settings(max_examples=300, deadline=None)
@given(st.from_regex(PLAIN_URL, fullmatch=True))
def test_links_kept_without_safe_url_are_links_safe_url_keeps(url: str) -> None:
    """The check's shortcut for plain links never keeps one that ``bounds.safe_url`` drops."""
    assert bounds.safe_url(url) == url
    record, problems = check_record(PaperRecord(title="T", source="s", code_url=url), "x")
    assert record is not None and record.code_url == url and problems == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_link_text_is_kept_only_when_safe_url_keeps_it(text: str) -> None:
    record, _ = check_record(PaperRecord(title="T", source="s", code_url=text), "x")
    assert record is not None
    assert record.code_url == (bounds.safe_url(text) if len(text) <= 2000 else None)


def test_a_skipped_record_has_one_problem_saying_why() -> None:
    record = PaperRecord(
        title="T",
        source="s",
        code_url="javascript:x",
        published=datetime(9999, 1, 1, tzinfo=UTC),
    )
    kept, problems = check_record(record, "f.jsonl")
    assert kept is None
    assert [(p.kept, "published 9999-01-01" in p.reason) for p in problems] == [(False, True)]
