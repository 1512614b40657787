"""Hugging Face /api/daily_papers JSON: 84 real history days plus the 2024/2026 single files."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from _sources_helpers import split

from paperfeed.catalog.records import ListingRecord, PaperRecord
from paperfeed.errors import SourceError
from paperfeed.formats import hf_daily


@pytest.fixture(scope="module")
def hf_dir(data_dir: Path) -> Path:
    return data_dir / "hf_daily_papers"


@pytest.fixture(scope="module")
def history(hf_dir: Path) -> list[tuple[Path, list[PaperRecord]]]:
    files = sorted((hf_dir / "history").glob("*.json.gz"))
    result = []
    for path in files:
        records, problems = split(hf_daily.parse(path))
        assert problems == []
        result.append((path, records))
    return result


def test_history_gives_2079_entries_with_2076_distinct_ids(history: list) -> None:
    records = [r for _, day in history for r in day]
    assert len(history) == 84
    assert len(records) == 2079
    assert len({r.arxiv_id for r in records}) == 2076


def test_listing_counts_match_the_readme(history: list) -> None:
    listings = [r.listings[0] for _, day in history for r in day]
    assert sum(x.upvotes for x in listings) == 29663
    assert max(x.upvotes for x in listings) == 181
    assert sum(x.comments for x in listings) == 2115
    assert sum(1 for x in listings if x.upvotes > 0) == 1926


def test_listing_day_is_the_day_of_the_file(history: list) -> None:
    for path, records in history:
        file_day = date.fromisoformat(path.name[:10])
        assert {r.listings[0].day for r in records} == {file_day}
        assert all(r.listings[0].source == "hf-daily" for r in records)


def test_resubmitted_paper_is_listed_on_both_days_with_each_days_upvotes(history: list) -> None:
    seen: dict[str, list[ListingRecord]] = defaultdict(list)
    for _, records in history:
        for record in records:
            seen[record.arxiv_id].extend(record.listings)
    twice = {k: [(x.day, x.upvotes) for x in v] for k, v in seen.items() if len(v) > 1}
    assert twice == {
        "2606.11176": [(date(2026, 6, 10), 29), (date(2026, 6, 16), 82)],
        "2608.12313": [(date(2026, 8, 13), 2), (date(2026, 8, 19), 27)],
        "2608.13558": [(date(2026, 8, 14), 2), (date(2026, 8, 20), 54)],
    }


def test_github_repo_becomes_code_url(history: list) -> None:
    records = [r for _, day in history for r in day]
    assert sum(1 for r in records if r.code_url) == 1228
    keye = next(r for r in records if r.arxiv_id == "2606.10651")
    assert keye.code_url == "https://github.com/Kwai-Keye/Keye"
    assert keye.title == "Kwai Keye-VL-2.0 Technical Report"
    assert keye.published == datetime(2026, 6, 9, tzinfo=UTC)
    assert keye.listings == [ListingRecord("hf-daily", date(2026, 6, 10), upvotes=163, comments=1)]
    assert keye.authors[:3] == ["Kwai Keye Team", "Bin Wen", "Changyi Liu"]
    assert keye.abs_url == "https://arxiv.org/abs/2606.10651"
    assert keye.pdf_url == "https://arxiv.org/pdf/2606.10651"
    assert keye.categories == []


def test_hidden_authors_are_kept(history: list) -> None:
    records = {r.arxiv_id: r for _, day in history for r in day}
    assert "Dingyun Zhang" in records["2607.18227"].authors
    assert sum(len(r.authors) for _, day in history for r in day) == 21600


def test_2024_schema_takes_the_day_from_the_file_name(hf_dir: Path) -> None:
    records, problems = split(hf_daily.parse(hf_dir / "daily_papers_2024-05-27.json"))
    assert problems == []
    assert len(records) == 13
    first = records[0]
    assert first.arxiv_id == "2405.15738"
    assert first.title == (
        "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    )
    assert first.published == datetime(2024, 5, 24, 17, 34, 15, tzinfo=UTC)
    assert first.listings == [ListingRecord("hf-daily", date(2024, 5, 27), upvotes=32, comments=3)]
    assert first.code_url is None
    assert {r.listings[0].day for r in records} == {date(2024, 5, 27)}


def test_saved_day_equals_the_same_day_in_history(hf_dir: Path) -> None:
    single = list(hf_daily.parse(hf_dir / "daily_papers_2026-08-18.json"))
    assert len(single) == 29
    assert single == list(hf_daily.parse(hf_dir / "history/2026-08-18.json.gz"))


def test_day_falls_back_to_top_level_published_at(hf_dir: Path, tmp_path: Path) -> None:
    entries = json.loads((hf_dir / "daily_papers_2024-05-27.json").read_text(encoding="utf-8"))
    path = tmp_path / "papers.json"  # no date in the name, 2024 schema: no submittedOnDailyAt
    path.write_text(json.dumps(entries[:1]), encoding="utf-8")
    [record] = hf_daily.parse(path)
    top = datetime.fromisoformat(entries[0]["publishedAt"]).astimezone(UTC).date()
    assert record.listings[0].day == top


def test_entry_without_paper_id_is_a_problem_at_its_index(hf_dir: Path, tmp_path: Path) -> None:
    entries = json.loads(gzip.decompress((hf_dir / "history/2026-07-15.json.gz").read_bytes()))
    del entries[1]["paper"]["id"]
    path = tmp_path / "2026-07-15.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    records, problems = split(hf_daily.parse(path))
    assert len(records) == len(entries) - 1
    assert [p.line for p in problems] == [2]
    assert problems[0].reason.startswith("entry 2:")


def test_json_object_instead_of_list_raises(tmp_path: Path) -> None:
    path = tmp_path / "paper.json"
    path.write_text('{"id": "2401.00001", "title": "One paper"}', encoding="utf-8")
    with pytest.raises(SourceError, match="expected a JSON list"):
        list(hf_daily.parse(path))


def test_invalid_json_raises(tmp_path: Path) -> None:
    path = tmp_path / "2026-01-01.json"
    path.write_text('[{"paper": ', encoding="utf-8")
    with pytest.raises(SourceError, match="not JSON"):
        list(hf_daily.parse(path))
