"""Saved Hugging Face Daily Papers text pages (the five real seed pages)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _sources_helpers import split

from paperfeed.catalog.records import PaperRecord, normalize_title
from paperfeed.errors import SourceError
from paperfeed.formats import hf_page

FIRST = "000_766570f40471c980.txt"


@pytest.fixture(scope="module")
def seed_records(seeds_dir: Path) -> list[PaperRecord]:
    records, problems = split(
        item for p in sorted(seeds_dir.glob("*.txt")) for item in hf_page.parse(p)
    )
    assert problems == []
    return records


def test_seed_pages_give_360_rows(seed_records: list[PaperRecord]) -> None:
    assert len(seed_records) == 360


def test_seed_pages_give_285_distinct_papers(seed_records: list[PaperRecord]) -> None:
    assert len({normalize_title(r.title) for r in seed_records}) == 285
    assert len({r.key for r in seed_records}) == 285


def test_records_are_keyed_by_title_without_ids_or_listings(
    seed_records: list[PaperRecord],
) -> None:
    for record in seed_records:
        assert record.arxiv_id is None
        assert record.key.startswith("title:")
        assert record.listings == []
        assert record.source == "hf-page"
        assert len(record.abstract) > len(record.title)


def test_first_seed_page_starts_with_its_first_paper(seeds_dir: Path) -> None:
    records, _ = split(hf_page.parse(seeds_dir / FIRST))
    assert len(records) == 85
    assert records[0].title == (
        "Towards Seamless Adaptation of Pre-trained Models for Visual Place Recognition"
    )
    assert records[0].abstract.startswith("Recent studies show that vision models pre-trained")
    assert records[0].abstract.endswith("https://github.com/Lu-Feng/SelaVPR.")
    assert (
        records[1].title
        == "PROP: Pre-training with Representative Words Prediction for Ad-hoc Retrieval"
    )
    assert records[-1].title == (
        "Well-Read Students Learn Better: On the Importance of Pre-training Compact Models"
    )


def test_header_date_line_is_skipped_not_a_record(seeds_dir: Path) -> None:
    records, _ = split(hf_page.parse(seeds_dir / "001_9dac1b5f522ce034.txt"))
    assert records[0].title == (
        "Comprehensive Attribution: Inherently Explainable Vision Model with Feature Detector"
    )
    assert not any(r.title in {"Mar 14", "Subscribe", "new"} for r in records)


def test_trailing_title_without_abstract_is_a_problem_at_its_line(
    seeds_dir: Path, tmp_path: Path
) -> None:
    text = (seeds_dir / FIRST).read_text(encoding="utf-8")
    path = tmp_path / "page.txt"
    path.write_text(text + "\n\nA Dangling Title\n", encoding="utf-8")
    records, problems = split(hf_page.parse(path))
    assert len(records) == 85
    title_line = len(text.split("\n")) + 2
    assert [p.line for p in problems] == [title_line]
    assert path.read_text(encoding="utf-8").split("\n")[title_line - 1] == "A Dangling Title"
    assert "without an abstract" in problems[0].reason


def test_missing_abstract_in_the_middle_loses_only_that_paper(
    seeds_dir: Path, tmp_path: Path
) -> None:
    lines = (seeds_dir / FIRST).read_text(encoding="utf-8").split("\n")
    original, _ = split(hf_page.parse(seeds_dir / FIRST))
    # the third paper's title is on line 19, its abstract on line 21
    assert lines[18] == original[2].title
    del lines[20:22]
    path = tmp_path / "page.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    records, problems = split(hf_page.parse(path))
    assert [p.line for p in problems] == [19]
    assert [r.title for r in records] == [r.title for r in original if r is not original[2]]
    assert records[2].abstract == original[3].abstract


def test_abstract_without_title_is_a_problem_and_later_pairs_stay_aligned(
    seeds_dir: Path, tmp_path: Path
) -> None:
    lines = (seeds_dir / FIRST).read_text(encoding="utf-8").split("\n")
    original, _ = split(hf_page.parse(seeds_dir / FIRST))
    del lines[18:20]  # drop the third paper's title (line 19) and its blank line
    path = tmp_path / "page.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    records, problems = split(hf_page.parse(path))
    assert [p.line for p in problems] == [19]
    assert "abstract without a title" in problems[0].reason
    assert records == [r for r in original if r is not original[2]]


def test_hard_line_breaks_inside_a_paragraph_are_collapsed(tmp_path: Path) -> None:
    path = tmp_path / "page.txt"
    path.write_text(
        "new\nSubscribe\n\nbyAK and the research community\n\nMar 11\n\n"
        "A Title\n  Split Over Lines\n\nAn abstract\nwrapped   by hand.\n",
        encoding="utf-8",
    )
    [record] = hf_page.parse(path)
    assert record.title == "A Title Split Over Lines"
    assert record.abstract == "An abstract wrapped by hand."


def test_header_only_page_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text(
        "new\n\nSubscribe\n\nDaily Papers\n\nby AK and the research community\n", "utf-8"
    )
    assert list(hf_page.parse(path)) == []


def test_json_saved_under_a_page_name_raises(tmp_path: Path) -> None:
    path = tmp_path / "page.txt"
    path.write_text('[{"paper": {}}]\n', encoding="utf-8")
    with pytest.raises(SourceError, match="not a Daily Papers text page"):
        list(hf_page.parse(path))
