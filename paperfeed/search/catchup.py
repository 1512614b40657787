"""Papers changed → vectors and indexes catch up. The one module that does it.

Ingest, live sources, submissions, digests, evaluation, the worker and the CLI all call
``catch_up``; ``paperfeed embed`` and the worker's embedders call ``embed_pending``.

1. **Embed** what waits in ``embed_queue`` (filled in the transaction that changed the paper,
   ``paperfeed.db.changes``): oldest first, ``batch_size`` papers at a time, so only one batch
   is in memory. Each batch is claimed, embedded and stored in one transaction; a crash
   leaves its papers queued for the next run, never half-stored. On PostgreSQL the claim is
   ``FOR UPDATE SKIP LOCKED``, so any number of embedders, on any machine, share the queue
   without doing the same work twice. A paper whose text is unchanged since its vector
   (only its authors moved, say) is taken off the queue without running the model.
2. **Index** what changed: ``workspace.indexes.sync`` (the embedded files catch up by the
   change sequence; PostgreSQL indexes its own rows and has nothing to do).

A new embedding model (``embed.MODEL_ID``) queues every paper once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Text, cast, column, delete, func, select, table, tuple_, type_coerce
from sqlalchemy.types import UserDefinedType

from paperfeed.db import Database, Embedding, EmbedQueue, Paper, changes
from paperfeed.progress import Progress
from paperfeed.search import embed, vocabulary
from paperfeed.search.postgres import halfvec_text

if TYPE_CHECKING:
    from paperfeed.workspace import Workspace

BATCH = 256  # papers per embedding transaction: ~4 s of model time on 2 cores


@dataclass
class CatchUpReport:
    embedded: int = 0  # papers given a new vector
    lexical: int = 0  # papers written to the lexical index
    vectors: int = 0  # vectors written to the dense index


def text_hash(title: str, abstract: str) -> str:
    """Identifies the text a vector was made from (``embed.paper_text``)."""
    return hashlib.sha1(embed.paper_text(title, abstract).encode()).hexdigest()[:16]


def catch_up(
    workspace: Workspace, progress: Progress | None = None, wait: bool = True, merge: bool = True
) -> CatchUpReport:
    """Embed what is queued, then bring the search indexes up to date.

    With ``wait=False``, an index write by another process makes this raise
    ``IndexBusyError`` instead of waiting (nothing is lost: the next catch-up does it).
    With ``merge``, appended vector segments that are due are then merged, after the new
    papers became searchable (minutes at millions of papers: web requests leave it to the
    worker and the command line).
    """
    embedded = embed_pending(workspace.db, progress)
    report = workspace.indexes.sync(workspace.db, progress, wait=wait)
    vocabulary.update(workspace.db)  # the acronyms new papers define
    if merge:
        workspace.indexes.merge()
    return CatchUpReport(embedded, report.lexical, report.vectors)


def behind(workspace: Workspace) -> bool:
    """True when papers wait for a vector or the indexes have not seen a change."""
    return pending(workspace.db) > 0 or workspace.indexes.is_stale(workspace.db)


def pending(db: Database) -> int:
    """Papers waiting for a vector."""
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(EmbedQueue)) or 0)


def embed_pending(
    db: Database,
    progress: Progress | None = None,
    batch_size: int = BATCH,
    limit: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Embed queued papers until the queue is empty (or ``limit`` papers were claimed, or
    ``should_stop()`` says so between batches).

    Returns how many papers got a new vector. Safe to run in several processes at once.
    """
    _queue_foreign_vectors(db)
    total = pending(db)
    embedder = None
    embedded = claimed = 0
    while (limit is None or claimed < limit) and not should_stop():
        size = batch_size if limit is None else min(batch_size, limit - claimed)
        with db.session() as session:
            batch = _claim(session, size)
            if not batch:
                break
            claimed += len(batch)
            hashes = [text_hash(row.title, row.abstract) for row in batch]
            current = _current_hashes(session, [row.paper_pk for row in batch])
            todo = [
                (row, digest)
                for row, digest in zip(batch, hashes, strict=True)
                if current.get(row.paper_pk) != digest
            ]
            if todo:
                embedder = embedder or embed.get_embedder()
                vectors = embedder.embed([embed.paper_text(r.title, r.abstract) for r, _ in todo])
                _store(session, todo, vectors)
                embedded += len(todo)
            # Done, unless the paper changed again since it was claimed (SQLite: no row lock).
            session.execute(
                delete(EmbedQueue).where(
                    tuple_(EmbedQueue.paper_pk, EmbedQueue.seq).in_(
                        [(row.paper_pk, row.seq) for row in batch]
                    )
                )
            )
        if progress:
            progress("embed", len(batch), max(total, claimed))
    return embedded


