"""Sentence embeddings for papers and queries: all-MiniLM-L6-v2 on onnxruntime, no torch.

The shipped model (``paperfeed/assets/model/``) is made by ``tools/export_model.py``: an ONNX
export of all-MiniLM-L6-v2 fused with onnxruntime's BERT optimizer and quantised to int8 per
channel: a 23 MB file at a mean cosine of ~0.995 to the sentence-transformers vectors on real
abstracts (see ``assets/model/MODEL.md``).

Vectors are stored next to :data:`MODEL_ID`; any change to the shipped model file, to
:func:`paper_text` or to the pooling changes the vectors, so it must come with a new ``MODEL_ID``.
The activations are quantised per model run, so a text's vector would move slightly with batch
mates (cosine >= ~0.99 to the same text alone). On CPU each run is one text, so a vector depends
on its text only, and the cores run several texts at once: on an idle 2-core machine ~71
abstracts/s vs ~42 for the previous model in batches of 32 split over both cores, and more
than that on a busy one (``bench/bench_embed.py``). Importing this module is cheap: onnxruntime
and the model load on first use only.

GPUs: install ``onnxruntime-gpu`` in place of ``onnxruntime`` and set
``PAPERFEED_EMBED_PROVIDERS=CUDAExecutionProvider,CPUExecutionProvider``; papers are then
embedded in batches of :data:`ACCELERATOR_BATCH_SIZE`, and operators CUDA lacks run on the CPU.
Search queries stay on the CPU (:func:`get_query_embedder`). See docs/performance.md.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from paperfeed.errors import ConfigError
from paperfeed.progress import Progress

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

__all__ = [
    "CPU_PROVIDER",
    "DIM",
    "MODEL_ID",
    "Embedder",
    "get_embedder",
    "get_query_embedder",
    "paper_text",
    "parse_providers",
]

MODEL_ID: str = "all-MiniLM-L6-v2/onnx-int8-pc/2"
"""Names the vectors this module makes; bump it whenever the shipped model file changes."""

DIM: int = 384
"""Width of every vector."""

MAX_LENGTH = 256
"""Word pieces per text, as the reference model; 128 cuts most abstracts and hurts quality."""

MODEL_SHA256 = "2d49f94b780d610e950c016043bbf67e45b264183102caae1f65ca7ab94fa58c"
"""sha256 of the shipped ``model.onnx`` that :data:`MODEL_ID` names (checked by the tests)."""

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "assets" / "model"
"""Where the export tool writes the model and where :class:`Embedder` looks by default."""

CPU_PROVIDER = "CPUExecutionProvider"
"""onnxruntime's CPU execution provider: the default, and the one every onnxruntime has."""

CPU_BATCH_SIZE = 1
"""Texts per model run on CPU. Smaller runs keep the activations in the cache, and the int8
activations are then scaled per text, not per batch (see the module docstring)."""

ACCELERATOR_BATCH_SIZE = 64
"""Texts per model run when an accelerator (e.g. CUDA) runs the model: big runs keep it busy."""

_MAX_DEFAULT_THREADS = 4
QUERY_CACHE_SIZE = 4096
"""Query vectors :meth:`Embedder.embed_query` keeps (1.5 KB each): people page through results
and popular searches repeat, and a hit saves the model run (~3 ms of CPU)."""
_TOKENIZE_CHUNK = 1024
_SKIP_LAYER_NORM_FUSION = "SkipLayerNormFusion"  # an onnxruntime graph optimizer's name
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


