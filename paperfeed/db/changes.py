"""The data version: what changed, in commit order, for caches, indexes and embedders.

Every transaction that changes content takes the next value of the ``data_version`` counter,
once, before its first write (``UPDATE … SET seq = seq + 1``: the row stays locked until the
transaction ends, so values are handed out in commit order, on SQLite and PostgreSQL alike).
From that one number:

- papers whose indexed fields change get it as ``change_seq``, vectors as ``seq``; the
  indexes catch up with ``change_seq > what they have seen``, and no paper committed late
  is ever skipped (clock watermarks could skip one);
- new papers and papers with a new title or abstract are queued in ``embed_queue`` in the
  same transaction, so the embedders read only what changed;
- the web nodes' page caches hold while the counter is unchanged.

It happens here, in session events, so every ORM write is covered without the writer's help:
``before_flush`` for objects, ``do_orm_execute`` for statements (``update(Paper)``, an
``insert(Vote)``). A statement that inserts ``papers`` or ``embeddings`` rows itself (bulk
ingest) stamps them with ``stamp(session)`` (the columns have no default, so a row left
unstamped fails at once) and queues new papers with ``queue_for_embedding``. Bookkeeping that
no page shows (log-in sessions, rate counters, the worker lease, the embed queue, ingest
checkpoints) does not move the counter, so it never holds the lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Table,
    event,
    inspect,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

from paperfeed.db.models import (
    Base,
    DataVersion,
    Embedding,
    EmbedQueue,
    IngestCheckpoint,
    Paper,
    RateCounter,
    UserSession,
    WorkerLease,
)

# What the indexes hold of a paper: a change to any of these re-indexes it.
INDEXED_FIELDS = ("id", "title", "abstract", "authors", "categories", "published")
# What its vector is made of: a change to either re-embeds it.
EMBEDDED_FIELDS = ("title", "abstract")
_QUIET = (DataVersion, EmbedQueue, IngestCheckpoint, RateCounter, UserSession, WorkerLease)
_VERSION: Table = Base.metadata.tables[DataVersion.__tablename__]
_QUEUE: Table = Base.metadata.tables[EmbedQueue.__tablename__]
_SEQ = "paperfeed.data_seq"  # session.info key: (value, the transaction that took it)
_TO_EMBED = "paperfeed.to_embed"  # papers of this flush to queue once they have a pk


def current(reader: Session | Connection) -> int:
    """The newest committed data version (as this session or connection sees it)."""
    return int(reader.scalar(select(_VERSION.c.seq).where(_VERSION.c.id == 1)) or 0)


def stamp(session: Session) -> int:
    """This transaction's data version, taking the next one on first use."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    taken = session.info.get(_SEQ)
    if taken is not None:
        return int(taken[0])
    # On the connection, not the session: no autoflush (this may run inside a flush).
    seq = (
        session.connection()
        .execute(
            update(_VERSION)
            .where(_VERSION.c.id == 1)
            .values(seq=_VERSION.c.seq + 1)
            .returning(_VERSION.c.seq)
        )
        .scalar_one()
    )
    session.info[_SEQ] = (seq, transaction)
    return int(seq)


def queue_for_embedding(session: Session, paper_pks: Iterable[int]) -> None:
    """Queue papers for a (new) vector, at this transaction's data version."""
    pks = sorted(set(paper_pks))
    if not pks:
        return
    seq = stamp(session)
    insert = insert_for(session)
    for start in range(0, len(pks), 1000):
        rows = [{"paper_pk": pk, "seq": seq} for pk in pks[start : start + 1000]]
        statement = insert(_QUEUE).values(rows)
        session.connection().execute(
            statement.on_conflict_do_update(
                index_elements=["paper_pk"], set_={"seq": statement.excluded.seq}
            )
        )


def queue_all_for_embedding(session: Session) -> None:
    """Queue every paper not queued yet (a new embedding model).

    Papers already waiting keep their place: every process that finds vectors of an older
    model runs this once, and a second run must not rewrite the whole queue."""
    seq = stamp(session)
    statement = insert_for(session)(_QUEUE).from_select(
        # WHERE true: SQLite parses an INSERT … SELECT … ON CONFLICT only with a WHERE.
        ["paper_pk", "seq"],
        select(Paper.pk, literal(seq, BigInteger())).where(true()),
    )
    session.connection().execute(statement.on_conflict_do_nothing(index_elements=["paper_pk"]))


def insert_for(session: Session) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_update``), for this session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def _changed(paper: Paper, fields: tuple[str, ...]) -> bool:
    state = inspect(paper)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _before_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    touched = [o for o in (*session.new, *session.dirty, *session.deleted) if not _quiet(o)]
    if not touched:
        return
    seq = stamp(session)
    to_embed: list[Paper] = []
    for obj in session.new:
        if isinstance(obj, Paper):
            obj.change_seq = seq
            to_embed.append(obj)
        elif isinstance(obj, Embedding):
            obj.seq = seq
    for paper in session.dirty:
        if isinstance(paper, Embedding):
            paper.seq = seq
        elif isinstance(paper, Paper) and _changed(paper, INDEXED_FIELDS):
            paper.change_seq = seq
            if _changed(paper, EMBEDDED_FIELDS):
                to_embed.append(paper)
    if to_embed:
        session.info.setdefault(_TO_EMBED, []).extend(to_embed)


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    papers = session.info.pop(_TO_EMBED, None)
    if papers:
        queue_for_embedding(session, (p.pk for p in papers if p.pk is not None))


def _on_execute(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, _QUIET):
        return
    stamp(state.session)


def _transaction_ended(session: Session, transaction: Any) -> None:
    taken = session.info.get(_SEQ)
    if taken is not None and taken[1] is transaction:
        del session.info[_SEQ]  # a rolled-back savepoint took the value with it
    if transaction.parent is None:
        session.info.pop(_SEQ, None)
        session.info.pop(_TO_EMBED, None)


def _quiet(obj: object) -> bool:
    return isinstance(obj, _QUIET)


def track(sessions: sessionmaker[Session]) -> None:
    """Install the events on a session factory (``Database`` does, for every session)."""
    event.listen(sessions, "before_flush", _before_flush)
    event.listen(sessions, "after_flush", _after_flush)
    event.listen(sessions, "do_orm_execute", _on_execute)
    event.listen(sessions, "after_transaction_end", _transaction_ended)
