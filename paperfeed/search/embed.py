"""Sentence embeddings for papers and queries: all-MiniLM-L6-v2 on onnxruntime, no torch.

The shipped model (``paperfeed/assets/model/``) is made by ``tools/export_model.py``: an ONNX
export of all-MiniLM-L6-v2 fused with onnxruntime's BERT optimizer and quantised to int8 per
channel: a 23 MB file, ~1.8x the speed of sentence-transformers on torch on 2 cores, at a mean
cosine of ~0.993 to its vectors on real abstracts (see ``assets/model/MODEL.md``).

Vectors are stored next to :data:`MODEL_ID`; any change to the shipped model file, to
:func:`paper_text` or to the pooling changes the vectors, so it must come with a new ``MODEL_ID``.
The activations are quantised per batch at run time, so a text's vector moves slightly with its
batch mates (cosine >= ~0.99 to the same text alone); that is within the model's error to the
reference and harmless for search. Importing this module is cheap: onnxruntime and the model
load on first use only.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from paperfeed.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

__all__ = ["DIM", "MODEL_ID", "Embedder", "get_embedder", "get_query_embedder", "paper_text"]

MODEL_ID: str = "all-MiniLM-L6-v2/onnx-int8-pc/1"
"""Names the vectors this module makes; bump it whenever the shipped model file changes."""

DIM: int = 384
"""Width of every vector."""

MAX_LENGTH = 256
"""Word pieces per text, as the reference model; 128 cuts most abstracts and hurts quality."""

MODEL_SHA256 = "afc0c7fdb48458b20e6d64b0cb9a45c2180788dfa28796acbe5e8f63beba3a4d"
"""sha256 of the shipped ``model.onnx`` that :data:`MODEL_ID` names (checked by the tests)."""

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "assets" / "model"
"""Where the export tool writes the model and where :class:`Embedder` looks by default."""

_MAX_DEFAULT_THREADS = 4
QUERY_CACHE_SIZE = 4096
"""Query vectors :meth:`Embedder.embed_query` keeps (1.5 KB each): people page through results
and popular searches repeat, and a hit saves the model run (~3 ms of CPU)."""
_TOKENIZE_CHUNK = 1024
_ORT_INT_TYPES = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}


def paper_text(title: str, abstract: str) -> str:
    """Return the text embedded for a paper: ``"<title>. <abstract>"``.

    Both parts are stripped; a title that already ends in ``.``, ``?`` or ``!`` gets no extra
    full stop, and a missing title or abstract leaves just the other (or ``""``).
    """
    title = (title or "").strip()
    abstract = (abstract or "").strip()
    if not title:
        return abstract
    if not abstract:
        return title
    sep = " " if title.endswith((".", "?", "!")) else ". "
    return f"{title}{sep}{abstract}"


def _default_threads() -> int:
    """One thread per core, capped: past 4 threads a 6-layer model gains next to nothing."""
    return max(1, min(os.cpu_count() or 1, _MAX_DEFAULT_THREADS))


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in blocks (used to tie the model file to ``MODEL_ID``)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Embedder:
    """Turns texts into L2-normalised 384-d float32 vectors (mean pooling over word pieces).

    One instance holds one onnxruntime session; it is safe to share across threads. Use
    :func:`get_embedder` for the process-wide instance rather than building new ones.
    """

    def __init__(
        self, model_dir: Path | None = None, threads: int | None = None, spin: bool = True
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        self.threads = _default_threads() if threads is None else int(threads)
        if self.threads < 1:
            raise ConfigError(f"embedding threads must be at least 1, got {threads!r}")
        model_path = self.model_dir / "model.onnx"
        tokenizer_path = self.model_dir / "tokenizer.json"
        missing = [p.name for p in (model_path, tokenizer_path) if not p.is_file()]
        if missing:
            raise ConfigError(
                f"embedding model files missing in {self.model_dir}: {', '.join(missing)} "
                "(reinstall paperfeed, or rebuild them with tools/export_model.py)"
            )
        self._tokenizer = _load_tokenizer(tokenizer_path)
        self._session = _load_session(model_path, self.threads, spin)
        self._cached_query = functools.lru_cache(maxsize=QUERY_CACHE_SIZE)(self._embed_query)
        inputs = {i.name: i for i in self._session.get_inputs()}
        for name in ("input_ids", "attention_mask"):
            if name not in inputs:
                raise ConfigError(
                    f"{model_path} is not a usable embedding model: no {name!r} input"
                )
        self._dtypes = {name: _ORT_INT_TYPES.get(i.type, np.int64) for name, i in inputs.items()}
        self._output_name = self._session.get_outputs()[0].name
        width = self._session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != DIM:
            raise ConfigError(f"{model_path} makes {width}-d vectors, expected {DIM}")

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed ``texts``; returns ``(len(texts), DIM)`` float32 rows in input order.

        Texts are run in batches of similar token length (sorted) so little time goes on
        padding; ``progress(k)`` is called after each batch with the ``k`` texts it finished.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        n = len(texts)
        out = np.zeros((n, DIM), dtype=np.float32)
        if n == 0:
            return out
        ids = self._tokenize(texts)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
        order = np.argsort(lengths, kind="stable")
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._run_batch([ids[i] for i in rows])
            if progress is not None:
                progress(len(rows))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query; returns a read-only ``(DIM,)`` float32 unit vector.

        Recent queries are remembered (:data:`QUERY_CACHE_SIZE`), keyed by the text with
        runs of whitespace collapsed: the tokenizer ignores them, so the vector is the same.
        """
        return self._cached_query(" ".join(text.split()))

    def _embed_query(self, text: str) -> np.ndarray:
        vector = self.embed([text])[0]
        vector.flags.writeable = False  # shared by every caller of the cache
        return vector

    def _tokenize(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Word-piece ids per text (with [CLS]/[SEP], truncated), without padding.

        Encodings are turned into small arrays chunk by chunk: ``Encoding`` objects also hold
        token strings and offsets, which would cost far more memory on a large corpus.
        """
        ids: list[np.ndarray] = []
        for start in range(0, len(texts), _TOKENIZE_CHUNK):
            chunk = [
                t if isinstance(t, str) else str(t) for t in texts[start : start + _TOKENIZE_CHUNK]
            ]
            for enc in self._tokenizer.encode_batch(chunk):
                ids.append(np.asarray(enc.ids, dtype=np.int64))
        return ids

    def _run_batch(self, ids: list[np.ndarray]) -> np.ndarray:
        """Pad one batch to its own longest text, run the model, mean-pool and normalise."""
        width = max(len(x) for x in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)  # [PAD] is id 0
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, x in enumerate(ids):
            input_ids[row, : len(x)] = x
            mask[row, : len(x)] = 1
        feed = {
            "input_ids": input_ids.astype(self._dtypes["input_ids"], copy=False),
            "attention_mask": mask.astype(self._dtypes["attention_mask"], copy=False),
        }
        if "token_type_ids" in self._dtypes:
            feed["token_type_ids"] = np.zeros_like(input_ids, dtype=self._dtypes["token_type_ids"])
        (hidden,) = self._session.run([self._output_name], feed)
        weights = mask.astype(np.float32)[:, :, None]
        pooled = (hidden.astype(np.float32, copy=False) * weights).sum(axis=1)
        pooled /= np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)


def _load_tokenizer(path: Path) -> tokenizers.Tokenizer:
    """Load the tokenizer, forcing our truncation and leaving padding to :meth:`_run_batch`."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # a corrupt or foreign file: the user must reinstall or re-export
        raise ConfigError(f"cannot read tokenizer {path}: {exc}") from exc
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    tokenizer.no_padding()
    return tokenizer


def _load_session(path: Path, threads: int, spin: bool) -> onnxruntime.InferenceSession:
    """Open the ONNX model on CPU with ``threads`` intra-op threads and full graph optimisation.

    With ``spin`` off, idle intra-op threads sleep instead of busy-waiting for the next run.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for bad/unsupported files
        raise ConfigError(f"cannot load embedding model {path}: {exc}") from exc


@functools.cache
def get_embedder() -> Embedder:
    """The process-wide :class:`Embedder` on the shipped model, built on first call."""
    from paperfeed.config import get_settings

    return Embedder(threads=get_settings().embed_threads)


@functools.cache
def get_query_embedder() -> Embedder:
    """The process-wide :class:`Embedder` for search queries: one thread, no spinning.

    A query is a dozen word pieces (~3 ms on one core). More intra-op threads only add
    overhead, and their spinning after each run took a second core from a busy web server
    (bench_web: ~60 ms of CPU per search page with 2 threads, for ~30 ms of latency).
    """
    return Embedder(threads=1, spin=False)
