"""Kaggle arXiv snapshot: real first-200 sample plus broken files written to tmp_path."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _sources_helpers import split

from paperfeed.errors import SourceError
from paperfeed.formats import kaggle

SAMPLE = "arxiv_kaggle/arxiv-metadata-oai-snapshot.first200.jsonl"


@pytest.fixture(scope="module")
def sample(data_dir: Path) -> Path:
    return data_dir / SAMPLE


@pytest.fixture(scope="module")
def records_by_id(sample: Path) -> dict:
    records, _ = split(kaggle.parse(sample))
    return {r.arxiv_id: r for r in records}


def test_first200_sample_gives_200_records_and_no_problems(sample: Path) -> None:
    records, problems = split(kaggle.parse(sample))
    assert len(records) == 200
    assert problems == []
    assert records[0].arxiv_id == "0704.0001"
    assert records[-1].arxiv_id == "0704.0200"
    assert {r.source for r in records} == {"kaggle"}


def test_first_record_matches_the_file(sample: Path, records_by_id: dict) -> None:
    raw = json.loads(sample.read_text(encoding="utf-8").splitlines()[0])
    record = records_by_id["0704.0001"]
    assert raw["title"] == (
        "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies"
    )
    assert record.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert record.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert record.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert record.updated == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert record.version == 2
    assert record.categories == ["hep-ph"]
    assert record.doi == "10.1103/PhysRevD.76.013009"
    assert record.journal_ref == "Phys.Rev.D76:013009,2007"
    assert record.comments == "37 pages, 15 figures; published version"
    assert record.abstract == " ".join(raw["abstract"].split())
    assert record.abstract.startswith("A fully differential calculation in perturbative")
    assert record.abs_url == "https://arxiv.org/abs/0704.0001"
    assert record.pdf_url == "https://arxiv.org/pdf/0704.0001"
    assert record.listings == []


def test_categories_keep_primary_first(records_by_id: dict) -> None:
    assert records_by_id["0704.0002"].categories == ["math.CO", "cs.CG"]
    assert records_by_id["0704.0002"].primary_category == "math.CO"


def test_author_suffix_follows_last_name(records_by_id: dict) -> None:
    assert "Neal J. Evans II" in records_by_id["0704.0009"].authors


def test_affiliations_in_authors_parsed_are_dropped(records_by_id: dict) -> None:
    assert records_by_id["0704.0025"].authors == ["A. S. Mishchenko", "N. Nagaosa"]


def test_collaboration_without_first_name_is_kept(records_by_id: dict) -> None:
    assert records_by_id["0704.0020"].authors[:2] == ["The BABAR Collaboration", "B. Aubert"]


def test_every_date_is_utc_and_published_not_after_updated(records_by_id: dict) -> None:
    for record in records_by_id.values():
        assert record.published is not None and record.updated is not None
        assert record.published.utcoffset() == record.updated.utcoffset() == UTC.utcoffset(None)
        assert record.published <= record.updated


def test_versions_are_ordered_by_number_not_by_position(tmp_path: Path) -> None:
    line = {
        "id": "0704.9999",
        "title": "Out of order",
        "authors": "A. One",
        "categories": "cs.LG",
        "versions": [
            {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
            {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
        ],
    }
    path = tmp_path / "snapshot.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    [record] = kaggle.parse(path)
    assert record.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert record.version == 2


def test_author_string_is_split_when_authors_parsed_is_missing(tmp_path: Path) -> None:
    line = {
        "id": "0704.9998",
        "title": "Fallback",
        "authors": (
            "A. S. Mishchenko (1 and 2) and N. Nagaosa ((1) CREST, (2) Tokyo), B. Aubert, et al"
        ),
        "categories": "cond-mat.str-el cond-mat.str-el",
        "versions": [],
    }
    path = tmp_path / "snapshot.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    [record] = kaggle.parse(path)
    assert record.authors == ["A. S. Mishchenko", "N. Nagaosa", "B. Aubert"]
    assert record.categories == ["cond-mat.str-el"]
    assert record.published is None


def test_broken_line_in_the_middle_is_a_problem_and_the_rest_parses(
    sample: Path, tmp_path: Path
) -> None:
    lines = sample.read_text(encoding="utf-8").splitlines()[:10]
    lines[4] = lines[4][: len(lines[4]) // 2]  # cut line 5 mid-object
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records, problems = split(kaggle.parse(path))
    assert len(records) == 9
    assert [(p.line, p.path) for p in problems] == [(5, str(path))]
    assert "invalid JSON" in problems[0].reason
    assert "0704.0005" not in {r.arxiv_id for r in records}


def test_record_without_title_is_a_problem_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "notitle.jsonl"
    path.write_text(
        json.dumps({"id": "0704.0001", "title": "Ok"}) + "\n" + json.dumps({"id": "0704.0002"}),
        encoding="utf-8",
    )
    records, problems = split(kaggle.parse(path))
    assert [r.arxiv_id for r in records] == ["0704.0001"]
    assert problems[0].line == 2
    assert "title" in problems[0].reason


def test_gzipped_snapshot_parses_like_the_plain_file(sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "snapshot.jsonl.gz"
    path.write_bytes(gzip.compress(sample.read_bytes()))
    assert list(kaggle.parse(path)) == list(kaggle.parse(sample))


def test_json_array_file_is_not_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_text('[{"id": "0704.0001"}]', encoding="utf-8")
    with pytest.raises(SourceError, match="not JSON lines"):
        list(kaggle.parse(path))
