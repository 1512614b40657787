"""Search latency (warm, one client, sequential) of the real ``paperfeed.search`` entry points.

    .venv/bin/python bench/bench_search.py [--corpora demo,arxiv26k,papers100k] [--queries N]
                                           [--rebuild] [--skip-build] [--profile]

For each corpus, p50/p95 of ``search(mode="lexical" | "dense" | "hybrid")`` and ``similar``
(limit 10), with the query embedding inside dense/hybrid (it is part of the real path) and
also timed alone (the model run of the query embedder search uses, past its query cache).
Queries are real: titles of held-out papers cut to their first 3-6 words (SciDocs test
titles, which none of the corpora hold; recent titles not in the corpus) and natural-language
questions; the modes run interleaved per query, after a warm-up.

Baselines, measured in the same run on the same queries:
  * dense: ``VectorIndex.exact_search`` (brute force) vs ``VectorIndex.search`` (the HNSW
    graph, from 20,000 papers up), with the graph's recall@10 and @100 against exact;
  * lexical: SQLite FTS5 (stdlib sqlite3, ``porter unicode61``, columns title and title+abstract
    as one text like ours, bm25 with the title column weighted by ``SearchConfig.title_boost``,
    the same OR query of the terms without stopwords, top 100) vs tantivy;
  * hybrid vs the sum of its parts (lexical + dense), and a per-stage breakdown of the
    hybrid path from ``search(..., trace=SearchTrace())``: the stages the product runs (parse,
    refresh, lexical, embed query, dense, fusion, load papers);
  * index build (the real ``Indexes.sync`` into a scratch directory) vs an FTS5 build and
    a one-shot usearch build of the same vectors; index sizes on disk vs raw sizes.

Corpora: ``demo`` (the bundled HF daily papers, ~2k), ``arxiv26k`` (26,656 real arXiv cs
papers) and ``papers100k`` (those plus synthetic variants up to 100,000; see ``_common``).
The two large ones are built once into ``bench/.cache/`` (the first build embeds 26,656
abstracts: several minutes) and reused; ``--rebuild`` makes them again.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import re
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from _common import (
    CACHE,
    CORPUS_NOTE,
    DEFAULT_SHARED,
    SYNTHETIC_SOURCE,
    Section,
    Table,
    add_wait_quiet,
    arxiv_day_files,
    build_arxiv26k,
    build_fts5,
    build_papers100k,
    command_line,
    du,
    load_now,
    log,
    make_workspace,
    percentiles_ms,
    print_load_report,
    section,
    timed_sync,
    wait_for_quiet,
)
from sqlalchemy import func, select

from paperfeed.catalog.demo import demo_files, load_demo
from paperfeed.catalog.lookup import get_paper
from paperfeed.catalog.records import PaperRecord, title_key
from paperfeed.db import Paper
from paperfeed.formats import get_format
from paperfeed.search import SearchConfig, SearchTrace, embed, search, similar
from paperfeed.search.index import Indexes
from paperfeed.search.index.vectors import EXACT_BELOW, VectorIndex
from paperfeed.search.query import parse_query

NATURAL_QUERIES = [
    "how to make transformers faster on long documents",
    "reducing hallucinations in large language models",
    "retrieval augmented generation for question answering",
    "diffusion models for video generation",
    "efficient fine-tuning of large models with few parameters",
    "robot learning from human demonstrations",
    "evaluating reasoning of language models on math problems",
    "self-supervised learning for medical image segmentation",
    "graph neural networks for molecule property prediction",
    "speech recognition for low resource languages",
    "detecting AI generated text",
    "mixture of experts routing",
    "quantization of LLM weights to 4 bits",
    "3D reconstruction from a single image",
    "autonomous driving trajectory prediction",
    "reinforcement learning from human feedback reward models",
    "multimodal models that understand images and text",
    "privacy attacks on machine learning models",
    "federated learning with non-iid data",
    "code generation benchmarks for language models",
    "tool use and function calling in LLM agents",
    "long context memory for chat assistants",
    "text to image generation with layout control",
    "time series forecasting with transformers",
    "explainability of neural network predictions",
    "adversarial robustness of image classifiers",
    "knowledge distillation into small models",
    "sparse attention mechanisms",
    "vision transformers for object detection",
    "protein structure prediction with deep learning",
    "bias and fairness in language models",
    "world models for planning in reinforcement learning",
    "jailbreak attacks on aligned chatbots",
    "efficient inference with speculative decoding",
    "neural radiance fields for novel view synthesis",
    "gaussian splatting for dynamic scenes",
    "synthetic data generation for training LLMs",
    "chain of thought prompting",
    "benchmark for multilingual machine translation",
    "embedding models for semantic search",
    "continual learning without catastrophic forgetting",
    "point cloud segmentation",
    "visual question answering on charts and documents",
    "scaling laws for neural language models",
    "open vocabulary semantic segmentation",
    "uncertainty estimation in deep learning",
    "humanoid robot locomotion",
    "medical report generation from chest x-rays",
    "evaluation of LLM as a judge",
    "state space models as an alternative to attention",
]
MODES = ("lexical", "dense", "hybrid")
_WORD = re.compile(r"\w+")


# -- queries ---------------------------------------------------------------------------------
def cut_title(title: str, rng: random.Random) -> str | None:
    """The first 3-6 words of a title, without characters our query syntax would read."""
    words = [w.replace('"', "").lstrip("-") for w in title.split()]
    words = [w for w in words if w and _WORD.search(w)]
    if len(words) < 3:
        return None
    return " ".join(words[: rng.randint(3, 6)])


def held_out_titles(corpus: str, workspace: object, shared: Path) -> tuple[list[str], str]:
    """Recent real titles the corpus does not hold: arXiv for the demo, HF demo otherwise."""
    if corpus == "demo":
        source, files = get_format("arxiv-daily"), arxiv_day_files(shared)[-5:]
        where = "arXiv cs listings of the last 5 days not in the demo"
    else:
        source, files = get_format("hf-daily"), demo_files()
        where = "HF daily papers (the demo corpus) not in the arXiv corpus"
    records = [r for path in files for r in source.parse(path) if isinstance(r, PaperRecord)]
    with workspace.db.session() as session:  # type: ignore[attr-defined]
        present = set(
            session.scalars(select(Paper.id).where(Paper.id.in_([r.key for r in records])))
        )
        present |= set(
            session.scalars(
                select(Paper.title_key).where(
                    Paper.title_key.in_([title_key(r.title) for r in records])
                )
            )
        )
    titles = [
        r.title for r in records if r.key not in present and title_key(r.title) not in present
    ]
    return list(dict.fromkeys(titles)), where


def make_queries(
    corpus: str, workspace: object, shared: Path, total: int, seed: int
) -> tuple[list[str], str]:
    rng = random.Random(seed)
    natural = list(NATURAL_QUERIES)
    scidocs_file = shared / "data" / "scidocs" / "queries.test.jsonl"
    scidocs = (
        [json.loads(line)["text"] for line in scidocs_file.open()] if scidocs_file.exists() else []
    )
    recent, recent_where = held_out_titles(corpus, workspace, shared)
    rng.shuffle(scidocs)
    rng.shuffle(recent)
    want_titles = max(0, total - len(natural))
    want_scidocs = min(len(scidocs), want_titles * 6 // 10)
    want_recent = want_titles - want_scidocs
    cut_scidocs = [q for t in scidocs if (q := cut_title(t, rng))][:want_scidocs]
    cut_recent = [q for t in recent if (q := cut_title(t, rng))][:want_recent]
    queries = [*cut_scidocs, *cut_recent, *natural]
    rng.shuffle(queries)
    queries = [q for q in queries if parse_query(q).text][:total]
    how = (
        f"{len(queries)} queries: {len(cut_scidocs)} SciDocs test titles and {len(cut_recent)} "
        f"{recent_where}, each cut to its first 3-6 words, and {len(natural)} natural-language "
        f"questions (seed {seed})"
    )
    return queries, how


# -- corpora ---------------------------------------------------------------------------------
def open_corpus(name: str, args: argparse.Namespace, tmp: Path) -> tuple[object, dict, str]:
    """(workspace, build info, description)."""
    if name == "demo":
        workspace = make_workspace(tmp / "demo")
        load_demo(workspace)
        stages, counts = timed_sync(workspace, "demo")
        return (
            workspace,
            {"sync_stages_s": stages, "sync_counts": counts},
            (
                "the bundled demo corpus (84 days of HF daily papers), loaded with "
                "paperfeed.catalog.demo.load_demo (shipped vectors) into a temporary workspace"
            ),
        )
    if name == "arxiv26k":
        workspace, meta = build_arxiv26k(args.shared, rebuild=args.rebuild)
        return workspace, meta, CORPUS_NOTE["arxiv26k"]
    if name == "papers100k":
        workspace, meta = build_papers100k(args.shared, rebuild=args.rebuild)
        return workspace, meta, CORPUS_NOTE["papers100k"]
    raise SystemExit(f"unknown corpus {name!r}")


TITLE_WEIGHT = SearchConfig().title_boost


def _fts5_analyzer() -> object:
    """Lower-case, drop English stopwords and fold accents, as our scoring analyzer does,
    but leave stemming to FTS5's own ``porter`` tokenizer."""
    import tantivy

    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


