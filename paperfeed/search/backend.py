"""The search backend: where the lexical and dense indexes live, behind one interface.

Two implementations, chosen by the database URL (``paperfeed.workspace.open_backend``):

- ``Indexes`` (``paperfeed.search.index``): embedded files beside the data directory, tantivy
  for BM25 and usearch for the vectors, caught up with the database by the change sequence.
  The default, and the fastest on one machine.
- ``PostgresSearch`` (``paperfeed.search.postgres``): the indexes are PostgreSQL's own (a
  ``tsvector`` column with a GIN index, pgvector's HNSW over ``halfvec``), so every node
  that shares the database searches the same papers the moment they are committed, with no
  files, watermarks or locks of its own.

``paperfeed.search.engine`` ranks above it (parsing, fusion, paging, explain) the same way
for both, so the two differ only in what each retriever returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from paperfeed.search.index.lexical import LexicalHit
from paperfeed.search.index.vectors import VectorHit
from paperfeed.search.query import ParsedQuery
from paperfeed.search.trace import SearchTrace

if TYPE_CHECKING:
    from paperfeed.db import Database
    from paperfeed.progress import Progress

__all__ = ["IndexCounts", "SearchBackend", "SyncReport"]


@dataclass(frozen=True)
class IndexCounts:
    papers: int  # papers the lexical index holds
    vectors: int  # vectors the dense index holds


@dataclass
class SyncReport:
    lexical: int = 0  # papers written to the lexical index
    vectors: int = 0  # vectors written to the dense index


class SearchBackend(Protocol):
    """What ``engine.search`` and the catch-up need from wherever the indexes live."""

    def refresh(self) -> bool:
        """Pick up what other processes wrote since the last look (cheap; never waits).
        True when something was reloaded."""
        ...

    def lexical(self, query: ParsedQuery, depth: int, *, title_boost: float) -> list[LexicalHit]:
        """The ``depth`` best papers by keyword relevance (BM25 or its approximation) over the
        query's words, restricted by its constraints (phrases, exclusions, fields); best
        first."""
        ...

    def dense(
        self, vector: np.ndarray, depth: int, query: ParsedQuery, trace: SearchTrace
    ) -> list[VectorHit]:
        """The ``depth`` papers nearest to ``vector`` among those passing ``query``'s
        constraints (all papers when it sets none); nearest first. Records the stage
        ``filters`` (and the count ``filters``) in ``trace`` when it narrows by them."""
        ...

    def browse(self, query: ParsedQuery, limit: int, offset: int) -> tuple[list[int], int]:
        """Papers passing ``query``'s constraints, newest first: one page, and how many."""
        ...

    def vector(self, pk: int) -> np.ndarray | None:
        """A paper's stored vector (None when it has none yet)."""
        ...

    def counts(self) -> IndexCounts: ...

    def sync(self, db: Database, progress: Progress | None = None, wait: bool = True) -> SyncReport:
        """Bring the indexes up to date with the papers and vectors in the database."""
        ...

    def is_stale(self, db: Database) -> bool:
        """True when the database holds changes the indexes have not seen."""
        ...

    def merge(self) -> bool:
        """Fold what syncs appended into the indexes' main structures when due, without
        stopping searches or syncs meanwhile (the embedded vector segments; a no-op where
        the database maintains its own indexes). True when something was merged."""
        ...

    def reset(self) -> None:
        """Empty what can be rebuilt; the next ``sync`` refills it."""
        ...
