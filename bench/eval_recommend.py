"""How good are the "for you" recommendations? Precision@10 and nDCG@10 on simulated users.

We have no real users, so we simulate them from real structure in real data: the 26,656
arXiv cs papers of ``shared/data/arxiv_daily_cs`` (120 days of listings, 2026-03-04 ..
2026-07-01), embedded with the shipped model (the ``arxiv26k`` bench cache).

* An *interest* is one arXiv category (e.g. ``cs.RO``) or a pair that papers carry together
  (``cs.CV`` + ``cs.RO``: robot vision). We keep those with at least 60 papers before the split
  and 20 after it, and at most 15% of the later papers (cs.CV, cs.AI, cs.CL alone are so broad
  that every method is "right" half the time).
* A *user* = an interest plus a history: ``k`` of its papers drawn at random from before the
  split (the papers they upvoted or saved). Two users (two draws) per interest.
* Candidates = every paper first listed in the 30 days after the split (the product's default
  window); relevant = the candidates of the user's interest.

Rankers, all in the same run on the same users:

* ``logistic (ours)``: ``paperfeed.community.recommend.fit_and_score`` (the shipped code path) with
  negatives drawn by ``paperfeed.community.recommend.negative_sample``.
* ``mean cosine``: cosine to the mean of the history: ``fit_and_score`` without negatives,
  the path we ship below 3 positives.
* ``most recent``: newest listing day first (arXiv id breaks ties), the same for everyone.
* ``most voted``: Hugging Face upvotes from the demo corpus (``paperfeed/assets/demo/hf_daily``,
  the largest count per arXiv id over its 2026-04-24 .. 2026-08-21 listings); papers Hugging
  Face did not list count 0; recency breaks ties. The same for everyone.
* ``chance``: the share of candidates that are relevant (the expected precision of a random list).

``--tune`` runs the same protocol one month earlier (history before 2026-05-01, candidates in
May: no test paper is seen) for a few ``L2`` strengths; that is how ``recommend.L2`` was chosen.

    .venv/bin/python bench/eval_recommend.py [--users-per-interest 2] [--tune]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CACHE, DEFAULT_SHARED, build_arxiv26k, command_line, log

from paperfeed.catalog.demo import LISTINGS_DIR
from paperfeed.community import recommend
from paperfeed.search import embed

CORPUS_CACHE = CACHE / "recommend" / "arxiv_cs.npz"
KS = (3, 10, 30)
AT = 10
MIN_BEFORE, MIN_AFTER, MAX_SHARE = 60, 20, 0.15
WINDOW_DAYS = 30
TEST_SPLIT = date(2026, 6, 1)
TUNE_SPLIT = date(2026, 5, 1)
TUNE_L2 = (0.0001, 0.001, 0.01, 0.1, 1.0)
RANKERS = ("logistic (ours)", "mean cosine", "most recent", "most voted", "chance")


@dataclass
class Corpus:
    ids: list[str]
    day: np.ndarray  # first listing day, as date ordinals
    categories: list[list[str]]
    vectors: np.ndarray  # float32, L2-normalised
    hf_upvotes: np.ndarray  # 0 where Hugging Face did not list the paper


def load_corpus(shared: Path) -> Corpus:
    """The arxiv26k papers with first listing day, categories and vector (cached as npz)."""
    if not CORPUS_CACHE.exists():
        db_file = CACHE / "arxiv26k" / "paperfeed.db"
        if not db_file.exists():
            build_arxiv26k(shared)  # ingests and embeds the corpus once (~30 min on 2 cores)
        log(f"reading papers and vectors from {db_file}")
        connection = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
        rows = connection.execute(
            "SELECT p.id, p.categories, MIN(l.day), e.vector FROM papers p"
            " JOIN listings l ON l.paper_pk = p.pk JOIN embeddings e ON e.paper_pk = p.pk"
            " WHERE e.model = ? GROUP BY p.pk ORDER BY p.pk",
            (embed.MODEL_ID,),
        ).fetchall()
        connection.close()
        CORPUS_CACHE.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            CORPUS_CACHE,
            ids=np.array([r[0] for r in rows]),
            categories=np.array([r[1] for r in rows]),
            day=np.array([date.fromisoformat(r[2]).toordinal() for r in rows]),
            vectors=np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows]),
        )
    cached = np.load(CORPUS_CACHE)
    ids = [str(i) for i in cached["ids"]]
    upvotes = hf_upvotes()
    return Corpus(
        ids=ids,
        day=cached["day"],
        categories=[json.loads(str(c)) for c in cached["categories"]],
        vectors=cached["vectors"].astype(np.float32),
        hf_upvotes=np.array([upvotes.get(i, 0) for i in ids], dtype=np.float64),
    )


def hf_upvotes() -> dict[str, int]:
    """Largest Hugging Face upvote count per arXiv id over the demo corpus's listings."""
    best: dict[str, int] = {}
    for path in sorted(LISTINGS_DIR.glob("*.json.gz")):
        for entry in json.loads(gzip.decompress(path.read_bytes())):
            paper = entry["paper"]
            best[paper["id"]] = max(best.get(paper["id"], 0), int(paper.get("upvotes") or 0))
    return best


