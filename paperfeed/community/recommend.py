"""Per-user recommendations: a small linear model over paper embeddings (arxiv-sanity style).

A user's *positives* are the papers they upvoted or saved. We fit an L2-regularised logistic
regression that tells those apart from a random sample of other papers (fixed seed, so the
same data gives the same ranking) and score the candidates with it. With fewer than
``MIN_FOR_MODEL`` positives a fitted boundary is mostly noise, so we rank by cosine to the
mean of the positives instead; with none we have nothing to go on and return nothing.

:func:`fit_and_score` is the whole model as a pure function; the product path
(:func:`rank_for_user`) and the offline evaluation (``bench/eval_recommend.py``) both call it,
so what is measured is what ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.db import Embedding, LibraryItem, Paper, Vote
from paperfeed.search import embed
from paperfeed.workspace import Workspace

MIN_FOR_MODEL = 3  # positives needed before we fit a model rather than average them
NEGATIVES = 1000  # random "other" papers the model learns to rank below the positives
L2 = 0.001  # ridge strength on the (class-balanced, mean) log loss; chosen in docs/quality.md
NEWTON_STEPS = 25  # Newton converges in ~10 on these problems; the cap is a safety net
SEED = 0
RECENT_DAYS = 30  # default candidates: papers first seen in the last 30 days ...
ALL_BELOW = 5000  # ... unless the collection is this small, then every paper


@dataclass(frozen=True, slots=True)
class Recommendation:
    pk: int
    score: float  # higher is better; comparable within one call only
    reason: str  # e.g. "like ‘Attention Is All You Need’"


def fit_and_score(
    positive_vectors: np.ndarray,
    negative_vectors: np.ndarray,
    candidate_vectors: np.ndarray,
) -> np.ndarray:
    """Score each candidate for a user who liked ``positive_vectors`` (rows, L2-normalised).

    Three or more positives: logistic regression (with bias) of positives against
    ``negative_vectors``, both classes weighted to equal total weight (a user has tens of
    positives against a thousand negatives), L2 penalty ``L2`` on the weights, solved by
    Newton's method (385 unknowns: each step is one small linear solve, and the problem is
    convex, so it converges in a handful of steps). The score is the decision value ``w·x + b``.
    Why not scikit-learn: it is a ~40 MB dependency (plus scipy) for one small convex fit that
    numpy does in twenty lines, and owning the loop keeps it deterministic and easy to read.

    One or two positives: cosine to their (normalised) mean. No positives: ``ValueError``.
    """
    positives = np.asarray(positive_vectors, dtype=np.float64).reshape(-1, embed.DIM)
    candidates = np.asarray(candidate_vectors, dtype=np.float64).reshape(-1, embed.DIM)
    if len(positives) == 0:
        raise ValueError("fit_and_score needs at least one positive vector")
    negatives = np.asarray(negative_vectors, dtype=np.float64).reshape(-1, embed.DIM)
    if len(positives) < MIN_FOR_MODEL or len(negatives) == 0:
        centre = positives.mean(axis=0)
        norm = np.linalg.norm(centre)
        scores: np.ndarray = candidates @ (centre / norm if norm > 0 else centre)
        return scores
    w = _fit_logistic(positives, negatives)
    scores = candidates @ w[:-1] + w[-1]
    return scores


def _fit_logistic(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Weights and bias (last entry) of the class-balanced, L2-regularised logistic model."""
    x = np.vstack([positives, negatives])
    x = np.hstack([x, np.ones((len(x), 1))])  # bias column (not penalised)
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    sample_weight = np.where(y == 1, 0.5 / len(positives), 0.5 / len(negatives))
    penalty = np.full(x.shape[1], L2)
    penalty[-1] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (sample_weight * (p - y)) + penalty * w
        hessian = (x.T * (sample_weight * p * (1 - p))) @ x + np.diag(penalty)
        hessian[-1, -1] += 1e-9  # keeps the bias row solvable if every p saturates
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def negative_sample(pool: np.ndarray, exclude: set[int], n: int = NEGATIVES) -> np.ndarray:
    """Up to ``n`` members of ``pool`` (ids) not in ``exclude``: the same draw for the same data.

    The pool is sorted first, so the sample depends on the set of ids, not on query order.
    """
    candidates = np.array(sorted(int(v) for v in pool if int(v) not in exclude), dtype=np.int64)
    if len(candidates) <= n:
        return candidates
    rng = np.random.default_rng(SEED)
    return np.sort(rng.choice(candidates, size=n, replace=False))


