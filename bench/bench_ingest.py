"""Ingest throughput: records/second through the real ``paperfeed.catalog.ingest.ingest_files``.

    .venv/bin/python bench/bench_ingest.py [--days N] [--repeat R] [--skip-demo] [--skip-arxiv]
    .venv/bin/python bench/bench_ingest.py --kaggle [N] [--repeat R]

Corpora: (a) the bundled demo corpus (``paperfeed.catalog.demo.demo_files()``, source hf-daily) and
(b) the real arXiv cs daily listings ``shared/data/arxiv_daily_cs/days/*.jsonl.gz`` (source
arxiv-daily; 120 files, 46,848 records, 26,656 distinct papers), skipped with a message when
absent. Each goes into a fresh SQLite workspace in a temporary directory.

Baselines, measured in the same run on the same files:
  * parse only: iterate ``source.parse`` over the files, no database;
  * parse + sqlite3: the same parse, then a plain stdlib ``sqlite3`` ``executemany`` upsert
    (papers keyed on the same id, listings keyed on paper/source/day; WAL,
    synchronous=NORMAL, one commit per batch as ours) — what an ORM-free ingest costs.
The re-ingest (the same files again: everything unchanged) is timed against the same
sqlite3 upsert run a second time.

``--kaggle N`` (default 200,000) times only the Kaggle arXiv snapshot: a synthetic snapshot of
N records made from the 200 real ones in ``shared/data/arxiv_kaggle`` (each copy with new
arXiv ids, a title suffix so title keys differ, and one or two extra versions), written to a
temporary file. It is ingested into a fresh SQLite workspace (all new), then again (all
unchanged), by the bulk path and by the per-record path (``ingest_files(bulk=False)``) in
the same run; the ratio is bulk / per-record. Skipped with a message when the sample is absent.

Indexing is timed per stage of the real ``Indexes.sync``, with the vectors attached first
(the demo's shipped vectors; for arXiv, the vectors cached by ``bench_search.py`` in
``bench/.cache/arxiv26k`` if present, else random unit vectors, said so in the output) so no
embedding happens: embedding speed is ``bench/bench_embed.py``'s subject. Baselines: an FTS5
table over title+abstract built with stdlib ``sqlite3`` (text), and a one-shot usearch build
of the same vectors with the same parameters (vectors, when the collection is large enough
for paperfeed to build its HNSW graph).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _common import (
    CACHE,
    DEFAULT_SHARED,
    Section,
    Table,
    add_wait_quiet,
    arxiv_day_files,
    build_fts5,
    command_line,
    load_now,
    log,
    make_workspace,
    print_load_report,
    section,
    timed_sync,
    wait_for_quiet,
)
from sqlalchemy import insert, select

from paperfeed.catalog.demo import attach_vectors, demo_files
from paperfeed.catalog.ingest import ingest_files
from paperfeed.catalog.records import PaperRecord
from paperfeed.db import Embedding, Paper, changes
from paperfeed.formats import Format, get_format
from paperfeed.search import embed
from paperfeed.search.catchup import text_hash
from paperfeed.search.index.vectors import EXACT_BELOW

# -- baselines -------------------------------------------------------------------------------
_SCHEMA = """
CREATE TABLE papers (
    id TEXT PRIMARY KEY, title TEXT, abstract TEXT, authors TEXT, categories TEXT,
    published TEXT, version INTEGER, comments TEXT, abs_url TEXT, pdf_url TEXT, code_url TEXT
);
CREATE TABLE listings (
    paper_id TEXT, source TEXT, day TEXT, upvotes INTEGER, comments INTEGER,
    PRIMARY KEY (paper_id, source, day)
);
"""
_COLUMNS = (
    "title",
    "abstract",
    "authors",
    "categories",
    "published",
    "version",
    "comments",
    "abs_url",
    "pdf_url",
    "code_url",
)
_UPSERT_PAPER = (
    f"INSERT INTO papers (id, {', '.join(_COLUMNS)}) VALUES ({', '.join('?' * 11)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS)} "
    f"WHERE ({', '.join(_COLUMNS)}) IS NOT ({', '.join(f'excluded.{c}' for c in _COLUMNS)})"
)
_UPSERT_LISTING = (
    "INSERT INTO listings VALUES (?, ?, ?, ?, ?) ON CONFLICT (paper_id, source, day) "
    "DO UPDATE SET upvotes = excluded.upvotes, comments = excluded.comments "
    "WHERE (upvotes, comments) IS NOT (excluded.upvotes, excluded.comments)"
)


def parse_only(source: Format, files: list[Path]) -> tuple[int, int]:
    """Iterate the parser over every file; (records, problems)."""
    records = problems = 0
    for path in files:
        for item in source.parse(path):
            if isinstance(item, PaperRecord):
                records += 1
            else:
                problems += 1
    return records, problems


def sqlite_upsert(source: Format, files: list[Path], db_file: Path, batch_size: int) -> int:
    """Parse, then upsert with plain sqlite3 ``executemany`` in batches; records handled."""
    conn = sqlite3.connect(db_file)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'papers'").fetchone():
        conn.executescript(_SCHEMA)
    count = 0
    batch: list[PaperRecord] = []

    def flush() -> None:
        with conn:
            conn.executemany(
                _UPSERT_PAPER,
                [
                    (
                        r.key,
                        r.title,
                        r.abstract,
                        json.dumps(r.authors),
                        json.dumps(r.categories),
                        r.published.isoformat() if r.published else None,
                        r.version,
                        r.comments,
                        r.abs_url,
                        r.pdf_url,
                        r.code_url,
                    )
                    for r in batch
                ],
            )
            conn.executemany(
                _UPSERT_LISTING,
                [
                    (r.key, lst.source, lst.day.isoformat(), lst.upvotes, lst.comments)
                    for r in batch
                    for lst in r.listings
                ],
            )
        batch.clear()

    for path in files:
        for item in source.parse(path):
            if isinstance(item, PaperRecord):
                batch.append(item)
                count += 1
                if len(batch) >= batch_size:
                    flush()
        if batch:
            flush()
    conn.close()
    return count


# -- vectors for the index stage -------------------------------------------------------------
def attach_cached_vectors(workspace: object) -> tuple[int, str]:
    """Attach vectors so the sync embeds nothing; (attached, where they came from)."""
    cached = CACHE / "arxiv26k" / "paperfeed.db"
    stored: dict[str, tuple[str, bytes]] = {}
    if cached.exists():
        conn = sqlite3.connect(f"file:{cached}?mode=ro", uri=True)
        stored = {
            pid: (h, v)
            for pid, h, v in conn.execute(
                "SELECT p.id, e.text_hash, e.vector FROM papers p "
                "JOIN embeddings e ON e.paper_pk = p.pk WHERE e.model = ?",
                (embed.MODEL_ID,),
            )
        }
        conn.close()
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    real = fake = 0
    with workspace.db.session() as session:  # type: ignore[attr-defined]
        rows, seq = [], changes.stamp(session)
        for pk, pid, title, abstract in session.execute(
            select(Paper.pk, Paper.id, Paper.title, Paper.abstract)
        ):
            digest = text_hash(title, abstract)
            hit = stored.get(pid)
            if hit is not None and hit[0] == digest:
                vector, real = hit[1], real + 1
            else:
                random = rng.normal(size=embed.DIM).astype(np.float32)
                vector, fake = (random / np.linalg.norm(random)).tobytes(), fake + 1
            rows.append(
                {
                    "paper_pk": pk,
                    "model": embed.MODEL_ID,
                    "text_hash": digest,
                    "vector": vector,
                    "created_at": now,
                    "seq": seq,
                }
            )
        session.execute(insert(Embedding), rows)
    if fake == 0:
        return real, "real vectors from bench/.cache/arxiv26k"
    return real + fake, (
        f"{fake:,} RANDOM unit vectors ({real:,} real from the cache; run "
        "bench/bench_search.py once to cache real ones) — vector-stage figures are indicative"
    )


def vectors_baseline(workspace: object) -> tuple[float, int, str]:
    """Load the same vectors with sqlite3+numpy and (if large) build one usearch graph."""
    from usearch.index import Index as HNSW

    db_file = workspace.settings.data_dir / "paperfeed.db"  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT paper_pk, vector FROM embeddings WHERE model = ?", (embed.MODEL_ID,)
    ).fetchall()
    conn.close()
    keys = np.array([r[0] for r in rows], dtype=np.int64)
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, embed.DIM)
    what = "sqlite3 read + numpy matrix"
    if len(keys) >= EXACT_BELOW:
        graph = HNSW(ndim=embed.DIM, metric="cos", dtype="f16", multi=False)
        graph.add(keys, matrix)
        what += " + one usearch add() of all vectors (same graph parameters)"
    return time.perf_counter() - t0, len(keys), what


# -- one corpus ------------------------------------------------------------------------------
def median_rate(runs: list[tuple[int, float]]) -> float:
    return statistics.median(n / s for n, s in runs)


def bench_corpus(
    name: str,
    source: Format,
    files: list[Path],
    args: argparse.Namespace,
    sections: list[Section],
    attach: Callable[[object], tuple[int, str]],
) -> None:
    command = command_line()
    log(f"{name}: {len(files)} files, {args.repeat} repetition(s)")
    parse_runs, sqlite_runs, sqlite_again_runs = [], [], []
    ours_runs, again_runs = [], []
    report = again = None
    stages: dict[str, float] = {}
    counts: dict[str, int] = {}
    vector_note = ""
    for rep in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            tmpdir = Path(tmp)
            with section(f"{name} #{rep + 1}: parse only", sections):
                t0 = time.perf_counter()
                records, _problems = parse_only(source, files)
                parse_runs.append((records, time.perf_counter() - t0))
            with section(f"{name} #{rep + 1}: parse + sqlite3 upsert (x2)", sections):
                t0 = time.perf_counter()
                n = sqlite_upsert(source, files, tmpdir / "plain.db", args.batch_size)
                sqlite_runs.append((n, time.perf_counter() - t0))
                t0 = time.perf_counter()
                n = sqlite_upsert(source, files, tmpdir / "plain.db", args.batch_size)
                sqlite_again_runs.append((n, time.perf_counter() - t0))
            workspace = make_workspace(tmpdir / "data")
            with section(f"{name} #{rep + 1}: ingest_files (x2)", sections):
                t0 = time.perf_counter()
                report = ingest_files(workspace.db, source, files, batch_size=args.batch_size)
                ours_runs.append((records, time.perf_counter() - t0))
                t0 = time.perf_counter()
                again = ingest_files(workspace.db, source, files, batch_size=args.batch_size)
                again_runs.append((records, time.perf_counter() - t0))
            if rep == args.repeat - 1:  # index once, on the last workspace
                _, vector_note = attach(workspace)
                with section(f"{name}: Indexes.sync stages", sections):
                    stages, counts = timed_sync(workspace, name)
                with section(f"{name}: FTS5 + vector baselines", sections):
                    db_file = workspace.settings.data_dir / "paperfeed.db"
                    fts, fts_docs, fts_s = build_fts5(db_file, tmpdir / "fts.db")
                    fts.close()
                    vec_s, vec_n, vec_what = vectors_baseline(workspace)
            workspace.db.engine.dispose()

    assert report is not None and again is not None
    if report.seen != records:
        print(
            f"\nnote: {records:,} records parsed, but the ingest report counts {report.seen:,} "
            "(added + updated + unchanged): records repeated inside one batch are merged "
            "before they are counted. Rates below are per record parsed."
        )
    if again.added or again.updated:
        print(f"NOTE: the second ingest was not all unchanged: {again}", file=sys.stderr)
    papers = report.added
    table = Table(
        f"Ingest — {name}: {len(files)} files, {records:,} records → {papers:,} papers "
        f"({len(report.problems)} skipped), median of {args.repeat}",
        "parse only / parse + plain sqlite3 upsert of the same records / FTS5 / usearch",
        command,
    )
    ours = median_rate(ours_runs)
    table.add("ingest_files, records/s vs parse only", ours, median_rate(parse_runs), "rec/s")
    table.add(
        "ingest_files, records/s vs parse + sqlite3 upsert",
        ours,
        median_rate(sqlite_runs),
        "rec/s",
    )
    table.add(
        "ingest_files, distinct papers/s",
        median(papers, ours_runs),
        median(papers, sqlite_runs),
        "papers/s",
        "baseline: parse + sqlite3",
    )
    table.add(
        "re-ingest, all unchanged, records/s",
        median_rate(again_runs),
        median_rate(sqlite_again_runs),
        "rec/s",
        f"{again.unchanged:,} unchanged, {again.added + again.updated} added/updated; "
        "baseline: sqlite3 upsert rerun",
    )
    table.add(
        "Indexes.sync: embed stage",
        stages.get("embed", 0.0),
        None,
        "s",
        f"{counts.get('embed', 0):,} embedded (vectors pre-attached)",
    )
    lexical_s = stages.get("index text", 0.0)
    table.add(
        "Indexes.sync: index text (tantivy)",
        counts.get("index text", 0) / lexical_s if lexical_s else 0.0,
        fts_docs / fts_s,
        "papers/s",
        f"{lexical_s:.2f} s vs {fts_s:.2f} s; baseline: sqlite3 FTS5 build (title+abstract)",
    )
    vectors_s = stages.get("index vectors", 0.0)
    table.add(
        "Indexes.sync: index vectors",
        counts.get("index vectors", 0) / vectors_s if vectors_s else 0.0,
        vec_n / vec_s,
        "papers/s",
        f"{vectors_s:.2f} s vs {vec_s:.2f} s; baseline: {vec_what}; {vector_note}",
    )
    table.print()


# -- the Kaggle snapshot -------------------------------------------------------------------
KAGGLE_SAMPLE = Path("data") / "arxiv_kaggle" / "arxiv-metadata-oai-snapshot.first200.jsonl"


def synthetic_kaggle(sample: Path, count: int, target: Path) -> None:
    """``count`` snapshot lines: the sample's records again and again, each copy a new paper."""
    base = [json.loads(line) for line in sample.read_text().splitlines() if line.strip()]
    with target.open("w") as out:
        for number in range(count):
            copy, index = divmod(number, len(base))
            record = dict(base[index])
            # 2001.00001, 2001.00002, ...: new-style ids, 99,999 a month as arXiv allows.
            month, serial = divmod(number, 99_999)
            record["id"] = f"{2001 + month}.{serial + 1:05d}"
            record["title"] = f"{record['title']} (copy {copy})"
            versions = list(record.get("versions") or [])
            for extra in range(copy % 3):
                created = f"Tue, {extra + 1} Jan 2019 10:00:00 GMT"
                versions.append({"version": f"v{len(versions) + 1}", "created": created})
            record["versions"] = versions
            out.write(json.dumps(record) + "\n")