@dataclass
class Split:
    before: np.ndarray  # row indices of papers first listed before the split
    candidates: np.ndarray  # rows first listed in the window after it


def make_split(corpus: Corpus, split: date) -> Split:
    start, end = split.toordinal(), (split + timedelta(days=WINDOW_DAYS)).toordinal()
    return Split(
        before=np.flatnonzero(corpus.day < start),
        candidates=np.flatnonzero((corpus.day >= start) & (corpus.day < end)),
    )


def interests(corpus: Corpus, split: Split) -> list[tuple[str, ...]]:
    """Categories and category pairs with enough papers on both sides of the split."""
    counts: list[Counter[tuple[str, ...]]] = [Counter(), Counter()]
    for side, rows in enumerate((split.before, split.candidates)):
        for row in rows:
            cats = sorted(set(corpus.categories[row]))
            counts[side].update((c,) for c in cats)
            counts[side].update(combinations(cats, 2))
    limit = MAX_SHARE * len(split.candidates)
    return sorted(
        key
        for key, n in counts[0].items()
        if n >= MIN_BEFORE and MIN_AFTER <= counts[1][key] <= limit
    )


def has_interest(corpus: Corpus, rows: np.ndarray, interest: tuple[str, ...]) -> np.ndarray:
    return np.array([set(interest) <= set(corpus.categories[r]) for r in rows], dtype=bool)


def metrics(scores: np.ndarray, relevant: np.ndarray) -> tuple[float, float]:
    """Precision@10 and nDCG@10 (binary gains) of ranking candidates by ``scores``."""
    top = np.argsort(-scores, kind="stable")[:AT]
    gains = relevant[top].astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, AT + 2))
    ideal = discounts[: min(AT, int(relevant.sum()))].sum()
    return float(gains.mean()), float((gains * discounts[: len(gains)]).sum() / ideal)


def evaluate(
    corpus: Corpus, split_day: date, users_per_interest: int
) -> tuple[dict[tuple[str, int], list[tuple[float, float]]], dict[str, float]]:
    """Per (ranker, k): one (P@10, nDCG@10) per simulated user; plus facts about the setup."""
    split = make_split(corpus, split_day)
    chosen = interests(corpus, split)
    cand = split.candidates
    cand_vectors = corpus.vectors[cand]
    # Global orders, as scores (higher first): recency, then HF upvotes with recency behind.
    rank_of_id = {i: n for n, i in enumerate(sorted(corpus.ids))}
    recency = corpus.day[cand] * 1e6 + np.array([rank_of_id[corpus.ids[r]] for r in cand])
    recency = recency.argsort().argsort().astype(np.float64)  # ranks, 0 = oldest
    voted = corpus.hf_upvotes[cand] * len(cand) + recency
    all_rows = np.arange(len(corpus.ids))
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    shares = []
    for n, interest in enumerate(chosen):
        relevant = has_interest(corpus, cand, interest)
        pool = split.before[has_interest(corpus, split.before, interest)]
        shares.append(relevant.mean())
        for draw in range(users_per_interest):
            rng = np.random.default_rng([n, draw])
            history_all = rng.permutation(pool)
            for k in KS:
                history = history_all[:k]
                negatives = recommend.negative_sample(all_rows, set(history.tolist()))
                positives = corpus.vectors[history]
                ours = recommend.fit_and_score(positives, corpus.vectors[negatives], cand_vectors)
                no_negatives = np.zeros((0, embed.DIM), dtype=np.float32)  # the shipped fallback
                cosine = recommend.fit_and_score(positives, no_negatives, cand_vectors)
                chance = float(relevant.mean())
                for name, scores in (
                    ("logistic (ours)", ours),
                    ("mean cosine", cosine),
                    ("most recent", recency),
                    ("most voted", voted),
                ):
                    results.setdefault((name, k), []).append(metrics(scores, relevant))
                results.setdefault(("chance", k), []).append((chance, chance))
    facts = {
        "interests": len(chosen),
        "users": len(chosen) * users_per_interest,
        "candidates": len(cand),
        "before": len(split.before),
        "mean relevant share": float(np.mean(shares)),
        "candidates with HF upvotes": int((corpus.hf_upvotes[cand] > 0).sum()),
    }
    return results, facts


