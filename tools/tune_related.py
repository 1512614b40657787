"""Choose the knobs of "find related work" and of the vocabulary on dev sets' train/dev splits.

    python tools/tune_related.py DATASET_DIR --workdir DIR [--split train] [--kinds long]
        [--weights 0.3,0.5,0.7] [--terms 10,25,50]

Grid over ``SearchConfig.related_dense_weight`` x ``related_terms`` for the queries of the
given kinds (default: long), printing nDCG@10 / Recall@100 per setting; ``--split test`` is
refused, so the choice never sees the test split. DATASET_DIR is a BEIR directory written
by tools/build_devsets.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.search import SearchConfig
from paperfeed.search.eval import Dataset, evaluate, prepare
from paperfeed.workspace import Workspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--kinds", default="long")
    parser.add_argument("--weights", default="0.3,0.4,0.5,0.6,0.7,0.8")
    parser.add_argument("--terms", default="25")
    parser.add_argument("--queries", type=int, default=None)
    args = parser.parse_args(argv)
    if args.split == "test":
        print("choices are made on train or dev splits only", file=sys.stderr)
        return 2
    dataset = Dataset.load(args.dataset)
    workspace = Workspace.create(Settings(data_dir=args.workdir))
    prepare(dataset, workspace)
    configs = {
        f"w={w} terms={t}": ("hybrid", SearchConfig(related_dense_weight=w, related_terms=t))
        for w in (float(x) for x in args.weights.split(","))
        for t in (int(x) for x in args.terms.split(","))
    }
    configs["hybrid-plain"] = ("hybrid", SearchConfig(related=False, expand_acronyms=False))
    kinds = args.kinds.split(",")
    results = evaluate(
        workspace,
        dataset,
        args.split,
        list(configs),
        args.queries,
        configs=configs,  # type: ignore[arg-type]
        kinds=kinds,
    )
    print(f"{dataset.name} · {args.split} · kinds {','.join(kinds)} · {results[0].queries} queries")
    for r in results:
        print(f"{r.ranker:24} nDCG@10 {r.ndcg_at_10:.4f}  R@100 {r.recall_at_100:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
