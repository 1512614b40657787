"""Build the bundled demo corpus: ``paperfeed/assets/demo/``.

    .venv/bin/python tools/build_demo.py [--shared ../shared]

Copies the 84 days of Hugging Face daily papers (``shared/data/hf_daily_papers/history``,
gzip files verbatim); writes ``categories.jsonl.gz``, the arXiv categories of the papers the
arXiv cs listings (``shared/data/arxiv_daily_cs``, CC0) know, joined by arXiv id, in our
``jsonl`` format with each paper's title as HF gives it (so ingesting it changes nothing but
the categories); ingests both into a throw-away workspace through the normal path, and makes
``vectors.npz`` (ids, text hashes, float16 vectors, model id).

The vectors already shipped are reused: a paper whose text hash and model still match keeps
its shipped vector, and when every paper matches the file is left as it is (bit for bit).
Only papers that are new or whose text changed are embedded with the shipped model.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy import select

from paperfeed.catalog.demo import (
    CATEGORIES_FILE,
    DEMO_DIR,
    LISTINGS_DIR,
    VECTORS_FILE,
    attach_vectors,
    demo_files,
    load_demo,
)
from paperfeed.catalog.records import PaperRecord
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
    write_categories(args.shared / "data" / "arxiv_daily_cs" / "days")

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace.create(Settings(data_dir=Path(tmp)))
        report = load_demo(workspace)  # attaches the shipped vectors that still fit
        print(f"ingested {report.added} papers ({len(report.problems)} problems)")
        reused = attach_vectors(workspace)
        catch_up(workspace)  # embeds only what has no vector yet
        with workspace.db.session() as session:
            rows = session.execute(
                select(Paper.id, Embedding.text_hash, Embedding.vector)
                .join(Embedding, Embedding.paper_pk == Paper.pk)
                .where(Embedding.model == embed.MODEL_ID)
                .order_by(Paper.id)
            ).all()
    if _shipped_keys() == [(r.id, r.text_hash) for r in rows]:
        print(f"vectors unchanged: {VECTORS_FILE.relative_to(ROOT)} reused as it is")
        return
    print(f"{reused} shipped vectors reused")
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


def write_categories(days: Path) -> None:
    """``CATEGORIES_FILE``: one ``jsonl`` record (id, HF title, categories) per demo paper
    that the arXiv listings know; the categories of its first listing, primary first."""
    known: dict[str, list[str]] = {}
    for path in sorted(days.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                item = json.loads(line)
                categories = item.get("categories")
                if isinstance(categories, list) and categories:
                    known.setdefault(str(item.get("id")), [str(c) for c in categories])
    titles: dict[str, str] = {}
    for path in demo_files():
        for record in get_format("hf-daily").parse(path):
            if isinstance(record, PaperRecord) and record.arxiv_id:
                titles.setdefault(record.arxiv_id, record.title)
    joined = [
        {"source": "arxiv-daily", "arxiv_id": pid, "title": title, "categories": known[pid]}
        for pid, title in sorted(titles.items())
        if pid in known
    ]
    with gzip.GzipFile(CATEGORIES_FILE, "wb", mtime=0) as raw:
        for item in joined:
            raw.write((json.dumps(item, ensure_ascii=False) + "\n").encode())
    print(f"categories for {len(joined)} of {len(titles)} papers in {CATEGORIES_FILE.name}")


def _shipped_keys() -> list[tuple[str, str]]:
    """(id, text hash) of every shipped vector of the current model, in id order."""
    if not VECTORS_FILE.exists():
        return []
    shipped = np.load(VECTORS_FILE)
    if str(shipped["model"]) != embed.MODEL_ID:
        return []
    return sorted(zip(map(str, shipped["ids"]), map(str, shipped["hashes"]), strict=True))


if __name__ == "__main__":
    main()
