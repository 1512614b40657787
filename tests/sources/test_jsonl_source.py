"""Our JSON-lines export: records from every real sample survive a write/read round trip."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from _sources_helpers import split

from paperfeed.catalog.records import ListingRecord, PaperRecord
from paperfeed.formats import get_format, jsonl
from paperfeed.formats.jsonl import record_from_json, record_to_json

SAMPLES = {
    "kaggle": "data/arxiv_kaggle/arxiv-metadata-oai-snapshot.first200.jsonl",
    "arxiv-atom": "data/arxiv_api/current_2026/xml/q_testing_s0_m100_cfe7536492ca.xml",
    "hf-daily": "data/hf_daily_papers/history/2026-06-10.json.gz",
    "hf-page": "seeds/001_9dac1b5f522ce034.txt",
    "arxiv-daily": "data/arxiv_daily_cs/days/2026-03-04.jsonl.gz",
}


def _write(path: Path, records: list[PaperRecord]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record_to_json(record), ensure_ascii=False) + "\n")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_export_round_trips_records_of_every_source(
    name: str, shared_dir: Path, tmp_path: Path
) -> None:
    originals, _ = split(get_format(name).parse(shared_dir / SAMPLES[name]))
    assert originals
    path = tmp_path / "export.jsonl"
    _write(path, originals)
    again, problems = split(jsonl.parse(path))
    assert problems == []
    assert again == originals


def test_record_to_json_writes_key_as_id_and_iso_dates() -> None:
    record = PaperRecord(
        title="T",
        source="hf-daily",
        arxiv_id="2606.11176",
        published=datetime(2026, 6, 9, tzinfo=UTC),
        listings=[ListingRecord("hf-daily", date(2026, 6, 10), upvotes=29, comments=2)],
    )
    obj = record_to_json(record)
    assert next(iter(obj)) == "id"
    assert obj["id"] == "2606.11176"
    assert obj["published"] == "2026-06-09T00:00:00+00:00"
    assert obj["updated"] is None
    assert obj["listings"] == [
        {"source": "hf-daily", "day": "2026-06-10", "upvotes": 29, "comments": 2}
    ]
    assert json.loads(json.dumps(obj)) == obj


def test_title_only_record_gets_its_title_key_as_id() -> None:
    record = PaperRecord(title="Align before Fuse", source="hf-page")
    assert record_to_json(record)["id"] == record.key
    assert record_to_json(record)["id"].startswith("title:")


def test_unknown_keys_are_ignored_and_missing_fields_default() -> None:
    record = record_from_json(
        {
            "id": "whatever",
            "title": "T",
            "source": "jsonl",
            "extra": [1, 2],
            "published": "2026-01-02T03:04:05Z",
        }
    )
    assert record == PaperRecord(
        title="T", source="jsonl", published=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )


def test_naive_datetimes_are_read_as_utc() -> None:
    record = record_from_json({"title": "T", "source": "x", "updated": "2026-01-02T03:04:05"})
    assert record.updated == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_missing_title_and_broken_lines_are_problems_and_the_rest_parses(tmp_path: Path) -> None:
    good = json.dumps(record_to_json(PaperRecord(title="Good", source="kaggle")))
    lines = [
        good,
        json.dumps({"id": "2601.00001", "source": "kaggle"}),  # no title
        '{"title": "cut',
        json.dumps({"title": "Bad listing", "source": "x", "listings": [{"day": "2026-01-01"}]}),
        json.dumps({"title": "Bad authors", "source": "x", "authors": "A, B"}),
        good,
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records, problems = split(jsonl.parse(path))
    assert [r.title for r in records] == ["Good", "Good"]
    assert [p.line for p in problems] == [2, 3, 4, 5]
    assert "title" in problems[0].reason