def bench_kaggle(args: argparse.Namespace, sections: list[Section]) -> None:
    sample = args.shared / KAGGLE_SAMPLE
    if not sample.is_file():
        print(f"\nSKIPPED Kaggle snapshot: {sample} not found (pass --shared DIR)")
        return
    source = get_format("kaggle")
    rates: dict[tuple[bool, str], list[float]] = {}
    reports = {}
    with tempfile.TemporaryDirectory(prefix="bench-kaggle-") as tmp:
        snapshot = Path(tmp) / "arxiv-metadata-oai-snapshot.json"
        log(f"kaggle: writing {args.kaggle:,} synthetic records")
        synthetic_kaggle(sample, args.kaggle, snapshot)
        for rep in range(args.repeat):
            for bulk in (True, False):
                path = "bulk" if bulk else "per-record"
                workspace = make_workspace(Path(tmp) / f"data-{rep}-{path}")
                with section(f"kaggle #{rep + 1}: {path} ingest (x2)", sections):
                    for run in ("new", "unchanged"):
                        t0, cpu0 = time.perf_counter(), time.process_time()
                        report = ingest_files(
                            workspace.db, source, [snapshot], batch_size=args.batch_size, bulk=bulk
                        )
                        seconds = time.perf_counter() - t0
                        cpu = time.process_time() - cpu0
                        rates.setdefault((bulk, run), []).append(report.seen / seconds)
                        rates.setdefault((bulk, f"{run} cpu"), []).append(report.seen / cpu)
                        reports[(bulk, run)] = report
                        log(
                            f"kaggle #{rep + 1} {path} {run}: {report.seen / seconds:,.0f} rec/s, "
                            f"{report.seen / cpu:,.0f} per CPU second"
                        )
                workspace.db.engine.dispose()
                (Path(tmp) / f"data-{rep}-{path}" / "paperfeed.db").unlink()
    for (bulk, run), report in reports.items():
        expected = (args.kaggle, 0, 0) if run == "new" else (0, 0, args.kaggle)
        got = (report.added, report.updated, report.unchanged)
        if got != expected or report.problems:
            print(
                f"NOTE: {run} ingest (bulk={bulk}) counted {got}, {len(report.problems)} problems"
            )
    table = Table(
        f"Ingest — synthetic Kaggle snapshot: {args.kaggle:,} records (from the 200 real ones), "
        f"batches of {args.batch_size}, median of {args.repeat}",
        "the per-record path (ingest_files(bulk=False)) in the same run; ratio = bulk / per-record",
        command_line(),
    )
    for run, note in (("new", "every paper new"), ("unchanged", "the same file again")):
        table.add(
            f"ingest_files, {run}",
            statistics.median(rates[(True, run)]),
            statistics.median(rates[(False, run)]),
            "rec/s",
            note,
        )
        table.add(
            f"ingest_files, {run}, per CPU second of this process",
            statistics.median(rates[(True, f"{run} cpu")]),
            statistics.median(rates[(False, f"{run} cpu")]),
            "rec/cpu-s",
            "what one free core gives; wall rates fall when others use the cores",
        )
        paired = [b / o for b, o in zip(rates[(True, run)], rates[(False, run)], strict=True)]
        table.add(
            f"ingest_files, {run}, bulk / per-record of each repetition",
            statistics.median(paired),
            None,
            "x",
            "median of the paired ratios: the two runs of one repetition follow each other, "
            "so they share the machine's load more than the medians above do",
        )
    table.print()