FTS5_ANALYZER = _fts5_analyzer()


def fts5_query(query: str) -> str | None:
    """The same OR of the query's words as ours (stopwords dropped), in FTS5 syntax."""
    parsed = parse_query(query)
    tokens = [
        token
        for word in [*parsed.terms, *parsed.phrases]
        for token in FTS5_ANALYZER.analyze(word)  # type: ignore[attr-defined]
    ]
    tokens = list(dict.fromkeys(tokens))
    return " OR ".join(f'"{t}"' for t in tokens) if tokens else None


# -- one corpus ------------------------------------------------------------------------------
def bench_corpus(name: str, args: argparse.Namespace, sections: list[Section]) -> float | None:
    """Run every measurement on one corpus; returns its hybrid p95 (ms)."""
    command = command_line()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmpname:
        tmp = Path(tmpname)
        log(f"{name}: opening")
        workspace, build, description = open_corpus(name, args, tmp)
        indexes = workspace.indexes
        with workspace.db.session() as session:
            papers = session.scalar(select(func.count()).select_from(Paper)) or 0
            real_ids = list(
                session.scalars(select(Paper.id).where(Paper.source != SYNTHETIC_SOURCE))
            )
        queries, how = make_queries(name, workspace, args.shared, args.queries, args.seed)
        similar_ids = random.Random(args.seed).sample(real_ids, min(args.similar, len(real_ids)))
        graph = len(indexes.vector_index) >= EXACT_BELOW
        print(f"\n## {name}: {papers:,} papers, {len(indexes.vector_index):,} vectors")
        print(f"\ncorpus: {description}.")
        print(f"\nqueries: {how}.")
        print(f"\nexamples: {'; '.join(repr(q) for q in queries[:6])}")
        if graph:
            print("\ndense search uses the HNSW graph (usearch, f16, threads=1) at this size.")
        else:
            print(f"\ndense search is exact brute force below {EXACT_BELOW:,} vectors (no graph).")

        log(f"{name}: warm-up")
        embedder = embed.get_query_embedder()  # the one search uses
        for query in queries[: args.warmup]:
            for mode in MODES:
                search(workspace, query, mode=mode)
        for pid in similar_ids[: args.warmup]:
            similar(workspace, pid)

        log(f"{name}: {len(queries)} queries x 3 modes, interleaved")
        times: dict[str, list[float]] = {m: [] for m in (*MODES, "similar", "embed query")}
        with section(f"{name}: search latency", sections):
            for i, query in enumerate(queries):
                for mode in MODES[i % 3 :] + MODES[: i % 3]:  # rotate the order per query
                    t0 = time.perf_counter()
                    search(workspace, query, mode=mode)
                    times[mode].append(time.perf_counter() - t0)
                text = parse_query(query).text
                t0 = time.perf_counter()
                embedder.embed([text])  # the model run itself: search has cached this query
                times["embed query"].append(time.perf_counter() - t0)
            for pid in similar_ids:
                t0 = time.perf_counter()
                similar(workspace, pid)
                times["similar"].append(time.perf_counter() - t0)

        log(f"{name}: filtered queries (cat:cs.CV)")
        filtered_times: dict[str, list[float]] = {"plain": [], "cat": []}
        _, cat_matches = indexes.lexical_index.browse(parse_query("cat:cs.CV"), 1)
        with section(f"{name}: filtered hybrid", sections):
            for query in queries[: args.filtered]:
                for key, text in (("plain", query), ("cat", f"{query} cat:cs.CV")):
                    t0 = time.perf_counter()
                    search(workspace, text, mode="hybrid")
                    filtered_times[key].append(time.perf_counter() - t0)

        log(f"{name}: hybrid stage by stage")
        stage_times: dict[str, list[float]] = {}
        totals: list[float] = []
        trace = SearchTrace()
        with section(f"{name}: hybrid stages", sections):
            for query in queries:
                search(workspace, query, mode="hybrid", trace=trace)
                for stage, seconds in trace.stages.items():
                    stage_times.setdefault(stage, []).append(seconds)
                totals.append(trace.total)

        log(f"{name}: dense baselines (exact vs graph)")
        vectors = [embedder.embed_query(parse_query(q).text) for q in queries]
        dense_times: dict[str, list[float]] = {
            "graph k=100": [],
            "exact k=100": [],
            "graph k=10": [],
            "exact k=10": [],
        }
        recall10, recall100 = [], []
        truth: dict[int, list[set[int]]] = {100: [], 10: []}
        ef_runs: dict[int, dict[str, list[float]]] = {}
        ef_default = None
        with section(f"{name}: exact vs graph", sections):
            for vector in vectors:
                for k in (100, 10):
                    t0 = time.perf_counter()
                    approx = indexes.vector_index.search(vector, k)
                    t1 = time.perf_counter()
                    exact = indexes.vector_index.exact_search(vector, k)
                    t2 = time.perf_counter()
                    dense_times[f"graph k={k}"].append(t1 - t0)
                    dense_times[f"exact k={k}"].append(t2 - t1)
                    truth[k].append({h.pk for h in exact})
                    (recall100 if k == 100 else recall10).append(_recall(approx, truth[k][-1]))
            # the same graph searched wider (usearch expansion_search), for comparison
            if indexes.vector_index.has_graph:
                graph_object = (
                    indexes.vector_index.graph
                )  # no product knob: set on the graph itself
                assert graph_object is not None
                default_ef = graph_object.expansion_search
                for ef in args.ef:
                    graph_object.expansion_search = ef
                    runs: dict[str, list[float]] = {"k=100": [], "k=10": [], "r10": [], "r100": []}
                    for i, vector in enumerate(vectors):
                        for k in (100, 10):
                            t0 = time.perf_counter()
                            approx = indexes.vector_index.search(vector, k)
                            runs[f"k={k}"].append(time.perf_counter() - t0)
                            runs[f"r{k}"].append(_recall(approx, truth[k][i]))
                    ef_runs[ef] = runs
                graph_object.expansion_search = default_ef
                ef_default = default_ef
            similar_exact = []
            for pid in similar_ids:
                paper = get_paper(workspace, pid)
                vector = indexes.vector_index.vector(paper.pk)
                t0 = time.perf_counter()
                indexes.vector_index.exact_search(vector, 11)
                similar_exact.append(time.perf_counter() - t0)

        log(f"{name}: lexical baseline (FTS5)")
        db_file = workspace.settings.data_dir / "paperfeed.db"
        fts, fts_docs, fts_build_s = build_fts5(db_file, tmp / "fts5.db")
        fts_sql = (
            "SELECT rowid FROM fts WHERE fts MATCH ? "
            f"ORDER BY bm25(fts, {TITLE_WEIGHT}, 1.0) LIMIT 100"
        )
        tantivy_times, fts_times, overlap = [], [], []
        with section(f"{name}: tantivy vs FTS5", sections):
            for query in queries[: args.warmup]:
                fts.execute(fts_sql, (fts5_query(query),)).fetchall()
            for query in queries:
                parsed = parse_query(query)
                match = fts5_query(query)
                t0 = time.perf_counter()
                ours = indexes.lexical_index.search(parsed, 100, title_boost=TITLE_WEIGHT)
                t1 = time.perf_counter()
                theirs = fts.execute(fts_sql, (match,)).fetchall() if match else []
                t2 = time.perf_counter()
                tantivy_times.append(t1 - t0)
                fts_times.append(t2 - t1)
                top_ours, top_theirs = {h.pk for h in ours[:10]}, {r[0] for r in theirs[:10]}
                if top_theirs:
                    overlap.append(len(top_ours & top_theirs) / len(top_theirs))
        fts.close()

        profile_text = None
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for query in queries:
                search(workspace, query, mode="hybrid")
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
            profile_text = out.getvalue()

        # -- the index build, into a scratch directory, and sizes on disk
        build_rows: list[tuple] = []
        if not args.skip_build:
            log(f"{name}: index build (real Indexes.sync into a scratch dir)")
            with section(f"{name}: index build", sections):
                scratch = SimpleNamespace(db=workspace.db, indexes=Indexes(tmp / "index"))
                stages, counts = timed_sync(scratch, f"{name} build")
                one_shot_s = _one_shot_graph_s(indexes.vector_index)
            n = len(indexes.vector_index)
            build_rows = [
                (
                    "index text (real sync stage)",
                    stages["index text"],
                    fts_build_s,
                    "s",
                    f"{counts.get('index text', 0):,} docs; baseline: FTS5 build of "
                    f"{fts_docs:,} docs (sqlite3 read, insert, optimize)",
                ),
                (
                    "index vectors (real sync stage)",
                    stages["index vectors"],
                    one_shot_s,
                    "s",
                    "incl. the HNSW build, batches of 2,000; baseline: one usearch add() of all "
                    "vectors, same parameters"
                    if one_shot_s is not None
                    else "no graph below 20,000 vectors",
                ),
            ]
            index_dir = workspace.settings.index_dir
            sizes = [
                (
                    "tantivy index on disk",
                    du(index_dir / "lexical") / 1e6,
                    du(tmp / "fts5.db") / 1e6,
                    "MB",
                    "baseline: the FTS5 table file",
                ),
                (
                    "vector segments on disk",
                    du(index_dir / "vectors") / 1e6,
                    n * embed.DIM * 4 / 1e6,
                    "MB",
                    "baseline: n x 384 float32 (the segments: float16 + graph)",
                ),
            ]
            hnsw_file = next((index_dir / "vectors").glob("main-*/hnsw.usearch"), index_dir)
            if hnsw_file.is_file():
                sizes.append(
                    (
                        "hnsw.usearch on disk",
                        du(hnsw_file) / 1e6,
                        n * embed.DIM * 2 / 1e6,
                        "MB",
                        "baseline: n x 384 float16 (the vectors it stores)",
                    )
                )
            text_bytes = _text_bytes(db_file)
            sizes.append(
                (
                    "SQLite database on disk",
                    du(db_file) / 1e6,
                    text_bytes / 1e6,
                    "MB",
                    "baseline: the raw title+abstract text",
                )
            )
            build_rows += sizes

    # -- report
    p = {k: percentiles_ms(v) for k, v in times.items()}
    d = {k: percentiles_ms(v) for k, v in dense_times.items()}
    exact_dense = [
        e + x for e, x in zip(times["embed query"], dense_times["exact k=100"], strict=True)
    ]
    pe = percentiles_ms(exact_dense)
    ps = percentiles_ms(similar_exact)
    pt, pf = percentiles_ms(tantivy_times), percentiles_ms(fts_times)
    parts = [
        lex + den for lex, den in zip(times["lexical"], times["dense"], strict=True)
    ]  # same query, same moment
    pparts = percentiles_ms(parts)

    table = Table(
        f"Search latency — {name} ({papers:,} papers), warm, sequential, limit 10, "
        f"{len(queries)} queries",
        "see each row",
        command,
    )
    for q, label in ((0, "p50"), (1, "p95")):
        table.add(
            f"search lexical {label}",
            p["lexical"][q],
            pf[q],
            "ms",
            "baseline: FTS5 bm25 top-100 rowids (no parse, no hydrate)",
        )
    for q, label in ((0, "p50"), (1, "p95")):
        table.add(
            f"search dense {label}",
            p["dense"][q],
            pe[q],
            "ms",
            "incl. query embedding; baseline: embed query + numpy brute force top-100",
        )
    for q, label in ((0, "p50"), (1, "p95")):
        table.add(
            f"search hybrid {label}",
            p["hybrid"][q],
            pparts[q],
            "ms",
            "baseline: lexical + dense of the same query (sum of the parts)",
        )
    for q, label in ((0, "p50"), (1, "p95")):
        table.add(
            f"similar {label}",
            p["similar"][q],
            ps[q],
            "ms",
            f"{len(similar_ids)} papers; baseline: numpy brute force top-11 only",
        )
    for q, label in ((0, "p50"), (1, "p95")):
        table.add(
            f"embed query alone {label}",
            p["embed query"][q],
            None,
            "ms",
            "the query embedder's model run (search caches a query it has embedded)",
        )
    if filtered_times["cat"]:
        pc, pp = percentiles_ms(filtered_times["cat"]), percentiles_ms(filtered_times["plain"])
        note = (
            f"first {len(filtered_times['cat'])} queries + ' cat:cs.CV' ({cat_matches:,} "
            "papers in cs.CV); "
            "baseline: the same queries unfiltered"
        )
        table.add("search hybrid with cat:cs.CV p50", pc[0], pp[0], "ms", note)
        table.add("search hybrid with cat:cs.CV p95", pc[1], pp[1], "ms", note)
    table.add("hybrid p95 vs target", p["hybrid"][1], 20.0, "ms", "target: ≤ 20 ms at 100k")
    table.print()

    components = Table(
        f"Components — {name}: tantivy vs SQLite FTS5, HNSW graph vs exact",
        "FTS5 (lexical) / VectorIndex.exact_search (dense)",
        command,
    )
    components.add("tantivy top-100 p50", pt[0], pf[0], "ms", "LexicalIndex.search vs FTS5")
    components.add("tantivy top-100 p95", pt[1], pf[1], "ms")
    components.add(
        "top-10 overlap tantivy vs FTS5", float(np.mean(overlap)), 1.0, "", "same query, bm25"
    )
    for key in ("k=100", "k=10"):
        for q, label in ((0, "p50"), (1, "p95")):
            components.add(
                f"dense {key} {label}",
                d[f"graph {key}"][q],
                d[f"exact {key}"][q],
                "ms",
                "VectorIndex.search (graph) vs exact_search" if graph else "both exact here",
            )
    components.add("recall@10 of search() vs exact", float(np.mean(recall10)), 1.0)
    components.add("recall@100 of search() vs exact", float(np.mean(recall100)), 1.0)
    for ef, runs in ef_runs.items():
        note = f"expansion_search {ef} (package: {ef_default}); baseline: exact"
        components.add(
            f"graph ef={ef}: k=100 p50",
            percentiles_ms(runs["k=100"])[0],
            d["exact k=100"][0],
            "ms",
            note,
        )
        components.add(
            f"graph ef={ef}: k=10 p50",
            percentiles_ms(runs["k=10"])[0],
            d["exact k=10"][0],
            "ms",
            note,
        )
        components.add(f"graph ef={ef}: recall@10", float(np.mean(runs["r10"])), 1.0, "", note)
        components.add(f"graph ef={ef}: recall@100", float(np.mean(runs["r100"])), 1.0, "", note)
    components.print()

    hybrid_p50 = percentiles_ms(totals)[0]
    breakdown = Table(
        f"Where the time goes — hybrid at {name} (median per stage over {len(queries)} queries, "
        "from SearchTrace)",
        "the traced hybrid total (p50); ratio = share of it",
        command,
    )
    for stage, seconds in stage_times.items():
        pmed, p95 = percentiles_ms(seconds)
        note = f"p95 {p95:.2f} ms"
        if stage == "embed query":
            note += "; a query-cache hit (each query was searched before): see embed query alone"
        breakdown.add(f"{stage} p50", pmed, hybrid_p50, "ms", note)
    breakdown.add(
        "sum of stage p50s",
        sum(percentiles_ms(seconds)[0] for seconds in stage_times.values()),
        hybrid_p50,
        "ms",
    )
    breakdown.add(
        "traced total p95",
        percentiles_ms(totals)[1],
        p["hybrid"][1],
        "ms",
        "baseline: search(mode=hybrid) p95 above, untraced, where the queries a hybrid "
        "search met first were embedded afresh",
    )
    breakdown.print()

    if build_rows:
        build_table = Table(
            f"Index build and size — {name}", "FTS5 / one-shot usearch / raw sizes", command
        )
        for row in build_rows:
            build_table.add(*row)
        if isinstance(build, dict) and "insert_s" in build:
            build_table.add(
                "corpus build: synthetic inserts (upsert_records + Embedding rows)",
                float(build["insert_s"]),
                None,
                "s",
                "cached build, not this run",
            )
        build_table.print()
    if profile_text:
        print(f"\ncProfile of {len(queries)} hybrid searches at {name} (cumulative):\n")
        print("```")
        print(profile_text.strip())
        print("```")
    workspace.db.engine.dispose()
    return p["hybrid"][1]


