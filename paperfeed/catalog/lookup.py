"""Looking a paper up by what a user typed, and which papers may be shown.

The one owner of both questions: the web pages, ``/api/v1``, the CLI and search all come
here, so an id means the same everywhere and a paper hidden by moderation is left out
everywhere (search drops hidden papers before paging, so its pages stay full).

A reference may be

- our public id as stored (an arXiv id such as ``2404.12345``, or ``title:…``);
- an arXiv id with a version suffix (``2404.12345v2``) or an ``arXiv:`` prefix, or an
  arxiv.org ``abs``/``pdf``/``html`` link;
- a DOI (``10.1234/abc``, ``doi:10.1234/abc`` or a ``doi.org`` link), matched without regard
  to case as DOIs are;
- our internal key as digits (``1234``, ``pk:1234``): arXiv ids are never bare digits.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from paperfeed.catalog.records import split_arxiv_version
from paperfeed.db import Paper
from paperfeed.errors import NotFoundError

if TYPE_CHECKING:
    from paperfeed.workspace import Workspace

__all__ = ["VISIBLE", "find_paper", "get_paper", "hidden_pks"]

VISIBLE: ColumnElement[bool] = Paper.hidden.is_(False)  # what anyone may see

_ARXIV_URL = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?P<id>.+?)(?:\.pdf)?/?$",
    re.IGNORECASE,
)
_ARXIV_PREFIX = re.compile(r"^arxiv:\s*", re.IGNORECASE)
_DOI = re.compile(
    r"^(?:doi:\s*|(?:https?://)?(?:dx\.)?doi\.org/)?(?P<doi>10\.\d{4,9}/\S+)$", re.IGNORECASE
)
_PK = re.compile(r"^(?:pk:)?(?P<pk>\d{1,18})$", re.IGNORECASE)


def find_paper(session: Session, ref: str, include_hidden: bool = False) -> Paper:
    """The paper ``ref`` names (see the module docstring); hidden ones only if asked.

    Raises ``NotFoundError`` naming ``ref`` when there is none (or it is hidden).
    """
    paper = _find(session, ref.strip()) if ref.strip() else None
    if paper is None or (paper.hidden and not include_hidden):
        raise NotFoundError(f"no paper with id {ref!r}")
    return paper


def get_paper(
    workspace: Workspace, ref: str, include_hidden: bool = False, listings: bool = True
) -> Paper:
    """``find_paper`` in its own read, for use after it closes (with its listings loaded
    unless ``listings`` is False: a caller that needs only the paper skips that query)."""
    with workspace.db.reading() as session:
        paper = find_paper(session, ref, include_hidden)
        if listings:
            session.refresh(paper, ["listings"])
        session.expunge(paper)
    return paper


def hidden_pks(session: Session) -> frozenset[int]:
    """The papers moderation hid (a handful; ``ix_papers_hidden`` finds them)."""
    return frozenset(session.scalars(select(Paper.pk).where(Paper.hidden.is_(True))))


def _find(session: Session, ref: str) -> Paper | None:
    by_id = select(Paper)
    paper = session.scalar(by_id.where(Paper.id == ref))
    if paper is not None:
        return paper
    arxiv_id = _arxiv_id(ref)
    if arxiv_id != ref:
        paper = session.scalar(by_id.where(Paper.id == arxiv_id))
        if paper is not None:
            return paper
    if match := _DOI.match(ref):
        doi = match.group("doi").lower()
        return session.scalar(by_id.where(func.lower(Paper.doi) == doi).order_by(Paper.pk))
    if match := _PK.match(ref):
        return session.scalar(by_id.where(Paper.pk == int(match.group("pk"))))
    return None


def _arxiv_id(ref: str) -> str:
    """``ref`` without a link's wrapping, an ``arXiv:`` prefix or a version suffix."""
    if match := _ARXIV_URL.match(ref.split("?", 1)[0].split("#", 1)[0]):
        ref = match.group("id")
    ref = _ARXIV_PREFIX.sub("", ref)
    bare, _version = split_arxiv_version(ref)
    return bare
