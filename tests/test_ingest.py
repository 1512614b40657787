"""Ingest: upsert on a stable id, merge rules, listings, problems, and crash-safe resume."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from _core_helpers import SEED_COUNT, all_papers, count, make_workspace, paper_by_id
from sqlalchemy import select

from paperfeed.catalog.ingest import IngestReport, ingest_files
from paperfeed.catalog.records import ListingRecord, PaperRecord, ParseProblem, title_key
from paperfeed.db import IngestCheckpoint, IngestRun, Listing, Paper
from paperfeed.errors import SourceError
from paperfeed.formats import Format, get_format
from paperfeed.formats.jsonl import record_to_json
from paperfeed.workspace import Workspace

# -- helpers ------------------------------------------------------------------------------


def runs(ws: Workspace) -> list[IngestRun]:
    with ws.db.session() as session:
        return list(session.scalars(select(IngestRun).order_by(IngestRun.pk)))


def write_jsonl(path: Path, *records: PaperRecord) -> Path:
    path.write_text("".join(json.dumps(record_to_json(r)) + "\n" for r in records))
    return path


def ingest_records(
    ws: Workspace, path: Path, *records: PaperRecord, batch_size: int = 500
) -> IngestReport:
    """Write ``records`` as our JSON-lines format and ingest that file."""
    return ingest_files(
        ws.db, get_format("jsonl"), [write_jsonl(path, *records)], batch_size=batch_size
    )


def arxiv(
    version: int,
    title: str = "Sparse Attention Revisited",
    abstract: str = "v abstract",
    **kw: object,
) -> PaperRecord:
    return PaperRecord(
        title=title,
        source="arxiv-atom",
        abstract=abstract,
        arxiv_id="2401.01234",
        version=version,
        **kw,
    )


def interrupting(source: Format, after: int, only: Path | None = None) -> Format:
    """``source`` whose parse raises KeyboardInterrupt (Ctrl-C) after ``after`` items
    (of file ``only``, if given)."""

    def parse(path: Path) -> Iterator[PaperRecord | ParseProblem]:
        if only is not None and path != only:
            yield from source.parse(path)
            return
        for index, item in enumerate(source.parse(path)):
            if index == after:
                raise KeyboardInterrupt
            yield item

    return Format(source.name, source.description, parse)


# -- idempotence --------------------------------------------------------------------------


def test_seed_pages_give_285_papers_and_a_second_run_changes_nothing(
    workspace: Workspace, seed_paths: list[Path]
) -> None:
    source = get_format("hf-page")
    first = ingest_files(workspace.db, source, seed_paths)
    assert count(workspace) == SEED_COUNT
    assert first.added == SEED_COUNT
    assert first.seen == 360  # every row, duplicates across pages included
    assert first.problems == []
    assert all(p.id.startswith("title:") for p in all_papers(workspace))  # pages carry no ids

    before = {p.id: (p.changed_at, p.abstract) for p in all_papers(workspace)}
    second = ingest_files(workspace.db, source, seed_paths)
    assert (second.added, second.updated) == (0, 0)
    assert second.unchanged == 360
    assert count(workspace) == SEED_COUNT
    assert {p.id: (p.changed_at, p.abstract) for p in all_papers(workspace)} == before
    assert [r.status for r in runs(workspace)] == ["done", "done"]
    assert runs(workspace)[-1].added == 0


def test_the_id_is_the_arxiv_id_without_version(workspace: Workspace, kaggle_path: Path) -> None:
    report = ingest_files(workspace.db, get_format("kaggle"), [kaggle_path])
    assert report.added == 200
    first = paper_by_id(workspace, "0704.0001")
    assert first.version == 2
    assert first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.categories == ["hep-ph"] and first.primary_category == "hep-ph"
    assert first.published == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert first.title_key == title_key(first.title)
    again = ingest_files(workspace.db, get_format("kaggle"), [kaggle_path])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 200)


# -- versions and merge rules ---------------------------------------------------------------


def test_newer_version_updates_title_abstract_and_version(
    workspace: Workspace, tmp_path: Path
) -> None:
    ingest_records(workspace, tmp_path / "v1.jsonl", arxiv(1, abstract="first abstract"))
    before = paper_by_id(workspace, "2401.01234")
    report = ingest_records(
        workspace,
        tmp_path / "v2.jsonl",
        arxiv(2, title="Sparse Attention Revisited, Again", abstract="second abstract"),
    )
    assert (report.added, report.updated) == (0, 1)
    after = paper_by_id(workspace, "2401.01234")
    assert (after.title, after.abstract, after.version) == (
        "Sparse Attention Revisited, Again",
        "second abstract",
        2,
    )
    assert after.title_key == title_key("Sparse Attention Revisited, Again")
    assert after.changed_at > before.changed_at
    assert after.pk == before.pk
    assert count(workspace) == 1


def test_older_version_does_not_overwrite_but_fills_gaps(
    workspace: Workspace, tmp_path: Path
) -> None:
    ingest_records(workspace, tmp_path / "v3.jsonl", arxiv(3, abstract="third abstract"))
    report = ingest_records(
        workspace,
        tmp_path / "v1.jsonl",
        arxiv(1, title="An Early Title", abstract="first abstract", doi="10.1000/early"),
    )
    after = paper_by_id(workspace, "2401.01234")
    assert (after.title, after.abstract, after.version) == (
        "Sparse Attention Revisited",
        "third abstract",
        3,
    )
    assert after.title_key == title_key("Sparse Attention Revisited")
    assert after.doi == "10.1000/early"  # the newer version had none: a gap, filled
    assert report.updated == 1


def test_same_record_again_is_unchanged(workspace: Workspace, tmp_path: Path) -> None:
    record = arxiv(2, authors=["Ann Author"], categories=["cs.LG", "cs.CL"])
    ingest_records(workspace, tmp_path / "a.jsonl", record)
    report = ingest_records(workspace, tmp_path / "b.jsonl", record)
    assert (report.added, report.updated, report.unchanged) == (0, 0, 1)


def test_poorer_record_does_not_blank_out_authors_or_categories(
    workspace: Workspace, tmp_path: Path
) -> None:
    rich = arxiv(
        1,
        authors=["Ann Author", "Bob Writer"],
        categories=["cs.LG", "stat.ML"],
        doi="10.1000/xyz",
        published=datetime(2024, 1, 2, tzinfo=UTC),
    )
    ingest_records(workspace, tmp_path / "rich.jsonl", rich)
    poor = PaperRecord(
        title="Sparse Attention Revisited",
        source="hf-daily",
        arxiv_id="2401.01234",
        code_url="https://github.com/example/sparse",
    )
    report = ingest_records(workspace, tmp_path / "poor.jsonl", poor)
    after = paper_by_id(workspace, "2401.01234")
    assert after.authors == ["Ann Author", "Bob Writer"]
    assert after.categories == ["cs.LG", "stat.ML"] and after.primary_category == "cs.LG"
    assert after.doi == "10.1000/xyz"
    assert after.abstract == "v abstract"
    assert after.published == datetime(2024, 1, 2, tzinfo=UTC)
    assert after.version == 1
    assert after.code_url == "https://github.com/example/sparse"  # what it adds is taken
    assert report.updated == 1


def test_primary_category_follows_a_newer_category_list(
    workspace: Workspace, tmp_path: Path
) -> None:
    ingest_records(workspace, tmp_path / "a.jsonl", arxiv(1, categories=["cs.CL"]))
    ingest_records(workspace, tmp_path / "b.jsonl", arxiv(2, categories=["cs.LG", "cs.CL"]))
    after = paper_by_id(workspace, "2401.01234")
    assert after.categories == ["cs.LG", "cs.CL"]
    assert after.primary_category == "cs.LG"


def test_duplicates_inside_one_batch_follow_the_same_rules_as_across_batches(
    tmp_path: Path,
) -> None:
    newer = arxiv(3, abstract="third abstract", authors=["Ann Author"])
    older = arxiv(2, title="An Early Title", abstract="second abstract")  # no authors
    outcomes = []
    for batch_size in (1, 500):  # 1: one record per batch; 500: both in the same batch
        ws = make_workspace(tmp_path / f"b{batch_size}")
        ingest_records(ws, tmp_path / f"dup{batch_size}.jsonl", newer, older, batch_size=batch_size)
        got = paper_by_id(ws, "2401.01234")
        outcomes.append((got.title, got.abstract, got.version, got.authors))
        ws.db.engine.dispose()
    assert outcomes[0] == ("Sparse Attention Revisited", "third abstract", 3, ["Ann Author"])
    assert outcomes[1] == outcomes[0]


# -- title-only records (Daily Papers pages) ------------------------------------------------


def test_title_only_record_merges_into_the_arxiv_paper_with_that_title(
    workspace: Workspace, tmp_path: Path
) -> None:
    ingest_records(
        workspace,
        tmp_path / "arxiv.jsonl",
        arxiv(1, title="2D Matryoshka Sentence Embeddings", authors=["Xianming Li"]),
    )
    page = PaperRecord(
        title="2D  matryoshka sentence-embeddings!",  # same once normalised
        source="hf-page",
        abstract="the abstract as shown on the page",
    )
    assert page.arxiv_id is None and page.key.startswith("title:")
    report = ingest_records(workspace, tmp_path / "page.jsonl", page)
    assert report.added == 0
    assert count(workspace) == 1
    merged = paper_by_id(workspace, "2401.01234")
    assert merged.authors == ["Xianming Li"]  # the page has none: kept
    assert merged.version == 1


def test_arxiv_record_upgrades_a_title_only_paper_to_its_arxiv_id(
    workspace: Workspace, seed_paths: list[Path], tmp_path: Path
) -> None:
    ingest_files(workspace.db, get_format("hf-page"), seed_paths)
    page_id = title_key("2D Matryoshka Sentence Embeddings")
    title_only = paper_by_id(workspace, page_id)
    assert title_only.version is None and title_only.authors == []

    report = ingest_records(
        workspace,
        tmp_path / "arxiv.jsonl",
        PaperRecord(
            title="2D Matryoshka Sentence Embeddings",
            source="arxiv-atom",
            abstract=title_only.abstract,
            arxiv_id="2402.14776",
            version=6,
            authors=["Xianming Li", "Zongxi Li", "Jing Li"],
            categories=["cs.CL"],
        ),
    )
    assert (report.added, report.updated) == (0, 1)
    assert count(workspace) == SEED_COUNT
    upgraded = paper_by_id(workspace, "2402.14776")
    assert upgraded.pk == title_only.pk
    assert upgraded.version == 6
    assert upgraded.authors == ["Xianming Li", "Zongxi Li", "Jing Li"]
    with workspace.db.session() as session:
        assert session.scalar(select(Paper).where(Paper.id == page_id)) is None

    # The page again: it now merges into the arXiv paper instead of coming back.
    again = ingest_files(workspace.db, get_format("hf-page"), seed_paths)
    assert again.added == 0
    assert count(workspace) == SEED_COUNT
    assert paper_by_id(workspace, "2402.14776").authors == ["Xianming Li", "Zongxi Li", "Jing Li"]


def test_later_records_of_the_id_a_title_only_paper_learnt_in_the_batch_merge_into_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    page = PaperRecord(title="Sparse Attention Revisited", source="hf-page")
    ingest_records(workspace, tmp_path / "page.jsonl", page)
    # Both in one batch: the first gives the title-only paper its arXiv id, the second is a
    # newer version of that id and must find the same paper, not insert a second one.
    report = ingest_records(workspace, tmp_path / "arxiv.jsonl", arxiv(1), arxiv(2))
    assert (report.added, report.updated) == (0, 2)
    assert count(workspace) == 1
    assert paper_by_id(workspace, "2401.01234").version == 2


def test_two_arxiv_papers_with_the_same_title_stay_two(
    workspace: Workspace, tmp_path: Path
) -> None:
    first = arxiv(1, title="Introduction")
    second = PaperRecord(title="Introduction", source="arxiv-atom", arxiv_id="2402.00002")
    ingest_records(workspace, tmp_path / "a.jsonl", first)
    ingest_records(workspace, tmp_path / "b.jsonl", second)
    assert sorted(p.id for p in all_papers(workspace)) == ["2401.01234", "2402.00002"]


# -- listings -------------------------------------------------------------------------------


def test_same_paper_on_two_days_has_two_listings_with_each_days_upvotes(
    workspace: Workspace, shared_root: Path
) -> None:
    history = shared_root / "data" / "hf_daily_papers" / "history"
    days = [history / "2026-06-10.json.gz", history / "2026-06-16.json.gz"]
    if not all(p.is_file() for p in days):
        pytest.skip(f"hf daily history files not found in {history}")
    report = ingest_files(workspace.db, get_format("hf-daily"), days)
    assert report.problems == []
    resubmitted = paper_by_id(workspace, "2606.11176")
    assert [(x.source, x.day, x.upvotes) for x in resubmitted.listings] == [
        ("hf-daily", date(2026, 6, 10), 29),
        ("hf-daily", date(2026, 6, 16), 82),
    ]
    assert count(workspace, Listing) == report.seen  # one listing per entry
    assert report.updated == 1  # the second day's listing is news about a known paper
    assert count(workspace) == report.added == report.seen - 1


def test_listing_upvotes_update_without_a_new_listing(
    workspace: Workspace, hf_history_paths: list[Path], tmp_path: Path
) -> None:
    day_file = hf_history_paths[0]
    ingest_files(workspace.db, get_format("hf-daily"), [day_file])
    entries = json.loads(gzip.decompress(day_file.read_bytes()))
    top = entries[0]["paper"]
    before = paper_by_id(workspace, top["id"])
    listings = count(workspace, Listing)

    top["upvotes"] += 100
    changed = tmp_path / day_file.name
    changed.write_bytes(gzip.compress(json.dumps(entries).encode()))
    report = ingest_files(workspace.db, get_format("hf-daily"), [changed])
    assert (report.added, report.updated, report.unchanged) == (0, 1, len(entries) - 1)
    after = paper_by_id(workspace, top["id"])
    assert [x.upvotes for x in after.listings] == [before.listings[0].upvotes + 100]
    assert after.listings[0].day == before.listings[0].day
    assert count(workspace, Listing) == listings
    assert after.changed_at > before.changed_at


def test_listings_merge_from_two_sources_of_the_same_paper(
    workspace: Workspace, tmp_path: Path
) -> None:
    day_one = ListingRecord("hf-daily", date(2026, 5, 1), upvotes=3, comments=0)
    day_two = ListingRecord("arxiv-daily", date(2026, 5, 2))
    ingest_records(workspace, tmp_path / "a.jsonl", arxiv(1, listings=[day_one]))
    ingest_records(workspace, tmp_path / "b.jsonl", arxiv(1, listings=[day_two]))
    got = paper_by_id(workspace, "2401.01234")
    assert [(x.source, x.day, x.upvotes) for x in got.listings] == [
        ("hf-daily", date(2026, 5, 1), 3),
        ("arxiv-daily", date(2026, 5, 2), None),
    ]


# -- problems and errors --------------------------------------------------------------------


def test_malformed_kaggle_line_is_reported_with_file_and_line_and_the_rest_goes_in(
    workspace: Workspace, kaggle_path: Path, tmp_path: Path
) -> None:
    lines = kaggle_path.read_text(encoding="utf-8").splitlines()[:10]
    lines[3] = lines[3][: len(lines[3]) // 2]  # line 4: truncated JSON
    lines[6] = json.dumps({"id": "0704.0007", "abstract": "no title here"})  # line 7
    broken = tmp_path / "snapshot.jsonl"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest_files(workspace.db, get_format("kaggle"), [broken])
    assert [(p.path, p.line) for p in report.problems] == [(str(broken), 4), (str(broken), 7)]
    assert "invalid JSON" in report.problems[0].reason
    assert "title" in report.problems[1].reason
    assert str(report.problems[0]).startswith(f"{broken}:4: ")
    assert report.added == 8
    assert count(workspace) == 8
    assert runs(workspace)[-1].problems == 2
    with workspace.db.session() as session:
        ids = set(session.scalars(select(Paper.id)))
    assert "0704.0004" not in ids and "0704.0007" not in ids
    assert {"0704.0001", "0704.0010"} <= ids


def test_malformed_line_in_our_jsonl_format_is_a_problem(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "export.jsonl", arxiv(1), arxiv(2, title="Second"))
    with path.open("a") as stream:
        stream.write('{"title": "No source"}\n')
        stream.write("not json at all\n")
        third = PaperRecord(title="Third Paper", source="jsonl", arxiv_id="2402.00003")
        stream.write(json.dumps(record_to_json(third)) + "\n")
    report = ingest_files(workspace.db, get_format("jsonl"), [path])
    assert [p.line for p in report.problems] == [3, 4]
    assert "source" in report.problems[0].reason
    assert sorted(p.id for p in all_papers(workspace)) == ["2401.01234", "2402.00003"]


def test_missing_file_raises_before_anything_is_written(
    workspace: Workspace, seed_paths: list[Path], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(SourceError, match=r"missing\.txt"):
        ingest_files(workspace.db, get_format("hf-page"), [seed_paths[0], missing])
    assert count(workspace) == 0
    assert count(workspace, IngestRun) == 0
    assert count(workspace, IngestCheckpoint) == 0


def test_a_file_of_another_format_fails_the_run_with_a_source_error(
    workspace: Workspace, hf_history_paths: list[Path], tmp_path: Path
) -> None:
    with pytest.raises(SourceError):
        ingest_files(workspace.db, get_format("kaggle"), [hf_history_paths[0]])
    assert count(workspace) == 0
    run = runs(workspace)[-1]
    assert run.status == "failed"
    assert run.error


# -- resume -----------------------------------------------------------------------------------


def test_interrupted_ingest_keeps_committed_batches_and_resumes(
    workspace: Workspace, kaggle_path: Path
) -> None:
    kaggle = get_format("kaggle")
    with pytest.raises(KeyboardInterrupt):
        ingest_files(workspace.db, interrupting(kaggle, after=50), [kaggle_path], batch_size=20)
    assert count(workspace) == 40  # two committed batches; the one in flight is lost
    run = runs(workspace)[-1]
    assert run.status == "interrupted"
    assert run.finished_at is not None
    assert run.added == 40
    with workspace.db.session() as session:
        checkpoint = session.get(IngestCheckpoint, ("kaggle", str(kaggle_path.resolve())))
        assert checkpoint is not None
        assert (checkpoint.items_done, checkpoint.complete) == (40, False)

    report = ingest_files(workspace.db, kaggle, [kaggle_path], batch_size=20)
    assert report.resumed_items == 40
    assert (report.added, report.updated, report.unchanged) == (160, 0, 0)
    assert count(workspace) == 200
    assert runs(workspace)[-1].status == "done"
    with workspace.db.session() as session:
        checkpoint = session.get(IngestCheckpoint, ("kaggle", str(kaggle_path.resolve())))
        assert checkpoint is not None and checkpoint.complete and checkpoint.items_done == 200

    # A finished file is read again in full next time (nothing to resume), changing nothing.
    again = ingest_files(workspace.db, kaggle, [kaggle_path], batch_size=20)
    assert again.resumed_items == 0
    assert (again.added, again.updated, again.unchanged) == (0, 0, 200)


def test_resume_with_another_batch_size_skips_exactly_what_was_committed(
    workspace: Workspace, kaggle_path: Path
) -> None:
    kaggle = get_format("kaggle")
    with pytest.raises(KeyboardInterrupt):
        ingest_files(workspace.db, interrupting(kaggle, after=50), [kaggle_path], batch_size=20)
    report = ingest_files(workspace.db, kaggle, [kaggle_path], batch_size=15)
    assert report.resumed_items == 40
    assert (report.added, report.unchanged) == (160, 0)
    assert count(workspace) == 200


def test_a_changed_file_restarts_from_the_beginning(
    workspace: Workspace, kaggle_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "snapshot.jsonl"
    shutil.copyfile(kaggle_path, copy)
    kaggle = get_format("kaggle")
    with pytest.raises(KeyboardInterrupt):
        ingest_files(workspace.db, interrupting(kaggle, after=50), [copy], batch_size=20)
    assert count(workspace) == 40

    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # same size, newer mtime
    report = ingest_files(workspace.db, kaggle, [copy], batch_size=20)
    assert report.resumed_items == 0
    assert (report.added, report.unchanged) == (160, 40)
    assert count(workspace) == 200


def test_only_the_interrupted_file_resumes(
    workspace: Workspace, kaggle_path: Path, tmp_path: Path
) -> None:
    lines = kaggle_path.read_text(encoding="utf-8").splitlines(keepends=True)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(lines[:100]), encoding="utf-8")
    second.write_text("".join(lines[100:]), encoding="utf-8")
    kaggle = get_format("kaggle")
    with pytest.raises(KeyboardInterrupt):
        ingest_files(
            workspace.db,
            interrupting(kaggle, after=50, only=second),
            [first, second],
            batch_size=20,
        )
    assert count(workspace) == 140

    report = ingest_files(workspace.db, kaggle, [first, second], batch_size=20)
    assert report.resumed_items == 40  # the finished first file is read again, not resumed
    assert (report.added, report.unchanged) == (60, 100)
    assert count(workspace) == 200
