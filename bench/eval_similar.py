"""How often are a paper's "similar papers" ones that were cited together with it?

``../shared/data`` has no citation graph with text, but SciFact carries a small co-citation
signal: each claim was written from one citation sentence of a real paper, and its evidence
abstracts are the papers that sentence cited. Two abstracts that support the same claim were
therefore **co-cited** by one author in one sentence: about as strong a "these belong
together" judgement as a co-view. The claims of the train and test qrels with two or more
evidence abstracts give 154 abstracts with 284 co-cited partners in all.

For each such abstract we ask the product's ``paperfeed.search.similar`` (the paper page's
"Similar papers": its stored vector, nearest neighbours in the dense index) for 10 papers and
count the partners found. Baselines in the same run, over the same 5,183 abstracts:

* ``lexical (title)``: BM25 with the paper's title as the query (``search(mode="lexical")``),
  a "more like this" that needs no embeddings;
* ``hybrid (title)``: the product's default search with the title as the query;
* ``chance``: 10 papers drawn at random (the expected value, computed).

Metrics: *hit@10*, the share of abstracts with at least one co-cited partner in their top 10,
and *recall@10*, the share of partners found. The corpus is indexed through the product path
(``paperfeed.search.eval.prepare``) in ``--workdir`` (kept, so a re-run takes seconds).

    .venv/bin/python bench/eval_similar.py [--dataset ../shared/data/scifact] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CACHE, DEFAULT_SHARED, REPO

sys.path.insert(0, str(REPO))

from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.db import Paper
from paperfeed.errors import QueryError
from paperfeed.formats.beir import ID_PREFIX
from paperfeed.search import search, similar
from paperfeed.search.eval import Dataset, prepare
from paperfeed.workspace import Workspace

K = 10


def co_cited(dataset: Dataset) -> dict[str, set[str]]:
    """Each abstract that shares a claim with another -> the abstracts it shares one with."""
    partners: dict[str, set[str]] = {}
    for qrels in dataset.qrels.values():
        for judged in qrels.values():
            docs = {doc for doc, grade in judged.items() if grade > 0}
            if len(docs) < 2:
                continue
            for doc in docs:
                partners.setdefault(doc, set()).update(docs - {doc})
    return partners


def score(
    partners: dict[str, set[str]], neighbours: Callable[[str], list[str]]
) -> tuple[float, float, float]:
    """hit@10, recall@10 and the median ms per call of one neighbour function."""
    hits = found = total = 0
    timings = []
    for doc, wanted in partners.items():
        started = time.perf_counter()
        top = neighbours(doc)[:K]
        timings.append(time.perf_counter() - started)
        got = len(wanted & set(top))
        hits += got > 0
        found += got
        total += len(wanted)
    timings.sort()
    return hits / len(partners), found / total, timings[len(timings) // 2] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_SHARED / "data" / "scifact")
    parser.add_argument("--workdir", type=Path, default=CACHE / "scifact")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not (args.dataset / "corpus.jsonl").exists():
        print(f"no BEIR dataset at {args.dataset}: skipped", file=sys.stderr)
        return 0
    dataset = Dataset.load(args.dataset)
    workspace = Workspace.create(Settings(data_dir=args.workdir))
    started = time.perf_counter()
    prepare(dataset, workspace)
    print(f"corpus ready in {time.perf_counter() - started:.0f} s ({args.workdir})")
    partners = co_cited(dataset)
    pairs = sum(len(p) for p in partners.values())
    with workspace.db.session() as session:
        corpus_size = session.scalar(select(func.count(Paper.pk))) or 0
        titles = dict(session.execute(select(Paper.id, Paper.title)).all())

    def by_similar(doc: str) -> list[str]:
        return [h.paper.id.removeprefix(ID_PREFIX) for h in similar(workspace, ID_PREFIX + doc, K)]

    def by_title(mode: str) -> Callable[[str], list[str]]:
        def run(doc: str) -> list[str]:
            try:
                hits = search(workspace, titles[ID_PREFIX + doc], limit=K + 1, mode=mode).hits
            except QueryError:
                return []
            ids = [h.paper.id.removeprefix(ID_PREFIX) for h in hits]
            return [i for i in ids if i != doc]

        return run

    rows = {
        "similar (dense, shipped)": score(partners, by_similar),
        "lexical (title as query)": score(partners, by_title("lexical")),
        "hybrid (title as query)": score(partners, by_title("hybrid")),
    }
    # Chance: K random others out of corpus_size - 1; a partner is among them with K / (n - 1).
    p = K / (corpus_size - 1)
    expected_hit = sum(1 - (1 - p) ** len(w) for w in partners.values()) / len(partners)
    rows["chance (10 random papers)"] = (expected_hit, p, 0.0)

    print(
        f"\nSciFact co-citation: {len(partners)} abstracts with {pairs} co-cited partners "
        f"(of {corpus_size:,} abstracts)\n"
    )
    print(f"| neighbours of a paper | hit@{K} | recall@{K} | p50 ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, (hit, recall, ms) in rows.items():
        print(f"| {name} | {hit:.3f} | {recall:.3f} | {ms:.1f} |")
    dense_hit, chance_hit = rows["similar (dense, shipped)"][0], expected_hit
    lexical_hit = rows["lexical (title as query)"][0]
    print(
        f"\nsimilar vs chance: {dense_hit / chance_hit:.0f}x the hit rate; "
        f"vs lexical title search: {dense_hit / max(lexical_hit, 1e-9):.2f}x"
    )
    if args.json:
        args.json.write_text(json.dumps({k: list(v) for k, v in rows.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
