"""The bundled demo corpus: 84 days of real Hugging Face daily papers, with their vectors.

The listings ship verbatim (gzip) in ``assets/demo/hf_daily`` and go through the normal
``hf-daily`` ingest. Their vectors ship precomputed (``vectors.npz``, float16) so the first
start does not spend a minute embedding; a vector is used only if the model id and the text
hash still match, otherwise the normal sync embeds that paper. ``categories.jsonl.gz`` adds
the arXiv categories of the papers the arXiv listings know (their titles as HF gives them,
so nothing else changes and no vector goes stale).
Rebuild the assets with ``tools/build_demo.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import select

from paperfeed.catalog.ingest import IngestReport, ingest_files
from paperfeed.db import Embedding, Paper
from paperfeed.formats import get_format
from paperfeed.search import embed
from paperfeed.search.catchup import VectorRow, store_vectors, text_hash
from paperfeed.workspace import Workspace

DEMO_DIR = Path(__file__).parent.parent / "assets" / "demo"
LISTINGS_DIR = DEMO_DIR / "hf_daily"
VECTORS_FILE = DEMO_DIR / "vectors.npz"
# The arXiv categories of the papers the arXiv listings know (our ``jsonl`` format, HF titles).
CATEGORIES_FILE = DEMO_DIR / "categories.jsonl.gz"


def demo_files() -> list[Path]:
    return sorted(LISTINGS_DIR.glob("*.json.gz"))


def load_demo(workspace: Workspace) -> IngestReport:
    """Ingest the demo listings and attach the precomputed vectors that still fit."""
    report = ingest_files(workspace.db, get_format("hf-daily"), demo_files())
    if CATEGORIES_FILE.exists():
        report.problems.extend(
            ingest_files(workspace.db, get_format("jsonl"), [CATEGORIES_FILE]).problems
        )
    attach_vectors(workspace)
    return report


def attach_vectors(workspace: Workspace) -> int:
    """Store shipped vectors for papers that have none yet (same model, same text)."""
    if not VECTORS_FILE.exists():
        return 0
    shipped = np.load(VECTORS_FILE)
    if str(shipped["model"]) != embed.MODEL_ID:
        return 0  # made with another model: let the sync embed afresh
    by_id = {
        str(pid): (str(h), i)
        for i, (pid, h) in enumerate(zip(shipped["ids"], shipped["hashes"], strict=True))
    }
    vectors = shipped["vectors"]
    with workspace.db.session() as session:
        have = set(
            session.scalars(select(Embedding.paper_pk).where(Embedding.model == embed.MODEL_ID))
        )
        rows = []
        for paper in session.scalars(select(Paper).where(Paper.id.in_(list(by_id)))):
            expected, row = by_id[paper.id]
            if paper.pk in have or text_hash(paper.title, paper.abstract) != expected:
                continue
            vector = vectors[row].astype(np.float32)
            rows.append(VectorRow(paper.pk, expected, vector / np.linalg.norm(vector)))
        added = store_vectors(session, rows)
    return added
