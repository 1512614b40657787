"""The data version and the embed queue (``paperfeed.db.changes``), and the embedder that
reads the queue (``paperfeed.search.catchup``), on SQLite and on a real PostgreSQL.

What must hold: every content change moves the data version once per transaction; papers get
it as ``change_seq`` only when what the indexes hold changes; new papers and new texts are
queued for a vector in the same transaction; bookkeeping moves nothing; values follow commit
order (a writer waits for the one holding the counter); embedders sharing a queue never do
the same paper twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.catalog.ingest import upsert_records
from paperfeed.catalog.records import PaperRecord
from paperfeed.config import Settings
from paperfeed.db import Embedding, EmbedQueue, Paper, changes
from paperfeed.db.models import RateCounter
from paperfeed.errors import ConfigError
from paperfeed.search import catchup, embed
from paperfeed.security import secret_key
from paperfeed.web.cache import DataVersion
from paperfeed.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgres"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path)
    else:
        url = request.getfixturevalue("postgres_database")()
        settings = Settings(data_dir=tmp_path, database_url=url, search_backend="embedded")
    workspace = Workspace.create(settings)
    yield workspace
    workspace.db.engine.dispose()


def add(ws: Workspace, *titles: str) -> list[int]:
    records = [PaperRecord(title=t, source="test", abstract=f"about {t}") for t in titles]
    with ws.db.session() as session:
        upsert_records(session, records)
        session.flush()
        return list(session.scalars(select(Paper.pk).where(Paper.title.in_(titles))))


def version(ws: Workspace) -> int:
    with ws.db.session() as session:
        return changes.current(session)


def queued(ws: Workspace) -> dict[int, int]:
    with ws.db.session() as session:
        return dict(session.execute(select(EmbedQueue.paper_pk, EmbedQueue.seq)).all())


def seq_of(ws: Workspace, pk: int) -> int:
    with ws.db.session() as session:
        return session.scalar(select(Paper.change_seq).where(Paper.pk == pk)) or 0


def test_a_transaction_moves_the_version_once_and_stamps_and_queues_its_papers(
    ws: Workspace,
) -> None:
    before = version(ws)
    pks = add(ws, "first paper", "second paper")
    assert version(ws) == before + 1  # two papers, their listings: one transaction, one value
    assert {seq_of(ws, pk) for pk in pks} == {before + 1}
    assert queued(ws) == {pk: before + 1 for pk in pks}


def test_only_indexed_fields_stamp_and_only_the_text_queues(ws: Workspace) -> None:
    (pk,) = add(ws, "a paper")
    with ws.db.session() as session:
        session.query(EmbedQueue).delete()  # as if embedded
    stamped = seq_of(ws, pk)

    with ws.db.session() as session:
        session.get(Paper, pk).authors = ["Ada Lovelace"]  # indexed, not embedded
    assert seq_of(ws, pk) > stamped and queued(ws) == {}

    stamped = seq_of(ws, pk)
    with ws.db.session() as session:
        session.get(Paper, pk).votes = 3  # neither: the version moves, the paper keeps its seq
    assert seq_of(ws, pk) == stamped and version(ws) > stamped

    with ws.db.session() as session:
        session.get(Paper, pk).abstract = "a new abstract"
    assert seq_of(ws, pk) > stamped and set(queued(ws)) == {pk}


def test_statements_move_the_version_and_bookkeeping_does_not(ws: Workspace) -> None:
    (pk,) = add(ws, "a paper")
    before = version(ws)
    with ws.db.session() as session:
        session.execute(update(Paper).where(Paper.pk == pk).values(votes=Paper.votes + 1))
    assert version(ws) == before + 1
    with ws.db.session() as session:
        expires = datetime.now(UTC) + timedelta(minutes=1)
        session.add(RateCounter(key="k", window_start=0, count=1, expires_at=expires))
    assert version(ws) == before + 1  # a rate counter is not content


def test_a_statement_that_forgets_the_stamp_fails_instead_of_hiding_its_rows(
    ws: Workspace,
) -> None:
    with pytest.raises(IntegrityError), ws.db.session() as session:
        session.execute(
            insert(Paper).values(id="x1", title_key="x", title="x", abstract="", source="t")
        )


def test_embedders_sharing_the_queue_embed_each_paper_once(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL each batch is claimed FOR UPDATE SKIP LOCKED: no paper twice. SQLite has
    no row locks (one machine, one embedder as a rule): every paper done, repeats allowed."""
    pks = add(ws, *(f"paper number {i}" for i in range(24)))
    calls: list[list[str]] = []
    lock = threading.Lock()

    class Slow:
        """Stands in for the model: records what it was asked, takes its time."""

        def embed(self, texts: list[str]) -> np.ndarray:
            with lock:
                calls.append(list(texts))
            time.sleep(0.05)
            return np.ones((len(texts), embed.DIM), dtype=np.float32) / np.sqrt(embed.DIM)

    monkeypatch.setattr(embed, "get_embedder", lambda: Slow())
    done = [0, 0]

    def run(i: int) -> None:
        done[i] = catchup.embed_pending(ws.db, batch_size=4)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    texts = [t for batch in calls for t in batch]
    expected = {f"paper number {i}. about paper number {i}" for i in range(24)}
    if ws.db.engine.dialect.name == "postgresql":
        assert sorted(texts) == sorted(expected) and sum(done) == 24
    else:
        assert set(texts) == expected
    assert queued(ws) == {}
    with ws.db.session() as session:
        stored = session.scalar(
            select(func.count()).select_from(Embedding).where(Embedding.paper_pk.in_(pks))
        )
    assert stored == 24
    assert catchup.embed_pending(ws.db) == 0  # nothing left, and unchanged texts stay done


