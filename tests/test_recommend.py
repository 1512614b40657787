"""Per-user recommendations: the model on synthetic clusters, and ``rank_for_user`` on a real
workspace (the first demo days with their shipped vectors: no embedding, a few seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _core_helpers import copy_workspace, make_workspace
from sqlalchemy import select

from paperfeed.catalog.demo import attach_vectors, demo_files
from paperfeed.catalog.ingest import ingest_files
from paperfeed.community.accounts import create_user
from paperfeed.community.activity import set_paper_hidden, set_saved, set_vote
from paperfeed.community.recommend import fit_and_score, rank_for_user
from paperfeed.db import Embedding, Paper
from paperfeed.formats import get_format
from paperfeed.search import embed
from paperfeed.workspace import Workspace

DEMO_DAYS = 15


def _cluster(rng: np.random.Generator, centre: np.ndarray, n: int) -> np.ndarray:
    points = centre + 0.6 * rng.standard_normal((n, embed.DIM)) / np.sqrt(embed.DIM)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


@pytest.fixture
def clusters() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((2, embed.DIM))
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return _cluster(rng, a, 100), _cluster(rng, b, 400)


def test_model_ranks_the_positives_cluster_above_the_other(clusters) -> None:
    a, b = clusters
    negatives = np.vstack([b[:300], a[:10]])  # random "other" papers include a few of A
    held_out_a, held_out_b = a[50:], b[300:]
    scores = fit_and_score(a[10:20], negatives, np.vstack([held_out_a, held_out_b]))
    assert scores[: len(held_out_a)].min() > scores[len(held_out_a) :].max()


def test_model_is_deterministic(clusters) -> None:
    a, b = clusters
    first = fit_and_score(a[:5], b[:200], np.vstack([a[50:], b[300:]]))
    again = fit_and_score(a[:5], b[:200], np.vstack([a[50:], b[300:]]))
    assert np.array_equal(first, again)


@pytest.mark.parametrize("n", [1, 2])
def test_one_or_two_positives_rank_by_cosine_to_their_mean(clusters, n: int) -> None:
    a, b = clusters
    candidates = np.vstack([a[50:], b[300:]])
    centre = a[:n].mean(axis=0)
    expected = candidates @ (centre / np.linalg.norm(centre))
    assert np.allclose(fit_and_score(a[:n], b[:200], candidates), expected)


def test_no_positives_is_an_error(clusters) -> None:
    a, b = clusters
    with pytest.raises(ValueError, match="at least one positive"):
        fit_and_score(np.zeros((0, embed.DIM)), b, a)


# -- on a real workspace ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The first demo days with their shipped vectors (no model run). Read only!"""
    ws = make_workspace(tmp_path_factory.mktemp("recommend") / "data")
    ingest_files(ws.db, get_format("hf-daily"), demo_files()[:DEMO_DAYS])
    assert attach_vectors(ws) > 200
    return ws


@pytest.fixture
def ws(demo_workspace: Workspace, tmp_path: Path) -> Iterator[Workspace]:
    copy = copy_workspace(demo_workspace, tmp_path / "copy")
    yield copy
    copy.db.engine.dispose()


def _vectors(ws: Workspace) -> tuple[list[int], np.ndarray, dict[int, str]]:
    with ws.db.session() as session:
        rows = session.execute(
            select(Paper.pk, Paper.id, Embedding.vector)
            .join(Embedding, Embedding.paper_pk == Paper.pk)
            .order_by(Paper.pk)
        ).all()
    matrix = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
    return [r.pk for r in rows], matrix, {r.pk: r.id for r in rows}


def _neighbours(ws: Workspace, anchor: int = 0) -> tuple[list[int], dict[int, str], np.ndarray]:
    """Papers by cosine to the ``anchor``-th paper, nearest first; their ids; the vectors."""
    pks, matrix, ids = _vectors(ws)
    order = np.argsort(-(matrix @ matrix[anchor]), kind="stable")
    return [pks[i] for i in order], ids, matrix


def test_no_votes_no_recommendations(ws: Workspace) -> None:
    user = create_user(ws, "reader", "correct horse battery")
    assert rank_for_user(ws, user.pk) == []


def test_recommends_papers_like_the_upvoted_ones_never_the_voted_or_saved(ws: Workspace) -> None:
    near, ids, _ = _neighbours(ws)
    user = create_user(ws, "reader", "correct horse battery")
    liked = near[:4]
    for pk in liked[:3]:
        set_vote(ws, user.pk, ids[pk], True)
    set_saved(ws, user.pk, ids[liked[3]], True)

    everything = rank_for_user(ws, user.pk, limit=10_000)
    assert not {r.pk for r in everything} & set(liked)
    assert len(everything) == len(ids) - len(liked)
    top = [r.pk for r in everything[:10]]
    assert len(set(top) & set(near[4:40])) >= 6, "the top 10 should be near what was liked"
    with ws.db.session() as session:
        titles = set(session.scalars(select(Paper.title).where(Paper.pk.in_(liked))))
    assert all(r.reason[6:-1] in titles for r in everything[:10])
    assert rank_for_user(ws, user.pk, limit=10_000) == everything  # same data, same ranking


def test_one_upvote_recommends_its_nearest_neighbours(ws: Workspace) -> None:
    near, ids, _ = _neighbours(ws, anchor=5)
    user = create_user(ws, "reader", "correct horse battery")
    set_vote(ws, user.pk, ids[near[0]], True)
    top = rank_for_user(ws, user.pk, limit=3)
    assert [r.pk for r in top] == near[1:4]


def test_candidates_can_be_given_and_hidden_papers_are_left_out(ws: Workspace) -> None:
    near, ids, _ = _neighbours(ws)
    user = create_user(ws, "reader", "correct horse battery")
    for pk in near[:3]:
        set_vote(ws, user.pk, ids[pk], True)
    set_paper_hidden(ws, ids[near[3]], True)
    allowed = [near[0], near[3], near[4], near[-1]]
    assert [r.pk for r in rank_for_user(ws, user.pk, candidate_pks=allowed)] == [
        near[4],
        near[-1],
    ]
