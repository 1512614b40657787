"""Choose the ranking knobs (``SearchConfig``) on a dataset's TRAINING qrels.

    .venv/bin/python tools/tune_search.py ../shared/data/scifact --workdir /tmp/scifact-work

The corpus is ingested and indexed once into ``--workdir`` (reused when present). For speed,
each query's lexical and dense candidate lists are computed once per setting with the real
indexes and fused with the real ``paperfeed.search.fuse``; ``paperfeed eval`` then confirms the
chosen defaults through the full search path. Never tune on a test split.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.db import Paper
from paperfeed.formats.beir import ID_PREFIX
from paperfeed.search import SearchConfig, embed, fuse
from paperfeed.search.eval import Dataset, ndcg_at_10, prepare, recall_at_100
from paperfeed.search.query import parse_query
from paperfeed.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    if args.split == "test":
        raise SystemExit("tune on training qrels only; test is for the final report")

    dataset = Dataset.load(args.dataset)
    workspace = Workspace.create(Settings(data_dir=args.workdir))
    prepare(dataset, workspace)
    with workspace.db.session() as session:
        ids = {pk: pid for pk, pid in session.execute(select(Paper.pk, Paper.id))}
    qrels = dataset.qrels[args.split]
    queries = [(qid, parse_query(dataset.queries[qid])) for qid in qrels if qid in dataset.queries]
    lexical_index, vectors = workspace.indexes.lexical_index, workspace.indexes.vector_index
    embedder = embed.get_embedder()
    depth = 200
    dense = {qid: vectors.search(embedder.embed_query(q.text), depth) for qid, q in queries}

    def measure(lists: dict, config: SearchConfig) -> tuple[float, float]:
        ndcg = recall = 0.0
        for qid, _ in queries:
            lexical, dense_hits = lists[qid]
            fused = fuse(lexical[: config.candidates], dense_hits[: config.candidates], config)
            order = sorted(fused.items(), key=lambda item: (-item[1].fused_score, item[0]))
            ranked = [ids[pk].removeprefix(ID_PREFIX) for pk, _ in order[:100]]
            ndcg += ndcg_at_10(ranked, qrels[qid])
            recall += recall_at_100(ranked, qrels[qid])
        return ndcg / len(queries), recall / len(queries)

    print(f"{dataset.name} {args.split}: {len(queries)} queries")
    dense_only = measure({q: ([], dense[q]) for q, _ in queries}, SearchConfig(dense_weight=1.0))
    print(f"dense only: nDCG@10 {dense_only[0]:.4f}")
    rows = []
    for boost in (0.0, 0.25, 0.5, 1.0):
        lexical = {qid: lexical_index.search(q, depth, title_boost=boost) for qid, q in queries}
        only = measure({q: (lexical[q], []) for q, _ in queries}, SearchConfig(dense_weight=0.0))
        print(f"lexical only, title_boost={boost}: nDCG@10 {only[0]:.4f}")
        lists = {q: (lexical[q], dense[q]) for q, _ in queries}
        for fusion, weight, candidates in itertools.product(
            ("rrf", "convex"), (0.3, 0.4, 0.5, 0.6, 0.7, 0.8), (50, 100, 200)
        ):
            config = SearchConfig(
                fusion=fusion, dense_weight=weight, title_boost=boost, candidates=candidates
            )
            rows.append((*measure(lists, config), config))
    rows.sort(key=lambda row: -row[0])
    print("best hybrid configurations on", args.split)
    for ndcg, recall, config in rows[:12]:
        print(f"  nDCG@10 {ndcg:.4f}  R@100 {recall:.4f}  {config}")


if __name__ == "__main__":
    main()
