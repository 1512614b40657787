"""A process picks up what another process's sync indexed (``Indexes.refresh``), without a
search waiting for large vector files: those load in a background thread while searches use
the old vectors, and the first refresh after the load swaps them in.

"Another process" is a second ``Workspace`` on the same data directory: index locks are
``flock``s on files each opens itself, so two objects in one process exclude each other as
two processes would. Vectors are random unit vectors stored as ``Embedding`` rows, so no
model runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert, select

import paperfeed.search.index as index_module
from paperfeed.catalog.ingest import upsert_records
from paperfeed.catalog.records import PaperRecord
from paperfeed.config import Settings
from paperfeed.db import Embedding, Paper, changes
from paperfeed.search import embed
from paperfeed.search.catchup import catch_up, text_hash
from paperfeed.search.index import VectorIndex
from paperfeed.search.query import parse_query
from paperfeed.workspace import Workspace


def add_papers(ws: Workspace, titles: list[str], vectors: np.ndarray) -> list[int]:
    """Store papers with their vectors (as the sync's embedding step would have)."""
    records = [PaperRecord(title=t, source="test", abstract=f"about {t}") for t in titles]
    with ws.db.session() as session:
        upsert_records(session, records)
        session.flush()
        pks = dict(session.execute(select(Paper.id, Paper.pk)).all())
        now, seq = datetime.now(UTC), changes.stamp(session)
        rows = [
            {
                "paper_pk": pks[r.key],
                "model": embed.MODEL_ID,
                "text_hash": text_hash(r.title, r.abstract),
                "vector": v.astype(np.float32).tobytes(),
                "created_at": now,
                "seq": seq,
            }
            for r, v in zip(records, vectors, strict=True)
        ]
        session.execute(insert(Embedding), rows)
    return [pks[r.key] for r in records]


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.normal(size=(n, embed.DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


class Gate:
    """Holds the background loader (and only it) until opened."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened = threading.Event()
        self.started = threading.Event()

        def gated(path: Path, dim: int) -> VectorIndex:
            if threading.current_thread().name == "load-vectors":
                self.started.set()
                assert self.opened.wait(30)
            return VectorIndex(path, dim)

        monkeypatch.setattr(index_module, "VectorIndex", gated)

    def open(self) -> None:
        self.opened.set()


@pytest.fixture
def two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Workspace, Workspace]]:
    """A reader (the web server) and a writer (another process), 40 papers indexed; vectors
    always load in the background here."""
    monkeypatch.setattr(index_module, "LOAD_INLINE_BELOW", 0)
    reader = Workspace.create(Settings(data_dir=tmp_path / "data"))
    vectors = unit_vectors(np.random.default_rng(1), 40)
    add_papers(reader, [f"paper {i}" for i in range(40)], vectors)
    catch_up(reader)
    writer = Workspace.open(Settings(data_dir=tmp_path / "data"))
    writer.indexes  # noqa: B018  (opened now, as a running process would be)
    yield reader, writer
    for ws in (reader, writer):
        loader = ws.indexes._loader
        if loader is not None:
            loader.join(30)
        ws.db.engine.dispose()


def nearest(ws: Workspace, vector: np.ndarray) -> int:
    return ws.indexes.vector_index.search(vector, 1)[0].pk


def loaded_from_writer(reader: Workspace, writer: Workspace, title: str, vector: np.ndarray) -> int:
    """The writer adds and indexes a paper; the reader notices and its background load ends
    (not yet swapped in). The paper's pk."""
    (pk,) = add_papers(writer, [title], vector[None, :])
    catch_up(writer)
    assert reader.indexes.refresh()
    reader.indexes._loader.join(10)
    return pk


def test_new_vectors_load_in_the_background_and_are_swapped_in_by_a_later_refresh(
    two: tuple[Workspace, Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = two
    gate = Gate(monkeypatch)
    old = reader.indexes.vector_index
    query = unit_vectors(np.random.default_rng(2), 1)[0]
    (new_pk,) = add_papers(writer, ["zebrafish regeneration"], query[None, :])
    catch_up(writer)

    started = time.perf_counter()
    assert reader.indexes.refresh()  # the text index is reloaded at once ...
    assert time.perf_counter() - started < 5  # ... and nothing waits for the gated vectors
    assert gate.started.wait(10)
    hits = reader.indexes.lexical_index.search(parse_query("zebrafish"), 10, title_boost=0.25)
    assert [h.pk for h in hits] == [new_pk]
    assert reader.indexes.vector_index is old and len(old) == 40  # searches use the old vectors
    assert nearest(reader, query) != new_pk
    assert not reader.indexes.refresh()  # still loading: nothing new, nor a second loader

    gate.open()
    reader.indexes._loader.join(10)
    assert reader.indexes.refresh()  # swapped in
    assert len(reader.indexes.vector_index) == 41 and nearest(reader, query) == new_pk
    assert reader.indexes._stamp == reader.indexes._state_stamp()  # caught up: a stat again
    assert not reader.indexes.refresh()
    assert len(old) == 40  # a search still holding the old object is unaffected


def test_a_load_of_files_that_moved_on_is_dropped_and_the_newer_ones_loaded(
    two: tuple[Workspace, Workspace],
) -> None:
    reader, writer = two
    rng = np.random.default_rng(3)
    first, second = unit_vectors(rng, 2)
    loaded_from_writer(reader, writer, "first addition", first)  # 41 vectors, not swapped in
    (second_pk,) = add_papers(writer, ["second addition"], second[None, :])
    catch_up(writer)  # 42 now: the finished load is out of date

    reader.indexes.refresh()
    assert len(reader.indexes.vector_index) == 40  # not the stale 41; a new load started
    reader.indexes._loader.join(10)
    reader.indexes.refresh()
    assert len(reader.indexes.vector_index) == 42 and nearest(reader, second) == second_pk


def test_a_sync_in_this_process_takes_over_from_a_background_load(
    two: tuple[Workspace, Workspace],
) -> None:
    reader, writer = two
    rng = np.random.default_rng(4)
    theirs, ours = unit_vectors(rng, 2)
    their_pk = loaded_from_writer(reader, writer, "their paper", theirs)
    (our_pk,) = add_papers(reader, ["our paper"], ours[None, :])
    report = catch_up(reader)  # starts from the other process's vectors
    assert report.vectors == 1
    assert len(reader.indexes.vector_index) == 42
    assert nearest(reader, theirs) == their_pk and nearest(reader, ours) == our_pk
    assert reader.indexes._loaded is None
    assert not reader.indexes.refresh()


def test_small_vector_files_are_loaded_by_the_search_that_notices_them(
    two: tuple[Workspace, Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As before the background loads: the very next search sees them (tests of other
    parts rely on this at their sizes)."""
    monkeypatch.setattr(index_module, "LOAD_INLINE_BELOW", 1000)
    reader, writer = two
    vector = unit_vectors(np.random.default_rng(5), 1)[0]
    (pk,) = add_papers(writer, ["inline"], vector[None, :])
    catch_up(writer)
    assert reader.indexes.refresh()
    assert reader.indexes._loader is None
    assert len(reader.indexes.vector_index) == 41 and nearest(reader, vector) == pk