def parse_providers(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Execution providers from a comma-separated list (or a sequence); empty means CPU only."""
    names = text.split(",") if isinstance(text, str) else list(text or ())
    cleaned = tuple(name.strip() for name in names if name.strip())
    return cleaned or (CPU_PROVIDER,)


class Embedder:
    """Turns texts into L2-normalised 384-d float32 vectors (mean pooling over word pieces).

    One instance holds one onnxruntime session; it is safe to share across threads. Use
    :func:`get_embedder` for the process-wide instance rather than building new ones.

    ``threads`` is the CPU cores to use. On CPU they run ``workers`` batches at once (default:
    one per thread, each batch on one intra-op thread), which beats splitting every operator
    of one batch across the threads: on 2 cores the threads wait for each other after each of
    the model's ~80 operators, and a busy machine stalls the whole batch when it takes one of
    them away. ``providers`` are onnxruntime execution providers in order of preference
    (default CPU only); with an accelerator first, batches run one at a time.
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        threads: int | None = None,
        spin: bool = True,
        providers: str | Sequence[str] | None = None,
        workers: int | None = None,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        self.threads = _default_threads() if threads is None else int(threads)
        if self.threads < 1:
            raise ConfigError(f"embedding threads must be at least 1, got {threads!r}")
        self.providers = parse_providers(providers)
        on_cpu = self.providers[0] == CPU_PROVIDER
        self.workers = (self.threads if on_cpu else 1) if workers is None else int(workers)
        if not 1 <= self.workers <= self.threads:
            raise ConfigError(
                f"embedding workers must be between 1 and threads ({self.threads}), got {workers!r}"
            )
        self.batch_size = CPU_BATCH_SIZE if on_cpu else ACCELERATOR_BATCH_SIZE
        model_path = self.model_dir / "model.onnx"
        tokenizer_path = self.model_dir / "tokenizer.json"
        missing = [p.name for p in (model_path, tokenizer_path) if not p.is_file()]
        if missing:
            raise ConfigError(
                f"embedding model files missing in {self.model_dir}: {', '.join(missing)} "
                "(reinstall paperfeed, or rebuild them with tools/export_model.py)"
            )
        self._tokenizer = _load_tokenizer(tokenizer_path)
        self._session = _load_session(
            model_path, self.threads // self.workers, spin, self.providers
        )
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
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
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Embed ``texts``; returns ``(len(texts), DIM)`` float32 rows in input order.

        Texts are run in batches of similar token length (sorted) so little time goes on
        padding, ``workers`` batches at a time; ``progress("embed", k, len(texts))`` is
        called after each batch, in order, with the ``k`` texts it finished. ``batch_size``
        defaults to :data:`CPU_BATCH_SIZE` on CPU and :data:`ACCELERATOR_BATCH_SIZE` on an
        accelerator.
        """
        batch_size = self.batch_size if batch_size is None else batch_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        n = len(texts)
        out = np.zeros((n, DIM), dtype=np.float32)
        if n == 0:
            return out
        ids = self._tokenize(texts)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
        order = np.argsort(lengths, kind="stable")
        batches = [order[start : start + batch_size] for start in range(0, n, batch_size)]

        def run(rows: np.ndarray) -> np.ndarray:
            return self._run_batch([ids[i] for i in rows])

        results = map(run, batches) if self.workers == 1 else self._executor().map(run, batches)
        for rows, vectors in zip(batches, results, strict=True):
            out[rows] = vectors
            if progress is not None:
                progress("embed", len(rows), len(texts))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query; returns a read-only ``(DIM,)`` float32 unit vector.

        Recent queries are remembered (:data:`QUERY_CACHE_SIZE`), keyed by the text with
        runs of whitespace collapsed: the tokenizer ignores them, so the vector is the same.
        """
        return self._cached_query(" ".join(text.split()))

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Word pieces the model reads for each text, in input order.

        Counts include [CLS] and [SEP] and stop at :data:`MAX_LENGTH`: a longer text is
        truncated, so this is what each text costs to embed, not its full length.
        """
        return [len(x) for x in self._tokenize(texts)]

    def _embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embed([text])[0]
        vector.flags.writeable = False  # shared by every caller of the cache
        return vector

    def _executor(self) -> ThreadPoolExecutor:
        """The worker threads, started on first use (a query-only embedder never needs them)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed")
            return self._pool

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
        normalized: np.ndarray = pooled / np.maximum(norms, 1e-12)
        return normalized


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


def _load_session(
    path: Path, threads: int, spin: bool, providers: Sequence[str]
) -> onnxruntime.InferenceSession:
    """Open the ONNX model with ``threads`` intra-op threads and full graph optimisation.

    With ``spin`` off, idle intra-op threads sleep instead of busy-waiting for the next run.
    A requested provider this onnxruntime lacks, or one that fails to start (onnxruntime
    would quietly fall back to the CPU), is a :class:`ConfigError`.
    """
    import onnxruntime as ort

    available = ort.get_available_providers()
    missing = [name for name in providers if name not in available]
    if missing:
        raise ConfigError(
            f"onnxruntime execution provider(s) {', '.join(missing)} not available; this "
            f"onnxruntime has: {', '.join(available)} (PAPERFEED_EMBED_PROVIDERS; for CUDA, "
            "install onnxruntime-gpu in place of onnxruntime)"
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # The model keeps Add + LayerNormalization apart on purpose: onnxruntime's CPU kernel for
    # the SkipLayerNormalization it would fuse them into is ~5x slower (tools/export_model.py).
    disabled = [_SKIP_LAYER_NORM_FUSION] if providers[0] == CPU_PROVIDER else []
    try:
        session = ort.InferenceSession(
            str(path), opts, providers=list(providers), disabled_optimizers=disabled
        )
    except Exception as exc:  # onnxruntime raises its own types for bad/unsupported files
        raise ConfigError(f"cannot load embedding model {path}: {exc}") from exc
    started = session.get_providers()
    failed = [name for name in providers if name not in started]
    if failed:
        raise ConfigError(
            f"onnxruntime could not start execution provider(s) {', '.join(failed)} for "
            f"{path} (started: {', '.join(started)}); check the driver and libraries it needs"
        )
    return session


@functools.cache
def get_embedder() -> Embedder:
    """The process-wide :class:`Embedder` on the shipped model, built on first call.

    Threads and execution providers come from the settings (``PAPERFEED_EMBED_THREADS``,
    ``PAPERFEED_EMBED_PROVIDERS``).
    """
    from paperfeed.config import get_settings

    settings = get_settings()
    return Embedder(threads=settings.embed_threads, providers=settings.embed_providers)


@functools.cache
def get_query_embedder() -> Embedder:
    """The process-wide :class:`Embedder` for search queries: one thread, no spinning.

    A query is a dozen word pieces (~3 ms on one core). More intra-op threads only add
    overhead, and their spinning after each run took a second core from a busy web server
    (bench_web: ~60 ms of CPU per search page with 2 threads, for ~30 ms of latency).
    """
    return Embedder(threads=1, spin=False)
