"""The bundled demo corpus: real HF daily papers whose shipped vectors spare the embedding."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from _core_helpers import count, make_workspace
from sqlalchemy import func, select

from paperfeed.catalog.demo import VECTORS_FILE, attach_vectors, demo_files, load_demo
from paperfeed.catalog.ingest import IngestReport
from paperfeed.db import Embedding, Listing, Paper
from paperfeed.formats import get_format
from paperfeed.search import embed, search
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

pytestmark = pytest.mark.skipif(
    not demo_files(), reason="demo corpus not built: no paperfeed/assets/demo/hf_daily/*.json.gz"
)
needs_vectors = pytest.mark.skipif(
    not VECTORS_FILE.exists(), reason=f"demo vectors not built: {VECTORS_FILE} is missing"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, IngestReport]:
    ws = make_workspace(tmp_path_factory.mktemp("demo") / "data")
    return ws, load_demo(ws)


@pytest.fixture(scope="module")
def listed() -> tuple[set[str], int]:
    """Distinct arXiv ids and number of entries in the shipped listings (parsed directly)."""
    source = get_format("hf-daily")
    records = [r for path in demo_files() for r in source.parse(path)]
    return {r.arxiv_id for r in records if r.arxiv_id}, len(records)


def test_demo_loads_every_listed_paper(demo: tuple, listed: tuple) -> None:
    ws, report = demo
    ids, entries = listed
    assert 2000 <= len(ids) <= 2200  # SOURCE.md: 2,076 distinct papers in 84 days
    assert report.problems == []
    assert report.added == count(ws) == len(ids)
    assert count(ws, Listing) == entries
    with ws.db.session() as session:
        assert set(session.scalars(select(Paper.id))) == ids


def test_loading_the_demo_again_adds_nothing(demo: tuple) -> None:
    ws, _ = demo
    before = count(ws)
    again = load_demo(ws)
    assert (again.added, again.updated) == (0, 0)
    assert count(ws) == before


@needs_vectors
def test_shipped_vectors_leave_nothing_to_embed(demo: tuple) -> None:
    ws, _ = demo
    shipped = np.load(VECTORS_FILE)
    assert str(shipped["model"]) == embed.MODEL_ID, "demo vectors were made with another model"
    assert count(ws, Embedding) == count(ws)  # every paper got its shipped vector
    assert attach_vectors(ws) == 0  # nothing left to attach
    report = catch_up(ws)
    assert report.embedded == 0
    assert ws.indexes.lexical_index.num_docs == len(ws.indexes.vector_index) == count(ws)


@needs_vectors
def test_shipped_vectors_match_what_the_model_makes(demo: tuple) -> None:
    ws, _ = demo
    with ws.db.session() as session:
        rows = session.execute(
            select(Paper.title, Paper.abstract, Embedding.vector)
            .join(Embedding, Embedding.paper_pk == Paper.pk)
            .order_by(Paper.pk)
            .limit(8)
        ).all()
    fresh = embed.get_embedder().embed([embed.paper_text(r.title, r.abstract) for r in rows])
    stored = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
    cosines = np.sum(fresh * stored, axis=1)
    # Not exactly equal: the int8 model scales activations per batch, so a vector depends a
    # little on its batch mates (cosine ~0.993-0.997 here); another model would be far lower.
    assert cosines.min() > 0.98, cosines


@needs_vectors
def test_search_works_on_the_demo(demo: tuple) -> None:
    ws, _ = demo
    catch_up(ws)
    entries = json.loads(gzip.decompress(demo_files()[0].read_bytes()))
    title = entries[0]["paper"]["title"]
    for mode in ("hybrid", "lexical", "dense"):
        hits = search(ws, title, mode=mode, limit=3).hits  # type: ignore[arg-type]
        assert hits[0].paper.title == title, mode
    results = search(ws, "video generation", limit=10)
    assert len(results.hits) == 10


def test_the_demo_carries_arxiv_categories_and_hf_details(demo: tuple) -> None:
    """Categories joined from the arXiv cs listings (~939 of 2,076 papers), and what HF says."""
    ws, _ = demo
    with ws.db.session() as session:
        with_categories = session.scalars(select(Paper).where(Paper.primary_category.is_not(None)))
        primaries = [p.primary_category for p in with_categories]
        summaries = session.scalar(
            select(func.count()).select_from(Paper).where(Paper.ai_summary.is_not(None))
        )
    assert 900 <= len(primaries) <= 1000
    assert "cs.CL" in primaries and "cs.CV" in primaries
    assert summaries is not None and summaries > 1500


@needs_vectors
def test_category_search_finds_demo_papers(demo: tuple) -> None:
    ws, _ = demo
    catch_up(ws)
    results = search(ws, "cat:cs.CV", limit=10)
    assert len(results.hits) == 10
    assert all("cs.CV" in hit.paper.categories for hit in results.hits)
    assert search(ws, "video cat:cs.CV", limit=5).hits
