"""Filtered dense search at 100k papers: the shipped rule vs the graph always vs an exact scan.

    .venv/bin/python bench/bench_filters.py [--corpus papers100k] [--queries 120] [--skip-build]

``Indexes.dense`` answers a query with a filter (``cat:cs.LG``) either from the HNSW graph
(oversampled by the filter's selectivity, keeping those that pass; an exact scan after all if
fewer than ``depth`` pass) or by scoring every passing paper exactly. ``VectorConfig`` says
which, by the fraction of the collection the filter passes. Per category filter, on real
queries (``bench_search.make_queries``), depth 100, CPU time per query (``time.thread_time``,
warm: the filter's rows already cached), three ``Indexes`` over the same files:

* shipped: the default ``VectorConfig``;
* graph: the graph for every filter (``exact_filtered_below=0``, no cost guard);
* exact: never the graph, the baseline; the others' overlap with its top 100 is reported.

Progress goes to stderr; the report (Markdown) to stdout.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import REPO, Table, command_line, log, print_load_report, section

CATEGORIES = ("cs.RO", "cs.LG", "cs.CL", "cs.AI", "cs.CV")
DEPTH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="papers100k", help="papers100k (default) or arxiv26k")
    parser.add_argument("--queries", type=int, default=120, help="queries per filter (120)")
    parser.add_argument("--skip-build", action="store_true", help="fail if not cached")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    from bench_search import make_queries, open_corpus

    from paperfeed.search.embed import get_query_embedder
    from paperfeed.search.index import Indexes
    from paperfeed.search.index.vectors import VectorConfig
    from paperfeed.search.query import parse_query

    if args.skip_build and not (REPO / "bench" / ".cache" / args.corpus / "meta.json").exists():
        raise SystemExit(f"--skip-build: bench/.cache/{args.corpus} is not built")
    sections: list = []
    with tempfile.TemporaryDirectory() as tmp:
        opts = argparse.Namespace(shared=args.shared, rebuild=False)
        workspace, _, description = open_corpus(args.corpus, opts, Path(tmp))
        queries, _ = make_queries(args.corpus, workspace, args.shared, 240, args.seed)
        queries = random.Random(args.seed).sample(queries, min(args.queries, len(queries)))
        workspace.indexes.refresh()
        path = workspace.settings.index_dir
        rules = {
            "shipped": Indexes(path),
            "graph": Indexes(
                path,
                VectorConfig(
                    exact_filtered_below=0.0, graph_candidate_cost=0.0, max_graph_candidates=10**6
                ),
            ),
            "exact": Indexes(path, VectorConfig(exact_filtered_below=1.1)),
        }
        vectors = rules["shipped"].vector_index
        if not vectors.has_graph:
            raise SystemExit(f"{args.corpus} has no HNSW graph: nothing to compare")
        lexical = rules["shipped"].lexical_index
        embedder = get_query_embedder()
        query_vectors = [embedder.embed_query(parse_query(q).text) for q in queries]
        table = Table(
            f"Filtered dense search — {args.corpus} ({len(vectors):,} vectors), depth {DEPTH}, "
            f"{len(queries)} queries per filter, CPU ms per query",
            "the exact scan of the filter's rows",
            command_line(),
        )

        def timed(rule: str, parsed: object, vector: np.ndarray) -> tuple[float, list[int]]:
            start = time.thread_time()
            hits = rules[rule].dense(vector, DEPTH, parsed)  # type: ignore[arg-type]
            return time.thread_time() - start, [h.pk for h in hits]

        for category in CATEGORIES:
            parsed = parse_query(f"x cat:{category}")
            allowed = lexical.allowed(parsed, lexical.num_docs)
            assert allowed is not None
            for rule in rules:
                timed(rule, parsed, query_vectors[0])  # caches the filter's rows
            seconds = dict.fromkeys(rules, 0.0)
            overlap = dict.fromkeys(rules, 0)
            log(f"{category}: {len(allowed.pks):,} papers")
            with section(f"cat:{category}", sections):
                for vector in query_vectors:
                    answers = {}
                    for rule in rules:
                        spent, answers[rule] = timed(rule, parsed, vector)
                        seconds[rule] += spent
                    for rule in rules:
                        overlap[rule] += len(set(answers[rule]) & set(answers["exact"]))
            n = len(query_vectors)
            share = len(allowed.pks) / len(vectors)
            for rule in ("shipped", "graph"):
                table.add(
                    f"cat:{category}, {len(allowed.pks):,} papers ({share:.1%}): {rule}",
                    seconds[rule] / n * 1000,
                    seconds["exact"] / n * 1000,
                    "ms",
                    f"{overlap[rule] / n / DEPTH:.3f} of the exact top {DEPTH}",
                )
        print(f"# bench_filters\n\ncorpus: {description}")
        print(f"\nshipped rule: {VectorConfig()}")
        table.print()
        print()
        print_load_report(sections)


if __name__ == "__main__":
    main()