def mean(values: list[tuple[float, float]], which: int) -> float:
    return float(np.mean([v[which] for v in values]))


def paired_se(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Standard error of the mean per-user difference in P@10 (same users, so paired)."""
    diff = np.array([x[0] - y[0] for x, y in zip(a, b, strict=True)])
    return float(diff.std(ddof=1) / np.sqrt(len(diff)))


def print_report(
    results: dict[tuple[str, int], list[tuple[float, float]]],
    facts: dict[str, float],
    split_day: date,
) -> None:
    end = split_day + timedelta(days=WINDOW_DAYS - 1)
    print(f"### Recommendations on simulated users (arXiv cs, split {split_day})")
    print()
    print(
        f"{facts['users']} users = {facts['interests']} interests (a category or a co-listed "
        f"pair) x {facts['users'] // facts['interests']} random histories; history = k of the "
        f"interest's {facts['before']:,}-paper past (before {split_day}); candidates = all "
        f"{facts['candidates']:,} papers first listed {split_day} .. {end}; relevant = the "
        f"interest's candidates (on average {facts['mean relevant share']:.1%} of them). "
        f"'most voted' = Hugging Face upvotes from the demo corpus: "
        f"{facts['candidates with HF upvotes']} of the candidates have any."
    )
    print()
    header = " | ".join(f"P@10 k={k} | nDCG@10 k={k}" for k in KS)
    print(f"| ranker | {header} |")
    print("| --- |" + " ---: |" * (2 * len(KS)))
    for name in RANKERS:
        cells = " | ".join(
            f"{mean(results[(name, k)], 0):.3f} | {mean(results[(name, k)], 1):.3f}" for k in KS
        )
        print(f"| {name} | {cells} |")
    ratios = []
    for k in KS:
        ours, cosine = results[("logistic (ours)", k)], results[("mean cosine", k)]
        best_global = max(mean(results[(n, k)], 0) for n in ("most recent", "most voted"))
        ratios.append(
            f"k={k}: ours/mean-cosine P@10 {mean(ours, 0) / mean(cosine, 0):.2f} "
            f"(difference {mean(ours, 0) - mean(cosine, 0):+.3f} ± {paired_se(ours, cosine):.3f} "
            f"s.e.), ours/best global baseline {mean(ours, 0) / max(best_global, 1e-9):.1f}x"
        )
    print()
    print("\n".join(ratios))
    print()
    print(
        "Caveat: simulated users are topical by construction: an interest is an arXiv "
        "category, which embeddings of titles and abstracts capture well, and relevance is "
        "category membership, not what a person would actually upvote. Real users mix "
        "topics, follow authors and care about quality and novelty, which no ranker here "
        "sees. 'most voted' is handicapped: HF upvotes cover few of these arXiv cs papers "
        "and are a popularity signal, not a personal one. Read the figures as a comparison "
        "between rankers on one topical task, not as the precision real users will see."
    )
    print()
    print(f"command: `{command_line()}`")


def tune(corpus: Corpus, users_per_interest: int) -> None:
    """Sweep ``recommend.L2`` on the earlier (tuning) split; never looks at the test window."""
    print(f"### Tuning recommend.L2 on the split {TUNE_SPLIT} (no test paper involved)")
    print()
    print("| L2 | " + " | ".join(f"P@10 k={k}" for k in KS) + " |")
    print("| ---: |" + " ---: |" * len(KS))
    shipped = recommend.L2
    try:
        for l2 in TUNE_L2:
            recommend.L2 = l2
            results, _ = evaluate(corpus, TUNE_SPLIT, users_per_interest)
            cells = " | ".join(f"{mean(results[('logistic (ours)', k)], 0):.3f}" for k in KS)
            print(f"| {l2:g}{' (shipped)' if l2 == shipped else ''} | {cells} |")
    finally:
        recommend.L2 = shipped
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--users-per-interest", type=int, default=2)
    parser.add_argument("--tune", action="store_true", help="also sweep L2 on an earlier split")
    args = parser.parse_args()
    corpus = load_corpus(args.shared)
    log(f"{len(corpus.ids):,} papers with vectors")
    if args.tune:
        tune(corpus, args.users_per_interest)
    results, facts = evaluate(corpus, TEST_SPLIT, args.users_per_interest)
    print_report(results, facts, TEST_SPLIT)


if __name__ == "__main__":
    main()
