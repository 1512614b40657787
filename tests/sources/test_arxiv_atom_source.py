"""arXiv API Atom responses: legacy (2016) and current (2026) real recordings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from _sources_helpers import split

from paperfeed.catalog.records import PaperRecord
from paperfeed.errors import SourceError
from paperfeed.formats import arxiv_atom
from paperfeed.formats.arxiv_atom import FeedInfo, parse_feed


@pytest.fixture(scope="module")
def api_dir(data_dir: Path) -> Path:
    return data_dir / "arxiv_api"


def _one(path: Path) -> PaperRecord:
    records, problems = split(arxiv_atom.parse(path))
    assert problems == []
    assert len(records) == 1
    return records[0]


def _current(api_dir: Path, prefix: str) -> Path:
    [path] = (api_dir / "current_2026/xml").glob(f"{prefix}_*.xml")
    return path


def test_all_samples_except_the_error_feed_give_245_records(api_dir: Path) -> None:
    files = sorted(api_dir.glob("legacy_2016/*.xml")) + sorted(
        api_dir.glob("current_2026/xml/*.xml")
    )
    ok = [f for f in files if not f.name.startswith("id_abc_")]
    records, problems = split(item for f in ok for item in arxiv_atom.parse(f))
    assert len(ok) == 24
    assert len(records) == 245
    assert problems == []
    assert all(r.published and r.published.tzinfo == UTC for r in records)
    assert all(r.arxiv_id and "v" not in r.arxiv_id.split("/")[-1] for r in records)


def test_legacy_entry_has_every_field(api_dir: Path) -> None:
    record = _one(api_dir / "legacy_2016/id_list_1111.2011v2.xml")
    assert record.arxiv_id == "1111.2011"
    assert record.version == 2
    assert record.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert record.abstract.startswith("Theoretical description of anisotropic systems, such as")
    assert "\n" not in record.abstract
    assert record.authors == ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"]
    assert record.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert record.published == datetime(2011, 11, 8, 18, 48, 36, tzinfo=UTC)
    assert record.updated == datetime(2012, 4, 2, 12, 38, 54, tzinfo=UTC)
    assert record.doi == "10.1103/PhysRevB.85.115117"
    assert record.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert record.comments == "8 pages, 3 figures. Published version"
    # legacy http:// links come out as https://
    assert record.abs_url == "https://arxiv.org/abs/1111.2011v2"
    assert record.pdf_url == "https://arxiv.org/pdf/1111.2011v2"
    assert record.source == "arxiv-atom"


def test_old_style_id_keeps_its_archive(api_dir: Path) -> None:
    record = _one(_current(api_dir, "id_astro-ph_0601001"))
    assert record.arxiv_id == "astro-ph/0601001"
    assert record.key == "astro-ph/0601001"
    assert record.version == 1
    assert record.categories == ["astro-ph"]
    assert record.journal_ref == "ActaAstron.56:1-50,2006"
    assert record.authors == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]
    assert record.pdf_url == "https://arxiv.org/pdf/astro-ph/0601001v1"


def test_primary_category_comes_first(api_dir: Path) -> None:
    record = _one(_current(api_dir, "id_quant-ph_0201082v1"))
    assert record.arxiv_id == "quant-ph/0201082"
    assert record.categories == ["quant-ph", "cs.PL"]
    assert record.doi is None


def test_title_that_is_just_zero_is_kept(api_dir: Path) -> None:
    record = _one(_current(api_dir, "id_2104.12255v1"))
    assert record.title == "0"
    assert record.arxiv_id == "2104.12255"


def test_unknown_id_gives_an_empty_feed(api_dir: Path) -> None:
    path = _current(api_dir, "id_0000.0000")
    items, info = parse_feed(path.read_text(encoding="utf-8"), path.name)
    assert items == []
    assert info == FeedInfo(total_results=0, start_index=0, items_per_page=100)


def test_error_feed_raises_with_arxivs_message(api_dir: Path) -> None:
    path = _current(api_dir, "id_abc")
    with pytest.raises(SourceError, match="incorrect id format for abc") as caught:
        list(arxiv_atom.parse(path))
    assert path.name in str(caught.value)


def test_feed_info_reads_paging_in_both_namespace_styles(api_dir: Path) -> None:
    legacy = api_dir / "legacy_2016/search_query_au_del_maestro.xml"
    _, info = parse_feed(legacy.read_text(encoding="utf-8"), legacy.name)
    assert info == FeedInfo(total_results=31, start_index=0, items_per_page=10)
    current = _current(api_dir, "q_testing_s5_m15")
    items, info = parse_feed(current.read_text(encoding="utf-8"), current.name)
    assert info == FeedInfo(total_results=214881, start_index=5, items_per_page=15)
    assert len(items) == 15


def test_pages_are_slices_of_the_100_entry_page(api_dir: Path) -> None:
    def ids(prefix: str) -> tuple[list[str | None], FeedInfo]:
        path = _current(api_dir, prefix)
        items, info = parse_feed(path.read_text(encoding="utf-8"), path.name)
        return [r.arxiv_id for r in items if isinstance(r, PaperRecord)], info

    full, _ = ids("q_testing_s0_m100")
    assert len(full) == 100
    for prefix in (
        "q_testing_s0_m10",
        "q_testing_s10_m10",
        "q_testing_s9_m15",
        "q_testing_s50_m10",
    ):
        page, info = ids(prefix)
        assert info.start_index is not None
        assert page == full[info.start_index : info.start_index + len(page)]


def test_entry_without_id_is_a_problem_at_its_entry_index(tmp_path: Path) -> None:
    feed = """<feed xmlns="http://www.w3.org/2005/Atom">
      <entry><id>http://arxiv.org/abs/2101.00001v3</id><title>Good</title></entry>
      <entry><title>No id</title></entry>
      <entry><id>https://arxiv.org/abs/2101.00003</id><title>
        Also
        good</title></entry>
    </feed>"""
    path = tmp_path / "feed.xml"
    path.write_text(feed, encoding="utf-8")
    records, problems = split(arxiv_atom.parse(path))
    assert [(r.arxiv_id, r.version, r.title) for r in records] == [
        ("2101.00001", 3, "Good"),
        ("2101.00003", None, "Also good"),
    ]
    assert [p.line for p in problems] == [2]
    assert problems[0].reason.startswith("entry 2:")
    assert records[1].abs_url == "https://arxiv.org/abs/2101.00003"


def test_non_atom_xml_raises(tmp_path: Path) -> None:
    path = tmp_path / "rss.xml"
    path.write_text("<rss><channel/></rss>", encoding="utf-8")
    with pytest.raises(SourceError, match="not an Atom feed"):
        list(arxiv_atom.parse(path))