def median(count: int, runs: list[tuple[int, float]]) -> float:
    return statistics.median(count / s for _, s in runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Ingest throughput through paperfeed.catalog.ingest.ingest_files, "
        "with baselines.",
        epilog="Progress goes to stderr; the report (Markdown tables) to stdout.",
    )
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared/ data dir")
    parser.add_argument("--days", type=int, default=None, help="only the first N arXiv days")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions (median reported)")
    parser.add_argument("--batch-size", type=int, default=500, help="records per commit")
    parser.add_argument("--skip-demo", action="store_true", help="skip the demo corpus")
    parser.add_argument("--skip-arxiv", action="store_true", help="skip the arXiv listings")
    parser.add_argument(
        "--kaggle",
        type=int,
        nargs="?",
        const=200_000,
        default=None,
        metavar="N",
        help="only a synthetic Kaggle snapshot of N records (default 200,000)",
    )
    add_wait_quiet(parser)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    wait_for_quiet(args.wait_quiet)
    print("# bench_ingest")
    print(f"\ncommand: `{command_line()}`; started {load_now()}")
    sections: list[Section] = []
    if args.kaggle is not None:
        bench_kaggle(args, sections)
        print_load_report(sections)
        return
    if not args.skip_demo:
        bench_corpus(
            "demo corpus (hf-daily)",
            get_format("hf-daily"),
            demo_files(),
            args,
            sections,
            lambda ws: (attach_vectors(ws), "shipped demo vectors"),  # type: ignore[arg-type]
        )
    if not args.skip_arxiv:
        files = arxiv_day_files(args.shared, args.days)
        if not files:
            print(
                f"\nSKIPPED arXiv listings: no files in {args.shared}/data/arxiv_daily_cs/days "
                "(pass --shared DIR)"
            )
        else:
            bench_corpus(
                "arXiv cs daily listings (arxiv-daily)",
                get_format("arxiv-daily"),
                files,
                args,
                sections,
                attach_cached_vectors,
            )
    print_load_report(sections)


if __name__ == "__main__":
    main()