def _claim(session: Any, size: int) -> list[Any]:
    """The oldest queued papers (pk, seq, title, abstract), locked on PostgreSQL."""
    query = (
        select(EmbedQueue.paper_pk, EmbedQueue.seq, Paper.title, Paper.abstract)
        .join(Paper, Paper.pk == EmbedQueue.paper_pk)
        .order_by(EmbedQueue.seq, EmbedQueue.paper_pk)
        .limit(size)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=EmbedQueue, skip_locked=True)
    return list(session.execute(query).all())


def _current_hashes(session: Any, pks: list[int]) -> dict[int, str]:
    """Text hashes of the vectors these papers already have from the current model."""
    rows = session.execute(
        select(Embedding.paper_pk, Embedding.text_hash).where(
            Embedding.paper_pk.in_(pks), Embedding.model == embed.MODEL_ID
        )
    )
    return {pk: digest for pk, digest in rows}


def _store(session: Any, todo: list[tuple[Any, str]], vectors: np.ndarray) -> None:
    store_vectors(
        session,
        [
            VectorRow(row.paper_pk, digest, vector)
            for (row, digest), vector in zip(todo, vectors, strict=True)
        ],
    )


@dataclass(frozen=True)
class VectorRow:
    """One paper's vector from the current model, as ``store_vectors`` writes it."""

    paper_pk: int
    text_hash: str  # ``text_hash`` of the title and abstract it was made from
    vector: np.ndarray  # L2-normalised


class _HalfVec(UserDefinedType[str]):
    """pgvector's ``halfvec``, bound as its text form (``halfvec_text``) and cast."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return f"halfvec({embed.DIM})"

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(type_coerce(bindvalue, Text), self)


# ``embeddings`` as written: the ORM model is portable, the halfvec column PostgreSQL's only
# (migration 0011); the dense index of ``PostgresSearch`` reads it.
_COLUMNS = ("paper_pk", "model", "text_hash", "vector", "seq", "created_at")
_EMBEDDINGS_PG = table(
    "embeddings", *(column(name) for name in _COLUMNS), column("embedding", _HalfVec())
)


def store_vectors(session: Any, rows: list[VectorRow]) -> int:
    """Upsert vectors of the current model at this transaction's data version (the dense
    index's cursor). The one writer of ``embeddings`` rows: on PostgreSQL it fills the
    ``halfvec`` column the HNSW index reads in the same statement. Returns how many."""
    if not rows:
        return 0
    seq, now = changes.stamp(session), datetime.now(UTC)
    postgres = session.get_bind().dialect.name == "postgresql"
    values = []
    for row in rows:
        vector = np.asarray(row.vector, dtype=np.float32)
        value = {
            "paper_pk": row.paper_pk,
            "model": embed.MODEL_ID,
            "text_hash": row.text_hash,
            "vector": vector.tobytes(),
            "seq": seq,
            "created_at": now,
        }
        if postgres:
            value["embedding"] = halfvec_text(vector)
        values.append(value)
    target = _EMBEDDINGS_PG if postgres else Embedding.__table__
    updated = [*_COLUMNS[1:], "embedding"] if postgres else list(_COLUMNS[1:])
    for start in range(0, len(values), 1000):
        statement = changes.insert_for(session)(target).values(values[start : start + 1000])
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["paper_pk"],
                set_={name: getattr(statement.excluded, name) for name in updated},
            )
        )
    return len(values)


def queue_missing(db: Database) -> int:
    """Queue every paper without a vector from the current model that is not queued yet
    (a full scan: ``paperfeed reindex`` runs it; catching up reads only the queue)."""
    has_vector = select(Embedding.paper_pk).where(Embedding.model == embed.MODEL_ID)
    queued = select(EmbedQueue.paper_pk)
    with db.session() as session:
        missing = list(
            session.scalars(
                select(Paper.pk).where(Paper.pk.not_in(has_vector), Paper.pk.not_in(queued))
            )
        )
        changes.queue_for_embedding(session, missing)
    return len(missing)


_checked_models: set[str] = set()


def _queue_foreign_vectors(db: Database) -> None:
    """Once per process and database: a vector from another model queues every paper."""
    if db.url in _checked_models:
        return
    with db.session() as session:
        foreign = session.scalar(
            select(Embedding.paper_pk).where(Embedding.model != embed.MODEL_ID).limit(1)
        )
        if foreign is not None:
            changes.queue_all_for_embedding(session)
    _checked_models.add(db.url)
