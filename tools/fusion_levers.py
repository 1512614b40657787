"""Measure fusion levers beyond ``SearchConfig`` on a dataset's TRAINING qrels (docs/quality.md).

    .venv/bin/python tools/fusion_levers.py ../shared/data/scifact --workdir /tmp/scifact-work
    .venv/bin/python tools/fusion_levers.py ../shared/data/scifact --workdir /tmp/scifact-work \\
        --third-list /tmp/mpnet.npz --weights 0.5,0.2,0.3 --split test   # read once, after

Each query's deep lexical and dense lists (1,000 each) come once from the real indexes; the
shipped blend is ``paperfeed.search.fuse`` with the default ``SearchConfig``, and the levers
rescore the lists: imputing the score a paper missing from one list really has there,
anchoring the min-max scaling at rank m, a third list from the same model over titles only,
one fusion weight per query bucket, and a third list from another model's vectors
(``--third-list``: an ``.npz`` with ``pks``, ``vectors`` and ``query_ids``/``queries``,
normalised; see ``--help``). Test runs only the given three-list weights.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.db import Paper
from paperfeed.formats.beir import ID_PREFIX
from paperfeed.search import SearchConfig, embed, fuse
from paperfeed.search.eval import Dataset, ndcg_at_10, prepare
from paperfeed.search.index.lexical import LexicalHit
from paperfeed.search.index.vectors import VectorHit
from paperfeed.search.query import parse_query
from paperfeed.workspace import Workspace

DEPTH = 1000
SHIPPED = SearchConfig()
CANDIDATES = SHIPPED.candidates  # per list
WEIGHTS = [1 - SHIPPED.dense_weight, SHIPPED.dense_weight]  # lexical, dense
Ranked = list[tuple[int, float]]


def scaled(ranked: Ranked, anchor: int | None = None) -> dict[int, float]:
    """Min-max scaling as ``fuse`` does; ``anchor``: 0 at that rank instead of the last."""
    if not ranked:
        return {}
    high = ranked[0][1]
    low = ranked[min(anchor or len(ranked), len(ranked)) - 1][1]
    span = high - low
    return {pk: (s - low) / span if span > 1e-12 else 1.0 for pk, s in ranked}


def blend(lists: list[Ranked], weights: list[float], anchor: int | None = None) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for pk, value in scaled(ranked[:CANDIDATES], anchor).items():
            fused[pk] = fused.get(pk, 0.0) + weight * value
    return fused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument(
        "--third-list",
        type=Path,
        help="npz of another model: pks (paper pks), vectors (n x d), query_ids, queries (q x d)",
    )
    parser.add_argument("--weights", help="lexical,dense,third weights to report (test split)")
    args = parser.parse_args()

    dataset = Dataset.load(args.dataset)
    workspace = Workspace.create(Settings(data_dir=args.workdir))
    prepare(dataset, workspace)
    with workspace.db.session() as session:
        ids = {
            pk: pid.removeprefix(ID_PREFIX)
            for pk, pid in session.execute(select(Paper.pk, Paper.id))
        }
        titles = dict(session.execute(select(Paper.pk, Paper.title)).all())
    qrels = dataset.qrels[args.split]
    qids = [qid for qid in qrels if qid in dataset.queries]
    lexical_index, vectors = workspace.indexes.lexical_index, workspace.indexes.vector_index
    embedder = embed.get_embedder()
    lexical_hits: dict[str, list[LexicalHit]] = {}
    dense_hits: dict[str, list[VectorHit]] = {}
    query_vectors: dict[str, np.ndarray] = {}
    for qid in qids:
        parsed = parse_query(dataset.queries[qid])
        query_vectors[qid] = embedder.embed_query(parsed.text)
        lexical_hits[qid] = lexical_index.search(parsed, DEPTH, title_boost=SHIPPED.title_boost)
        dense_hits[qid] = vectors.exact_search(query_vectors[qid], DEPTH)
    lexical: dict[str, Ranked] = {q: [(h.pk, h.score) for h in lexical_hits[q]] for q in qids}
    dense: dict[str, Ranked] = {q: [(h.pk, h.similarity) for h in dense_hits[q]] for q in qids}

    def shipped(qid: str) -> dict[int, float]:
        """The product's fusion of the two lists, cut as ``search`` asks for them."""
        fused = fuse(lexical_hits[qid][:CANDIDATES], dense_hits[qid][:CANDIDATES], SHIPPED)
        return {pk: e.fused_score for pk, e in fused.items()}

    def ndcg(
        score: Callable[[str], dict[int, float]], subset: list[str] | None = None
    ) -> np.ndarray:
        values = []
        for qid in subset or qids:
            fused = score(qid)
            top = sorted(fused, key=lambda pk: (-fused[pk], pk))[:10]
            values.append(ndcg_at_10([ids[pk] for pk in top], qrels[qid]))
        return np.array(values)

    third: dict[str, Ranked] = {}
    if args.third_list:
        data = np.load(args.third_list)
        pks, matrix = data["pks"], data["vectors"]
        by_query = dict(zip(data["query_ids"].tolist(), data["queries"], strict=True))
        for qid in qids:
            sims = matrix @ by_query[qid]
            top = np.argsort(-sims)[:DEPTH]
            third[qid] = [(int(pks[i]), float(sims[i])) for i in top]

    baseline = ndcg(shipped)
    print(
        f"{dataset.name} {args.split}, {len(qids)} queries; "
        f"shipped blend nDCG@10 {baseline.mean():.4f}"
    )
    if args.split == "test":
        if not (third and args.weights):
            raise SystemExit("on test, only --third-list with its train-chosen --weights is run")
        weights = [float(w) for w in args.weights.split(",")]
        chosen = ndcg(lambda q: blend([lexical[q], dense[q], third[q]], weights))
        diff = chosen - baseline
        half = 1.96 * diff.std(ddof=1) / len(diff) ** 0.5
        print(f"three lists {weights}: {chosen.mean():.4f} ({diff.mean():+.4f} ± {half:.4f}, 95 %)")
        return

    def imputed(qid: str, which: str) -> dict[int, float]:
        fused = shipped(qid)
        for ranked, weight, key in ((lexical[qid], WEIGHTS[0], "l"), (dense[qid], WEIGHTS[1], "d")):
            if key not in which or len(ranked) < 2:
                continue
            top = dict(ranked[:CANDIDATES])
            full, high, low = dict(ranked), ranked[0][1], ranked[:CANDIDATES][-1][1]
            floor = 0.0 if key == "l" else -1.0  # no shared word / opposite vector
            for pk in fused:
                if pk not in top:
                    fused[pk] += weight * (full.get(pk, floor) - low) / (high - low)
        return fused

    for which in ("l", "d", "ld"):
        value = ndcg(lambda q, which=which: imputed(q, which)).mean()
        print(f"impute true scores ({which}): {value:.4f}")
    for anchor in (10, 20, 50):
        for w in (0.4, 0.5):
            value = ndcg(
                lambda q, w=w, a=anchor: blend([lexical[q], dense[q]], [1 - w, w], a)
            ).mean()
            print(f"min-max anchored at rank {anchor}, w={w}: {value:.4f}")

    pks = np.array(sorted(titles))
    title_matrix = embedder.embed([titles[pk] for pk in pks])
    for wt in (0.1, 0.2, 0.3):

        def with_titles(qid: str, wt: float = wt) -> dict[int, float]:
            sims = title_matrix @ query_vectors[qid]
            top = np.argsort(-sims)[:CANDIDATES]
            title_list = [(int(pks[i]), float(sims[i])) for i in top]
            return blend(
                [lexical[qid], dense[qid], title_list], [0.5 * (1 - wt), 0.5 * (1 - wt), wt]
            )

        print(f"third list: title-only vectors, weight {wt}: {ndcg(with_titles).mean():.4f}")

    per_w = {
        w: ndcg(lambda q, w=w: blend([lexical[q], dense[q]], [1 - w, w]))
        for w in (0.3, 0.4, 0.5, 0.6)
    }
    features = {
        "query words": [len(dataset.queries[q].split()) for q in qids],
        "BM25 top score": [lexical[q][0][1] if lexical[q] else 0.0 for q in qids],
        "top cosine": [dense[q][0][1] for q in qids],
    }
    for name, values in features.items():
        low = np.array(values) <= np.median(values)
        best = {
            half: max(per_w, key=lambda w: per_w[w][mask].mean())
            for half, mask in (("low", low), ("high", ~low))
        }
        oracle = np.where(low, per_w[best["low"]], per_w[best["high"]]).mean()
        print(f"one weight per half by {name}: best {best}, nDCG@10 {oracle:.4f} (in-sample)")

    if third:
        grid = [
            (wl, wd, round(1 - wl - wd, 2))
            for wl in (0.4, 0.5, 0.6)
            for wd in (0.0, 0.1, 0.2, 0.3, 0.4)
        ]
        for weights in grid:
            value = ndcg(
                lambda q, ws=weights: blend([lexical[q], dense[q], third[q]], list(ws))
            ).mean()
            print(f"three lists {weights}: {value:.4f}")


if __name__ == "__main__":
    main()
