"""Where ``SearchConfig.dense_floor`` comes from: the cosine of queries with their judged
relevant documents, and with random ones, on a BEIR dataset's training qrels.

    python bench/calibrate_floor.py ../shared/data/scifact [--split train] [--workdir DIR]

The corpus is ingested and embedded through the product's path (``eval.prepare``; keep a
``--workdir`` to do it once). Prints percentiles of both distributions and, for a few
floors, the share of relevant and of random pairs that clear each.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from paperfeed.config import Settings
from paperfeed.search import SearchConfig
from paperfeed.search.eval import Dataset, prepare, similarities
from paperfeed.workspace import Workspace

FLOORS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--random-per-query", type=int, default=20)
    args = parser.parse_args()
    dataset = Dataset.load(args.dataset)
    with tempfile.TemporaryDirectory(prefix="paperfeed-floor-") as tmp:
        workspace = Workspace.create(Settings(data_dir=args.workdir or Path(tmp)))
        prepare(dataset, workspace)
        sims = similarities(workspace, dataset, args.split, args.random_per_query)
        workspace.db.engine.dispose()
    relevant, unrelated = np.array(sims.relevant), np.array(sims.random)
    print(f"{dataset.name} {args.split}: {len(relevant)} relevant pairs, {len(unrelated)} random")
    print("| percentile | relevant | random |\n| --- | --- | --- |")
    for q in (1, 5, 10, 25, 50, 75, 90, 95, 99):
        print(f"| {q} | {np.percentile(relevant, q):.3f} | {np.percentile(unrelated, q):.3f} |")
    print("\n| floor | relevant at or above | random at or above |\n| --- | --- | --- |")
    for floor in FLOORS:
        above_relevant, above_random = sims.share_above(floor)
        mark = " (default)" if abs(floor - SearchConfig().dense_floor) < 1e-9 else ""
        print(f"| {floor:.2f}{mark} | {above_relevant:.3f} | {above_random:.4f} |")


if __name__ == "__main__":
    main()
