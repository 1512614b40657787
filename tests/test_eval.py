"""The evaluation harness: metric definitions, dataset loading, and a quality regression guard."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.errors import SourceError
from paperfeed.search.eval import Dataset, evaluate, mrr_at_10, ndcg_at_10, prepare, recall_at_100
from paperfeed.workspace import Workspace

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def test_ndcg_follows_the_trec_definition() -> None:
    judged = {"a": 2, "b": 1, "c": 0}
    assert ndcg_at_10(["a", "b"], judged) == pytest.approx(1.0)
    dcg = 1 / math.log2(2) + 2 / math.log2(4)  # b at rank 1, a at rank 3
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_10(["b", "x", "a"], judged) == pytest.approx(dcg / idcg)
    assert ndcg_at_10(["x"] * 10 + ["a"], judged) == 0.0  # rank 11 is past the cut-off


def test_recall_and_mrr() -> None:
    judged = {"a": 1, "b": 1, "c": 0}
    assert recall_at_100(["c", "a"], judged) == 0.5
    assert mrr_at_10(["c", "x", "b"], judged) == pytest.approx(1 / 3)
    assert mrr_at_10(["c"], judged) == 0.0


def test_a_directory_without_qrels_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_text('{"_id": "1", "title": "t", "text": "x"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    with pytest.raises(SourceError, match=r"test\.tsv is missing"):
        Dataset.load(tmp_path)


@pytest.fixture(scope="module")
def scifact_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 100 SciFact test queries, their judged papers and 300 other papers."""
    if not (SCIFACT / "corpus.jsonl").exists():
        pytest.skip(f"SciFact not found at {SCIFACT} (shared/ beside the repository)")
    out = tmp_path_factory.mktemp("scifact-slice")
    rows = (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()
    header, judgements = rows[0], [r.split("\t") for r in rows[1:] if r.strip()]
    query_ids = list(dict.fromkeys(q for q, _, _ in judgements))[:100]
    kept = [j for j in judgements if j[0] in query_ids]
    relevant = {doc for _, doc, _ in kept}
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()]
    others = [d for d in corpus if d["_id"] not in relevant][:300]
    chosen = [d for d in corpus if d["_id"] in relevant] + others
    (out / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in chosen))
    queries = [json.loads(line) for line in (SCIFACT / "queries.jsonl").open()]
    (out / "queries.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in queries if q["_id"] in query_ids)
    )
    (out / "qrels").mkdir()
    (out / "qrels" / "test.tsv").write_text(
        "\n".join([header, *("\t".join(j) for j in kept)]) + "\n"
    )
    return out


def test_hybrid_beats_each_of_its_parts_on_a_scifact_slice(
    scifact_slice: Path, tmp_path: Path
) -> None:
    dataset = Dataset.load(scifact_slice)
    workspace = Workspace.create(Settings(data_dir=tmp_path / "data"))
    prepare(dataset, workspace)
    results = {r.ranker: r for r in evaluate(workspace, dataset, "test")}
    assert results["hybrid"].queries == 100
    best_part = max(results["lexical"].ndcg_at_10, results["dense"].ndcg_at_10)
    assert results["hybrid"].ndcg_at_10 >= best_part, results
    assert results["hybrid"].recall_at_100 >= results["lexical"].recall_at_100


def test_query_kinds_are_read_from_the_text() -> None:
    from paperfeed.search.eval import query_kind

    assert query_kind("retrieval augmented generation") == "keyword"
    assert query_kind("RLHF reward hacking") == "acronym"
    assert query_kind("does dropout help small transformer models generalise?") == "question"
    assert query_kind("Vitamin D deficiency is associated with higher risk of fractures") == (
        "question"
    )
    assert query_kind("A title\n" + "an abstract sentence of several words. " * 20) == "long"


def test_results_are_broken_down_by_the_kind_a_query_carries(
    scifact_slice: Path, tmp_path: Path
) -> None:
    """Kinds from the queries' ``metadata.kind`` win over the guessed ones; the breakdown
    averages each kind's own queries."""
    lines = (scifact_slice / "queries.jsonl").read_text().splitlines()
    tagged = tmp_path / "tagged"
    (tagged / "qrels").mkdir(parents=True)
    (tagged / "corpus.jsonl").symlink_to(scifact_slice / "corpus.jsonl")
    (tagged / "qrels" / "test.tsv").write_text((scifact_slice / "qrels" / "test.tsv").read_text())
    items = [json.loads(line) for line in lines]
    for i, item in enumerate(items):
        if i % 2:
            item["metadata"] = {"kind": "expansion"}
    (tagged / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in items))
    dataset = Dataset.load(tagged)
    workspace = Workspace.create(Settings(data_dir=tmp_path / "data"))
    prepare(dataset, workspace)
    (result,) = evaluate(workspace, dataset, "test", ["lexical"], limit_queries=40)
    assert sum(int(k["queries"]) for k in result.by_kind.values()) == result.queries == 40
    assert "expansion" in result.by_kind and list(result.by_kind)[-1] in ("expansion", "long")
    mean = sum(k["ndcg_at_10"] * k["queries"] for k in result.by_kind.values()) / 40
    assert mean == pytest.approx(result.ndcg_at_10)
    (only,) = evaluate(workspace, dataset, "test", ["lexical"], kinds=["expansion"])
    assert list(only.by_kind) == ["expansion"]
    assert only.queries == sum(1 for q in dataset.qrels["test"] if dataset.kind(q) == "expansion")


def test_build_devsets_writes_beir_sets_without_hand_labels(tmp_path: Path) -> None:
    import importlib.util

    if not (SCIFACT / "corpus.jsonl").exists():
        pytest.skip(f"shared data not found at {SCIFACT.parent}")
    tool = Path(__file__).resolve().parents[1] / "tools" / "build_devsets.py"
    spec = importlib.util.spec_from_file_location("build_devsets", tool)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(tmp_path), "--data", str(SCIFACT.parent), "--arxiv-papers", "800"]) == 0
    for name in ("scifact-long", "arxiv-cs"):
        dataset = Dataset.load(tmp_path / name)
        assert set(dataset.qrels) == {"train", "dev", "test"}
        splits = [set(dataset.qrels[s]) for s in ("train", "dev", "test")]
        assert not (splits[0] & splits[2]) and not (splits[1] & splits[2])
    long_set = Dataset.load(tmp_path / "scifact-long")
    qid, judged = next(iter(long_set.qrels["test"].items()))
    assert long_set.kind(qid) == "long" and qid.removeprefix("long-") not in judged
    arxiv = Dataset.load(tmp_path / "arxiv-cs")
    kinds = {arxiv.kind(q) for split in arxiv.qrels.values() for q in split}
    assert {"acronym", "expansion"} <= kinds
