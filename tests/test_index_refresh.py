"""A process picks up what another process's sync indexed (``Indexes.refresh``): the vector
segments are mapped, not read, so reopening them is cheap and a search already running keeps
the view (and the mapped files) it started with, even after a merge deletes them.

"Another process" is a second ``Workspace`` on the same data directory: index locks are
``flock``s on files each opens itself, so two objects in one process exclude each other as
two processes would. Vectors are random unit vectors stored as ``Embedding`` rows, so no
model runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert, select

from paperfeed.catalog.ingest import upsert_records
from paperfeed.catalog.records import PaperRecord
from paperfeed.config import Settings
from paperfeed.db import Embedding, Paper, changes
from paperfeed.search import embed
from paperfeed.search.catchup import catch_up, text_hash
from paperfeed.search.index import Indexes
from paperfeed.search.index.vectors import VectorConfig
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


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Workspace, Workspace]]:
    """A reader (the web server) and a writer (another process), 40 papers indexed."""
    reader = Workspace.create(Settings(data_dir=tmp_path / "data"))
    vectors = unit_vectors(np.random.default_rng(1), 40)
    add_papers(reader, [f"paper {i}" for i in range(40)], vectors)
    catch_up(reader)
    writer = Workspace.open(Settings(data_dir=tmp_path / "data"))
    writer.indexes  # noqa: B018  (opened now, as a running process would be)
    yield reader, writer
    for ws in (reader, writer):
        ws.db.engine.dispose()


def nearest(ws: Workspace, vector: np.ndarray) -> int:
    return ws.indexes.vector_index.search(vector, 1)[0].pk


def test_a_refresh_maps_the_new_vectors_and_leaves_running_searches_theirs(
    two: tuple[Workspace, Workspace],
) -> None:
    reader, writer = two
    old = reader.indexes.vector_index
    query = unit_vectors(np.random.default_rng(2), 1)[0]
    (new_pk,) = add_papers(writer, ["zebrafish regeneration"], query[None, :])
    catch_up(writer)

    assert reader.indexes.refresh()
    hits = reader.indexes.lexical_index.search(parse_query("zebrafish"), 10, title_boost=0.25)
    assert [h.pk for h in hits] == [new_pk]
    fresh = reader.indexes.vector_index
    assert fresh is not old and len(fresh) == 41 and nearest(reader, query) == new_pk
    main = fresh._current().main
    assert main is not None and isinstance(main.matrix, np.memmap)  # mapped, not read
    assert reader.indexes._stamp == reader.indexes._state_stamp()  # caught up: a stat again
    assert not reader.indexes.refresh()
    assert len(old) == 40 and old.search(query, 1)[0].pk != new_pk  # the old view is intact


def test_a_view_outlives_the_files_a_merge_deletes(two: tuple[Workspace, Workspace]) -> None:
    """The writer merges into a new main segment and deletes the old one; a reader still
    searching the old (mapped) files keeps its answers until it refreshes."""
    reader, writer = two
    rng = np.random.default_rng(3)
    old = reader.indexes.vector_index
    old_main = old.segment_names[0]
    probe = unit_vectors(rng, 1)[0]
    before = old.search(probe, 5)
    for i in range(3):  # small collections are one main segment: every sync merges
        add_papers(writer, [f"addition {i}"], unit_vectors(rng, 1))
        catch_up(writer)
    assert not (reader.settings.index_dir / "vectors" / str(old_main)).exists()
    assert old.search(probe, 5) == before
    assert reader.indexes.refresh() and len(reader.indexes.vector_index) == 43


def test_a_sync_in_this_process_starts_from_the_other_processs_vectors(
    two: tuple[Workspace, Workspace],
) -> None:
    reader, writer = two
    rng = np.random.default_rng(4)
    theirs, ours = unit_vectors(rng, 2)
    (their_pk,) = add_papers(writer, ["their paper"], theirs[None, :])
    catch_up(writer)
    (our_pk,) = add_papers(reader, ["our paper"], ours[None, :])
    report = catch_up(reader)  # starts from the other process's vectors
    assert report.vectors == 1
    assert len(reader.indexes.vector_index) == 42
    assert nearest(reader, theirs) == their_pk and nearest(reader, ours) == our_pk
    assert not reader.indexes.refresh()
    assert writer.indexes.refresh() and nearest(writer, ours) == our_pk


def test_filtered_searches_see_another_processs_vectors(
    two: tuple[Workspace, Workspace],
) -> None:
    reader, writer = two
    vector = unit_vectors(np.random.default_rng(5), 1)[0]
    (pk,) = add_papers(writer, ["inline"], vector[None, :])
    catch_up(writer)
    assert reader.indexes.refresh()
    hits = reader.indexes.dense(vector, 3, parse_query('w "inline"'))
    assert [h.pk for h in hits] == [pk]


def test_a_long_sync_saves_and_records_its_progress_as_it_goes(tmp_path: Path) -> None:
    """Every ``save_every`` rows a sync writes what it has and records the data version
    before its last batch (a crash then loses only the rows after it)."""
    ws = Workspace.create(Settings(data_dir=tmp_path / "data"))
    vectors = unit_vectors(np.random.default_rng(6), 45)
    pks = []
    for start in range(0, 45, 5):  # nine data versions
        pks += add_papers(
            ws, [f"paper {i}" for i in range(start, start + 5)], vectors[start : start + 5]
        )
    with ws.db.session() as session:
        versions = sorted(set(session.scalars(select(Embedding.seq))))
    assert len(versions) == 9
    indexes = Indexes(ws.settings.index_dir, sync_batch=10, save_every=20)
    checkpoints: list[tuple[int, int]] = []  # (data version recorded, vectors saved)

    def progress(stage: str, done: int, total: int) -> None:
        seen = indexes.seen("vectors")
        if seen and (not checkpoints or checkpoints[-1][0] != seen):
            checkpoints.append((seen, len(indexes.vector_index)))  # just saved: none pending

    assert indexes.sync_vectors(ws.db, progress) == 45
    # Saved after 20 rows (versions 0-3) and 40 (0-7), each time recording the version
    # before the last one read (rows of it may follow in the next batch).
    assert [count for _, count in checkpoints] == [20, 40]
    assert versions[2] <= checkpoints[0][0] < versions[3]
    assert versions[6] <= checkpoints[1][0] < versions[7]
    assert indexes.seen("vectors") == versions[-1]
    reopened = Indexes(ws.settings.index_dir)
    assert len(reopened.vector_index) == 45 and reopened.seen("vectors") == versions[-1]
    for pk, vector in zip(pks, vectors, strict=True):
        assert reopened.vector_index.search(vector, 1)[0].pk == pk
    ws.db.engine.dispose()


def test_a_merge_after_the_sync_is_picked_up_by_readers(tmp_path: Path) -> None:
    """A sync saves new vectors as a delta (searchable at once); ``merge`` then folds it into
    a new main segment, and a reader's next refresh maps that."""
    config = VectorConfig(exact_below=30, merge_min_rows=10, merge_fraction=0.05)
    ws = Workspace.create(Settings(data_dir=tmp_path / "data"))
    rng = np.random.default_rng(9)
    add_papers(ws, [f"paper {i}" for i in range(40)], unit_vectors(rng, 40))
    writer = Indexes(ws.settings.index_dir, config)
    writer.sync(ws.db)
    main = writer.vector_index.segment_names[0]
    assert writer.vector_index.has_graph and not writer.merge()  # nothing due
    reader = Indexes(ws.settings.index_dir, config)

    vectors = unit_vectors(rng, 15)
    pks = add_papers(ws, [f"new paper {i}" for i in range(15)], vectors)
    writer.sync(ws.db)
    assert writer.vector_index.segment_names[0] == main  # not merged by the sync
    assert reader.refresh() and len(reader.vector_index) == 55
    assert reader.vector_index.search(vectors[3], 1)[0].pk == pks[3]  # from the delta

    assert writer.merge()
    merged = writer.vector_index.segment_names
    assert merged[0] != main and merged[1] == ()
    assert reader.refresh() and reader.vector_index.segment_names == merged
    assert len(reader.vector_index) == reader.vector_index.graph_size == 55
    assert reader.vector_index.search(vectors[3], 1)[0].pk == pks[3]
    assert not writer.merge()
    ws.db.engine.dispose()