def _recall(approx: list, truth: set[int]) -> float:
    return len({h.pk for h in approx} & truth) / max(1, len(truth))


def _one_shot_graph_s(vectors: VectorIndex) -> float | None:
    """Seconds to build the same usearch graph in one ``add`` call (the build baseline);
    None below ``EXACT_BELOW``, where the index keeps no graph."""
    from usearch.index import Index as HNSW

    if len(vectors) < EXACT_BELOW:
        return None
    keys = vectors.keys
    matrix = np.stack([vectors.vector(pk) for pk in keys.tolist()])
    t0 = time.perf_counter()
    graph = HNSW(ndim=embed.DIM, metric="cos", dtype="f16", multi=False)
    graph.add(keys, matrix)
    return time.perf_counter() - t0


def _text_bytes(db_file: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    (total,) = conn.execute(
        "SELECT sum(length(CAST(title AS BLOB)) + length(CAST(abstract AS BLOB))) FROM papers"
    ).fetchone()
    conn.close()
    return int(total or 0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Search latency of paperfeed.search (lexical, dense, hybrid, similar) "
        "with FTS5, brute-force and sum-of-parts baselines.",
        epilog="Progress goes to stderr; the report (Markdown tables) to stdout.",
    )
    parser.add_argument(
        "--corpora",
        default="demo,arxiv26k,papers100k",
        help="comma-separated: demo, arxiv26k, papers100k (default: all three)",
    )
    parser.add_argument("--queries", type=int, default=240, help="queries per corpus (>= 200)")
    parser.add_argument("--similar", type=int, default=200, help="papers for similar()")
    parser.add_argument("--warmup", type=int, default=20, help="untimed warm-up queries")
    parser.add_argument("--seed", type=int, default=13, help="query sampling seed")
    parser.add_argument(
        "--filtered", type=int, default=60, help="queries also run with a cat:cs.CV filter"
    )
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared/ data dir")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached corpora")
    parser.add_argument("--skip-build", action="store_true", help="skip the index-build timing")
    parser.add_argument("--profile", action="store_true", help="cProfile the hybrid searches")
    parser.add_argument(
        "--ef",
        default="128,256",
        help="extra usearch expansion_search values to compare (comma-separated; '' for none)",
    )
    add_wait_quiet(parser)
    args = parser.parse_args()
    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    args.ef = [int(v) for v in args.ef.split(",") if v.strip()]

    wait_for_quiet(args.wait_quiet)
    print("# bench_search")
    print(f"\ncommand: `{command_line()}`; started {load_now()}")
    sections: list[Section] = []
    p95 = {}
    for corpus in corpora:
        cached = (CACHE / corpus / "meta.json").exists()
        if corpus != "demo" and not cached and not arxiv_day_files(args.shared):
            print(f"\nSKIPPED {corpus}: no arXiv daily files under {args.shared} (and no cache)")
            continue
        p95[corpus] = bench_corpus(corpus, args, sections)
    if "papers100k" in p95:
        value = p95["papers100k"]
        verdict = "MET" if value <= 20.0 else "MISSED"
        print(f"\nTarget hybrid p95 ≤ 20 ms at 100k papers: {verdict} ({value:.1f} ms).")
    print_load_report(sections)


if __name__ == "__main__":
    main()
