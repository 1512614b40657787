"""Filtered dense search at 100k papers: the graph first vs an exact scan of the filter's rows.

    .venv/bin/python bench/bench_filters.py [--corpus papers100k] [--queries 120] [--skip-build]

``Indexes.dense`` answers a query with a filter (``cat:cs.LG``) either from the HNSW
graph (its ``OVERSAMPLE x depth`` nearest, keeping those that pass; an exact scan after all if
fewer than ``depth`` pass) or by scoring every passing paper exactly, from a copy of the
filter's rows cached by the vector index. It skips the graph below ``EXACT_FILTERED_BELOW``
passing papers. Per category filter, on real queries (``bench_search.make_queries``), depth
100, CPU time per query (``time.thread_time``, warm: the filter's rows already cached):

* graph first: ``Indexes.dense`` itself with the threshold at 0 (the graph, plus the exact
  scan when the graph came up short; how often is reported);
* exact scan: ``Indexes.dense`` with the threshold above the collection's size, the
  baseline, with the overlap of the graph's answer with the exact top 100.

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

    from paperfeed.search import index as index_module
    from paperfeed.search.embed import get_query_embedder
    from paperfeed.search.query import parse_query

    if args.skip_build and not (REPO / "bench" / ".cache" / args.corpus / "meta.json").exists():
        raise SystemExit(f"--skip-build: bench/.cache/{args.corpus} is not built")
    sections: list = []
    with tempfile.TemporaryDirectory() as tmp:
        opts = argparse.Namespace(shared=args.shared, rebuild=False)
        workspace, _, description = open_corpus(args.corpus, opts, Path(tmp))
        queries, _ = make_queries(args.corpus, workspace, args.shared, 240, args.seed)
        queries = random.Random(args.seed).sample(queries, min(args.queries, len(queries)))
        indexes = workspace.indexes
        indexes.refresh()
        vectors, lexical = indexes.vector_index, indexes.lexical_index
        if not vectors.has_graph:
            raise SystemExit(f"{args.corpus} has no HNSW graph: nothing to compare")
        embedder = get_query_embedder()
        query_vectors = [embedder.embed_query(parse_query(q).text) for q in queries]
        table = Table(
            f"Filtered dense search — {args.corpus} ({len(vectors):,} vectors), depth {DEPTH}, "
            f"{len(queries)} queries per filter, CPU ms per query",
            "the exact scan of the filter's cached rows",
            command_line(),
        )

        def timed(parsed: object, vector: np.ndarray, threshold: int) -> tuple[float, list]:
            """``Indexes.dense`` itself, the graph first (threshold 0) or never (above the
            collection's size): CPU seconds and its pks."""
            index_module.EXACT_FILTERED_BELOW = threshold
            start = time.thread_time()
            hits = indexes.dense(vector, DEPTH, parsed)
            return time.thread_time() - start, [h.pk for h in hits]

        shipped = index_module.EXACT_FILTERED_BELOW
        for category in CATEGORIES:
            parsed = parse_query(f"x cat:{category}")
            allowed = lexical.allowed(parsed, lexical.num_docs)
            assert allowed is not None
            timed(parsed, query_vectors[0], len(vectors) + 1)  # caches the filter's rows
            graph_s = exact_s = 0.0
            short = overlap = 0
            log(f"{category}: {len(allowed.pks):,} papers")
            with section(f"cat:{category}", sections):
                for vector in query_vectors:
                    seconds, graph_answer = timed(parsed, vector, 0)
                    graph_s += seconds
                    seconds, exact = timed(parsed, vector, len(vectors) + 1)
                    exact_s += seconds
                    # Untimed: did the graph come up short (so the answer above is the exact
                    # scan's, after both ran)?
                    keys, _ = vectors.nearest(vector, DEPTH * index_module.OVERSAMPLE)
                    if allowed.contains(keys).sum() < DEPTH:
                        short += 1
                    else:
                        overlap += len(set(graph_answer) & set(exact))
            n = len(query_vectors)
            share = len(allowed.pks) / len(vectors)
            answered = n - short
            table.add(
                f"cat:{category}, {len(allowed.pks):,} papers ({share:.0%}): graph first",
                graph_s / n * 1000,
                exact_s / n * 1000,
                "ms",
                f"graph short (both ran) for {short}/{n}; where it answered, "
                + (f"{overlap / answered:.0f} of the exact top {DEPTH}" if answered else "never"),
            )
        index_module.EXACT_FILTERED_BELOW = shipped
        print(f"# bench_filters\n\ncorpus: {description}")
        print(
            f"\nshipped rule: the graph first from {index_module.EXACT_FILTERED_BELOW:,} "
            "passing papers (search.index.EXACT_FILTERED_BELOW); exact below."
        )
        table.print()
        print()
        print_load_report(sections)


if __name__ == "__main__":
    main()
