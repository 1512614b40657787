"""The collection's vocabulary: acronyms mined from abstracts, kept up to date by catch-up,
and used to expand queries both ways, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from _core_helpers import copy_workspace, paper_by_title
from sqlalchemy import func, select

from paperfeed.db import Paper
from paperfeed.db.models import PaperAcronym
from paperfeed.search import SearchConfig, search
from paperfeed.search.catchup import catch_up
from paperfeed.search.query import parse_query
from paperfeed.search.vocabulary import (
    ORIGINAL_WEIGHT,
    acronym_key,
    definitions,
    expand,
    key,
    update,
)
from paperfeed.workspace import Workspace


@pytest.fixture(params=("embedded", "postgres"))
def seeded(request: pytest.FixtureRequest) -> Workspace:
    """The seed pages on each backend (their catch-up mined the vocabulary). Read only!"""
    name = "seeded_workspace" if request.param == "embedded" else "seeded_postgres"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


EXPAND = SearchConfig(expand_acronyms=True)


def test_definitions_are_found_in_running_text() -> None:
    text = (
        "We revisit reinforcement learning from human feedback (RLHF) for large language "
        "models (LLMs), and 3D Gaussian splatting (3DGS) for text-to-image (T2I) models. "
        "Results improve (Fig. 2) over baselines (i) and (ii) from (2023), see (e.g. X)."
    )
    assert list(definitions(text)) == [
        ("RLHF", "reinforcement learning from human feedback"),
        ("LLMs", "large language models"),
        ("3DGS", "3D Gaussian splatting"),
        ("T2I", "text-to-image"),
    ]


def test_a_parenthesis_that_does_not_spell_the_words_is_no_definition() -> None:
    assert list(definitions("a new method for segmentation (SAM) works")) == []
    assert list(definitions("the model (GPT-4) answers")) == []


def test_spellings_fold_alike() -> None:
    assert key("text-to-3D") == key("text to 3D") == key("Text-To-3D") == "text to 3d"
    assert key("text2image") == key("text-to-image") == key("Text to Images")
    assert key("Large Language Models") == key("large language model")
    assert acronym_key("LLMs") == acronym_key("LLM") == acronym_key("llm") == "llm"
    assert acronym_key("3DGS") == "3dgs"  # a capital S is part of the acronym


def test_catch_up_mines_new_and_changed_papers_only(
    seeded_workspace: Workspace, tmp_path: Path
) -> None:
    ws = copy_workspace(seeded_workspace, tmp_path / "data")
    try:
        assert update(ws.db) == 0  # the seeded catch-up read everything already
        with ws.db.reading() as session:
            before = session.scalar(select(func.count()).select_from(PaperAcronym))
        assert before and before > 20

        paper = paper_by_title(ws, "2D Matryoshka Sentence Embeddings")
        with ws.db.session() as session:
            row = session.get(Paper, paper.pk)
            assert row is not None
            row.abstract = "We study widget frobnication networks (WFN) at scale."
        catch_up(ws)
        with ws.db.reading() as session:
            mined = session.execute(
                select(PaperAcronym.acronym, PaperAcronym.expansion).where(
                    PaperAcronym.paper_pk == paper.pk
                )
            ).all()
        assert [tuple(r) for r in mined] == [("WFN", "widget frobnication networks")]
        assert update(ws.db) == 0  # nothing changed since
        found = search(ws, "WFN", limit=3, explain=True, config=EXPAND)
        assert found.expanded == [("WFN", "widget frobnication networks")]
        assert found.hits[0].paper.pk == paper.pk
    finally:
        ws.db.engine.dispose()


def _common_acronym(ws: Workspace) -> tuple[str, str, str]:
    """An acronym some seed papers define (acronym, expansion, expansion key)."""
    with ws.db.reading() as session:
        row = session.execute(
            select(
                PaperAcronym.acronym_key,
                func.min(PaperAcronym.acronym),
                func.min(PaperAcronym.expansion),
                PaperAcronym.expansion_key,
            )
            .group_by(PaperAcronym.acronym_key, PaperAcronym.expansion_key)
            .order_by(func.count().desc(), PaperAcronym.acronym_key)
            .limit(1)
        ).one()
    return str(row[1]), str(row[2]), str(row[3])


def test_queries_expand_both_ways(seeded: Workspace) -> None:
    short, long, long_key = _common_acronym(seeded)
    one_way = expand(seeded.db, parse_query(f"{short} evaluation"))
    assert one_way.added and one_way.added[0][0] == short
    assert key(one_way.added[0][1]) == long_key
    # the query's own words weigh more than what was added (repeated, as both backends read it)
    assert one_way.parsed.terms.count(short) == ORIGINAL_WEIGHT
    assert one_way.parsed.terms[-1] == one_way.added[0][1]

    other_way = expand(seeded.db, parse_query(f"{long} evaluation"))
    assert [acronym_key(a) for _, a in other_way.added] == [acronym_key(short)]

    both = expand(seeded.db, parse_query(f"{short} {long}"))
    assert both.added == []  # written out already


def test_compounds_are_searched_as_their_words(seeded: Workspace) -> None:
    expanded = expand(seeded.db, parse_query("text2video generation"))
    assert ("text2video", "text to video") in expanded.added


def test_search_explains_the_expansion_and_finds_papers_using_either_form(
    seeded: Workspace,
) -> None:
    short, _, long_key = _common_acronym(seeded)
    results = search(seeded, short, limit=20, config=EXPAND)
    assert [w for w, _ in results.expanded] == [short]
    texts = [f"{h.paper.title} {h.paper.abstract}" for h in results.hits]
    assert any(long_key in f" {key(t)} " for t in texts)
    assert search(seeded, short, limit=20).expanded == []  # off unless asked for
