"""Hugging Face's extras (AI summary, keywords, organisation, submitter, GitHub stars, project
page, thumbnail, media): read from real daily-papers answers and checked as hostile input."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest
from _sources_helpers import split

from paperfeed import bounds
from paperfeed.catalog.records import PaperDetails, PaperRecord
from paperfeed.catalog.validate import check_record
from paperfeed.formats import hf_daily

COMMITTED = Path(__file__).resolve().parents[1] / "data" / "hf_daily"


def _details(records: list[PaperRecord]) -> list[PaperDetails]:
    return [r.details for r in records if r.details is not None]


def test_the_84_real_days_give_every_detail_as_counted_in_the_data_readme(
    data_dir: Path,
) -> None:
    records: list[PaperRecord] = []
    for path in sorted((data_dir / "hf_daily_papers" / "history").glob("*.json.gz")):
        found, problems = split(hf_daily.parse(path))
        assert problems == []
        records += found
    details = _details(records)
    assert len(records) == 2079
    # shared/data/README.md, section 11: the number of entries having each field.
    assert sum(d.ai_summary is not None for d in details) == 1636
    assert sum(bool(d.ai_keywords) for d in details) == 1632  # 4 have an empty list
    assert sum(d.org_name is not None for d in details) == 1302
    assert sum(d.github_stars is not None for d in details) == 1199
    assert sum(d.project_page is not None for d in details) == 992
    assert sum(bool(d.media_urls) for d in details) == 425
    assert sum(d.submitter is not None for d in details) == 2079
    assert all(d.thumbnail_url and d.thumbnail_url.startswith("https://") for d in details)
    assert all(d.thumbnail is None and d.media == [] for d in details)  # files fetch nothing


def test_a_committed_day_gives_the_details_of_each_entry_as_served() -> None:
    path = COMMITTED / "2026-08-18.json.gz"
    raw = json.loads(gzip.decompress(path.read_bytes()))
    records, problems = split(hf_daily.parse(path))
    assert problems == [] and len(records) == len(raw) == 29
    for entry, record in zip(raw, records, strict=True):
        paper, details = entry["paper"], record.details
        assert details is not None
        assert details.ai_summary == paper["ai_summary"].strip()
        assert details.ai_keywords == list(dict.fromkeys(paper["ai_keywords"]))
        assert details.github_stars == paper.get("githubStars")
        assert details.project_page == paper.get("projectPage")
        assert details.submitter == entry["submittedBy"]["name"]
        assert details.thumbnail_url == entry["thumbnail"]
        assert details.org_name == (entry.get("organization") or {}).get("name")
        assert record.code_url == paper.get("githubRepo")


def test_the_2024_schema_has_no_details_beyond_what_it_carries(data_dir: Path) -> None:
    records, problems = split(
        hf_daily.parse(data_dir / "hf_daily_papers" / "daily_papers_2024-05-27.json")
    )
    assert problems == [] and records
    assert all(d.ai_summary is None and d.org_name is None for d in _details(records))


def _entry(**paper: object) -> dict[str, object]:
    base: dict[str, object] = {"id": "2608.00001", "title": "A paper", "summary": "Text."}
    return {"paper": {**base, **paper}, "publishedAt": "2026-08-18T00:00:00.000Z"}


def _parse_one(entry: dict[str, object], **top: object) -> tuple[PaperRecord | None, list[str]]:
    items = hf_daily.parse_text(json.dumps([{**entry, **top}]), "test", None)
    records = [i for i in items if isinstance(i, PaperRecord)]
    reasons = [str(i) for i in items if not isinstance(i, PaperRecord)]
    return (records[0] if records else None), reasons


@pytest.mark.parametrize(
    ("paper", "top", "dropped"),
    [
        ({"projectPage": "javascript:alert(1)"}, {}, "project_page"),
        ({"githubStars": -3}, {}, "githubStars"),
        ({"githubStars": "12"}, {}, "githubStars"),
        ({"githubStars": 2**40}, {}, "githubStars"),
        ({"ai_summary": "x" * (bounds.MAX_SUMMARY_CHARS + 1)}, {}, "ai_summary"),
        ({"ai_summary": {"text": "no"}}, {}, "ai_summary"),
        ({"ai_keywords": "one string"}, {}, "ai_keywords"),
        ({"ai_keywords": [1, 2]}, {}, "keyword"),
        ({"ai_keywords": ["k"] * 101}, {}, "ai_keywords"),
        ({}, {"thumbnail": "data:image/png;base64,AAAA"}, "thumbnail_url"),
        ({}, {"mediaUrls": ["file:///etc/passwd"]}, "media url"),
        ({}, {"mediaUrls": ["https://x.org/a.png"] * 30}, "media_urls"),
        ({}, {"organization": {"name": "a/../b", "fullname": "B"}}, "organization name"),
        ({}, {"organization": {"name": "o" * 200}}, "organization name"),
        ({}, {"submittedBy": {"name": "two words"}}, "submitter"),
    ],
)
def test_a_bad_detail_is_dropped_and_the_paper_kept(
    paper: dict[str, object], top: dict[str, object], dropped: str
) -> None:
    record, problems = _parse_one(_entry(**paper), **top)
    assert record is not None, problems
    assert problems and all(dropped in p for p in problems), problems
    assert all("kept the paper" in p for p in problems)


def test_details_hold_after_a_second_check_and_unprintable_text_is_cleaned() -> None:
    record, problems = _parse_one(
        _entry(ai_summary="Sum\x00mary\x1b.", ai_keywords=["a", "a", " b "], githubStars=0)
    )
    assert problems == [] and record is not None and record.details is not None
    assert record.details.ai_summary == "Summary."
    assert record.details.ai_keywords == ["a", "b"]
    assert record.details.github_stars == 0
    again, more = check_record(record, "again")
    assert more == [] and again == record


def test_cached_media_names_must_be_sha256_names() -> None:
    good = "a" * 64 + ".png"
    details = PaperDetails(thumbnail="../../secret_key", media=[good, "x.png", 3])  # type: ignore[list-item]
    record = PaperRecord(title="T", source="hf-daily", arxiv_id="2608.00001", details=details)
    checked, problems = check_record(record, "test")
    assert checked is not None and checked.details is not None
    assert checked.details.thumbnail is None
    assert checked.details.media == [good]
    assert len(problems) == 3
    assert dataclasses.replace(checked.details, media=[]) == PaperDetails()