def positives_of(session: Session, user_pk: int) -> set[int]:
    """The papers a user upvoted or saved: what the model learns from."""
    voted = session.scalars(select(Vote.paper_pk).where(Vote.user_pk == user_pk))
    saved = session.scalars(select(LibraryItem.paper_pk).where(LibraryItem.user_pk == user_pk))
    return set(voted) | set(saved)


def rank_for_user(
    workspace: Workspace,
    user_pk: int,
    candidate_pks: list[int] | None = None,
    limit: int = 10,
) -> list[Recommendation]:
    """The ``limit`` best candidates for this user, best first, each with a reason.

    Candidates default to the papers first seen in the last ``RECENT_DAYS`` days before the
    newest one (all papers when there are fewer than ``ALL_BELOW``). Papers the user already
    upvoted or saved, hidden papers and papers without a vector are never recommended.
    """
    with workspace.db.session() as session:
        positive_pks = positives_of(session, user_pk)
        if not positive_pks or limit <= 0:
            return []
        embedded = np.array(
            session.scalars(
                select(Embedding.paper_pk).where(Embedding.model == embed.MODEL_ID)
            ).all(),
            dtype=np.int64,
        )
        has_vector = select(Embedding.paper_pk).where(Embedding.model == embed.MODEL_ID)
        visible = (Paper.hidden.is_(False), Paper.pk.in_(has_vector))
        if candidate_pks is None:
            query = select(Paper.pk).where(*visible)
            if len(embedded) >= ALL_BELOW:
                newest = session.scalar(select(func.max(Paper.first_seen)))
                if newest is not None:
                    query = query.where(Paper.first_seen >= newest - timedelta(days=RECENT_DAYS))
            pool = set(session.scalars(query))
        else:
            pool = set(
                session.scalars(select(Paper.pk).where(Paper.pk.in_(candidate_pks), *visible))
            )
        pool -= positive_pks
        negatives = negative_sample(embedded, positive_pks)
        needed = sorted(positive_pks | pool | set(negatives.tolist()))
        vectors = _vectors(session, needed)
        positives = sorted(pk for pk in positive_pks if pk in vectors)
        if not positives or not pool:
            return []
        cands = sorted(pool)
        positive_matrix = np.stack([vectors[pk] for pk in positives])
        candidate_matrix = np.stack([vectors[pk] for pk in cands])
        negative_matrix = np.stack([vectors[int(pk)] for pk in negatives if int(pk) in vectors])
        scores = fit_and_score(positive_matrix, negative_matrix, candidate_matrix)
        order = sorted(range(len(cands)), key=lambda i: (-scores[i], -cands[i]))[:limit]
        closest = (candidate_matrix[order] @ positive_matrix.T).argmax(axis=1)
        titles = dict(
            session.execute(select(Paper.pk, Paper.title).where(Paper.pk.in_(positives))).all()
        )
    return [
        Recommendation(
            pk=cands[i],
            score=float(scores[i]),
            reason=f"like \u2018{titles[positives[int(j)]]}\u2019",
        )
        for i, j in zip(order, closest, strict=True)
    ]


def _vectors(session: Session, pks: list[int]) -> dict[int, np.ndarray]:
    """Stored vectors of ``pks`` (from the embeddings table, the source of truth)."""
    found: dict[int, np.ndarray] = {}
    for start in range(0, len(pks), 900):  # stay under SQLite's bound-parameter limit
        rows = session.execute(
            select(Embedding.paper_pk, Embedding.vector).where(
                Embedding.model == embed.MODEL_ID, Embedding.paper_pk.in_(pks[start : start + 900])
            )
        )
        found.update({pk: np.frombuffer(blob, dtype=np.float32) for pk, blob in rows})
    return found