def test_the_counter_hands_out_values_in_commit_order(ws: Workspace) -> None:
    """A writer that took a value holds the counter until it commits: a second writer waits,
    so whoever has seen value N committed has seen everything below N."""
    (pk,) = add(ws, "a paper")
    first_took = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def slow_writer() -> None:
        with ws.db.session() as session:
            session.get(Paper, pk).title = "retitled slowly"
            session.flush()
            first_took.set()
            release.wait(10)
            order.append("slow commits")

    def fast_writer() -> None:
        first_took.wait(10)
        with ws.db.session() as session:
            session.get(Paper, pk).authors = ["B"]
            session.flush()
            order.append("fast took its value")

    slow, fast = threading.Thread(target=slow_writer), threading.Thread(target=fast_writer)
    slow.start()
    fast.start()
    time.sleep(0.5)
    assert order == []  # the fast writer waits for the counter
    release.set()
    slow.join(20)
    fast.join(20)
    assert order == ["slow commits", "fast took its value"]


def test_page_caches_follow_the_data_version_of_any_node(ws: Workspace, tmp_path: Path) -> None:
    """Another process (another web node, on PostgreSQL) commits: this node's version moves."""
    other = Workspace.open(
        ws.settings.model_copy(update={"data_dir": tmp_path / "other", "database_url": ws.db.url})
    )
    source = DataVersion(ws.db)
    before = source.current()
    assert before is not None
    add(other, "a paper from the other node")
    assert source.current() != before
    other.db.engine.dispose()


def test_postgres_needs_one_shared_secret_key(ws: Workspace) -> None:
    if ws.db.engine.dialect.name == "sqlite":
        assert secret_key(ws) == secret_key(ws)  # made once, kept in the data directory
        return
    with pytest.raises(ConfigError, match="PAPERFEED_SECRET_KEY must be set"):
        secret_key(ws)
    keyed = Workspace.open(ws.settings.model_copy(update={"secret_key": "s" * 40}))
    assert secret_key(keyed) == "s" * 40
    keyed.db.engine.dispose()


def test_paperfeed_embed_once_empties_the_queue(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ws = Workspace.create(Settings(data_dir=data))
    add(ws, "Attention is all you need", "Deep residual learning")
    ws.db.engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "paperfeed"), "embed", "--once"],
        env={**env, "PAPERFEED_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "embedded 2 papers (0 waiting)" in " ".join(result.stderr.split())  # the console
    assert queued(Workspace.open(Settings(data_dir=data))) == {}


def test_a_read_replica_serves_feeds_and_search_results_and_takes_no_writes(
    postgres_database: Callable[[], str], tmp_path: Path
) -> None:
    """``PAPERFEED_DATABASE_READ_URL``: reads that may lag come from the replica, writes and
    the reads that decide them from the primary. Here the "replica" is a second database
    that lags for good (it never receives the primary's writes), so each read shows where
    it came from."""
    primary_url, replica_url = postgres_database(), postgres_database()
    for url in (primary_url, replica_url):
        ws = Workspace.create(Settings(data_dir=tmp_path / "setup", database_url=url))
        ws.db.engine.dispose()
    settings = Settings(
        data_dir=tmp_path / "node",
        database_url=primary_url,
        database_read_url=replica_url,
        secret_key="k" * 40,
    )
    node = Workspace.open(settings)
    add(node, "written to the primary")
    with node.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 1
    with node.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 0  # the lagging copy
    assert DataVersion(node.db).current() == 1  # the caches follow the replica's version
    node.db.engine.dispose()
    node.db.read_engine.dispose()


def test_a_read_replica_needs_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"read replica .* needs PostgreSQL"):
        Workspace(Settings(data_dir=tmp_path, database_read_url="sqlite:///elsewhere.db"))


def test_vectors_of_another_model_queue_every_paper_once(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    pks = add(ws, "paper one", "paper two")
    unit = np.ones(embed.DIM, dtype=np.float32) / np.sqrt(embed.DIM)
    monkeypatch.setattr(
        embed, "get_embedder", lambda: SimpleNamespace(embed=lambda texts: [unit] * len(texts))
    )
    assert catchup.embed_pending(ws.db) == 2
    with ws.db.session() as session:  # as if made by the model shipped before this one
        session.execute(update(Embedding).values(model="an-older-model"))
    monkeypatch.setattr(catchup, "_checked_models", set())  # a process started after that
    assert catchup.embed_pending(ws.db) == 2  # both queued again, and re-embedded
    with ws.db.session() as session:
        models = set(session.scalars(select(Embedding.model).where(Embedding.paper_pk.in_(pks))))
        assert models == {embed.MODEL_ID}
    with ws.db.session() as session:
        changes.queue_all_for_embedding(session)
    first = queued(ws)
    assert set(first) == set(pks)
    with ws.db.session() as session:
        changes.queue_all_for_embedding(session)
    assert queued(ws) == first  # a second run keeps every place: it rewrites nothing
