"""Daily arXiv cs listings (120 real days, JSON lines, gzip)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest
from _sources_helpers import split

from paperfeed.catalog.records import ListingRecord
from paperfeed.formats import arxiv_daily


@pytest.fixture(scope="module")
def days_dir(data_dir: Path) -> Path:
    return data_dir / "arxiv_daily_cs/days"


def test_all_120_days_give_46848_listings_of_26656_papers(days_dir: Path) -> None:
    files = sorted(days_dir.glob("*.jsonl.gz"))
    records, problems = split(item for f in files for item in arxiv_daily.parse(f))
    assert len(files) == 120
    assert problems == []
    assert len(records) == 46848
    assert len({r.arxiv_id for r in records}) == 26656


def test_first_record_of_a_day(days_dir: Path) -> None:
    records, _ = split(arxiv_daily.parse(days_dir / "2026-03-04.jsonl.gz"))
    first = records[0]
    assert first.arxiv_id == "2603.02887"
    assert first.version is None
    assert first.title == "Generalized non-exponential Gaussian splatting"
    assert first.authors == ["Sébastien Speierer", "Adrian Jarabo"]
    assert first.categories == ["cs.GR", "cs.CV"]
    assert first.comments == "13 pages, 6 figures, 4 tables"
    assert first.abs_url == "https://arxiv.org/abs/2603.02887"
    assert first.pdf_url == "https://arxiv.org/pdf/2603.02887"
    assert first.published is None
    assert first.listings == [ListingRecord("arxiv-daily", date(2026, 3, 4))]
    assert records[1].comments is None


def test_abstract_line_breaks_are_collapsed(days_dir: Path) -> None:
    path = days_dir / "2026-03-04.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        raws = [json.loads(line) for line in handle]
    records, _ = split(arxiv_daily.parse(path))
    wrapped = [(raw, rec) for raw, rec in zip(raws, records, strict=True) if "\n" in raw["summary"]]
    assert wrapped, "expected at least one abstract with hard line breaks on this day"
    for raw, record in wrapped:
        assert record.abstract == " ".join(raw["summary"].split())
        assert "\n" not in record.abstract


def test_file_without_a_date_in_its_name_has_no_listing(days_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "listing.jsonl.gz"
    path.write_bytes((days_dir / "2026-03-04.jsonl.gz").read_bytes())
    records, _ = split(arxiv_daily.parse(path))
    assert records and all(r.listings == [] for r in records)


def test_versioned_id_is_split_and_bad_id_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "2026-01-02.jsonl"
    rows = [
        {"id": "2601.00001v2", "title": "T", "authors": ["A"], "categories": ["cs.AI", "cs.AI"]},
        {"id": "not-an-id", "title": "U"},
        {"id": "2601.00003", "title": "V", "categories": "cs.AI"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    records, problems = split(arxiv_daily.parse(path))
    assert [(r.arxiv_id, r.version, r.categories) for r in records] == [
        ("2601.00001", 2, ["cs.AI"])
    ]
    assert [p.line for p in problems] == [2, 3]
