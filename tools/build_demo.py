"""Build the bundled demo corpus: ``paperfeed/assets/demo/``.

    .venv/bin/python tools/build_demo.py [--shared ../shared]

Copies the 84 days of Hugging Face daily papers (``shared/data/hf_daily_papers/history``,
gzip files verbatim), ingests them into a throw-away workspace through the normal path,
embeds them with the shipped model, and writes ``vectors.npz`` (ids, text hashes, float16
vectors, model id). Run it again whenever the model or ``paper_text`` changes.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy import select

from paperfeed.catalog.demo import DEMO_DIR, LISTINGS_DIR, VECTORS_FILE, demo_files
from paperfeed.catalog.ingest import ingest_files
from paperfeed.config import Settings
from paperfeed.db import Embedding, Paper
from paperfeed.formats import get_format
from paperfeed.search import embed
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    history = args.shared / "data" / "hf_daily_papers" / "history"
    files = sorted(history.glob("*.json.gz"))
    if not files:
        raise SystemExit(f"no files in {history}")

    LISTINGS_DIR.mkdir(parents=True, exist_ok=True)
    for old in demo_files():
        old.unlink()
    for path in files:
        shutil.copy2(path, LISTINGS_DIR / path.name)
    print(f"copied {len(files)} listing files to {LISTINGS_DIR}")

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace.create(Settings(data_dir=Path(tmp)))
        report = ingest_files(workspace.db, get_format("hf-daily"), demo_files())
        print(f"ingested {report.added} papers ({len(report.problems)} problems)")
        catch_up(workspace)
        with workspace.db.session() as session:
            rows = session.execute(
                select(Paper.id, Embedding.text_hash, Embedding.vector)
                .join(Embedding, Embedding.paper_pk == Paper.pk)
                .where(Embedding.model == embed.MODEL_ID)
                .order_by(Paper.id)
            ).all()
    vectors = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows]).astype(np.float16)
    np.savez_compressed(
        VECTORS_FILE,
        ids=np.array([r.id for r in rows]),
        hashes=np.array([r.text_hash for r in rows]),
        vectors=vectors,
        model=np.array(embed.MODEL_ID),
    )
    size = VECTORS_FILE.stat().st_size / 1e6
    print(f"wrote {len(rows)} vectors to {VECTORS_FILE.relative_to(ROOT)} ({size:.1f} MB)")
    print(f"demo assets in {DEMO_DIR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
