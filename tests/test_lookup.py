"""Looking a paper up by what a user typed (``catalog.lookup``), on the Kaggle sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _core_helpers import copy_workspace
from sqlalchemy import select

from paperfeed.catalog.lookup import find_paper, get_paper, hidden_pks
from paperfeed.db import Paper
from paperfeed.errors import NotFoundError
from paperfeed.workspace import Workspace

PAPER = "0704.0001"


@pytest.fixture
def ws(kaggle_workspace: Workspace, tmp_path: Path) -> Iterator[Workspace]:
    copy = copy_workspace(kaggle_workspace, tmp_path / "copy")
    yield copy
    copy.db.engine.dispose()


@pytest.mark.parametrize(
    "ref",
    [
        PAPER,
        f"{PAPER}v2",
        f"arXiv:{PAPER}",
        f"arxiv: {PAPER}v1",
        f" {PAPER} ",
        f"https://arxiv.org/abs/{PAPER}v2",
        f"arxiv.org/pdf/{PAPER}.pdf",
        f"https://arxiv.org/abs/{PAPER}?context=cs",
    ],
)
def test_an_arxiv_id_in_any_usual_spelling_finds_the_paper(
    kaggle_workspace: Workspace, ref: str
) -> None:
    assert get_paper(kaggle_workspace, ref).id == PAPER


def test_a_doi_and_our_key_find_the_paper(ws: Workspace) -> None:
    with ws.db.session() as session:
        paper = session.scalar(select(Paper).where(Paper.id == PAPER))
        assert paper is not None
        paper.doi = "10.1103/PhysRevD.76.013009"
        pk = paper.pk
    for ref in (
        "10.1103/PhysRevD.76.013009",
        "10.1103/physrevd.76.013009",  # DOIs ignore case
        "doi:10.1103/PhysRevD.76.013009",
        "https://doi.org/10.1103/PhysRevD.76.013009",
        str(pk),
        f"pk:{pk}",
    ):
        assert get_paper(ws, ref).id == PAPER, ref


@pytest.mark.parametrize("ref", ["9999.99999", "", "   ", "10.1/none", "arXiv:", "pk:0"])
def test_an_unknown_reference_is_not_found(kaggle_workspace: Workspace, ref: str) -> None:
    with pytest.raises(NotFoundError, match="no paper with id"):
        get_paper(kaggle_workspace, ref)


def test_a_hidden_paper_is_found_only_when_asked(ws: Workspace) -> None:
    with ws.db.session() as session:
        paper = find_paper(session, PAPER)
        paper.hidden = True
        pk = paper.pk
    with pytest.raises(NotFoundError):
        get_paper(ws, PAPER)
    assert get_paper(ws, f"arXiv:{PAPER}v1", include_hidden=True).pk == pk
    with ws.db.session() as session:
        assert hidden_pks(session) == {pk}


def test_a_looked_up_paper_carries_its_listings_after_the_session(
    kaggle_workspace: Workspace,
) -> None:
    assert get_paper(kaggle_workspace, PAPER).listings == []
