"""Search-quality evaluation on BEIR-format benchmarks, through the normal product path.

The corpus is ingested with the ``beir`` source, indexed by ``Indexes.sync`` and every query
goes through ``search.search`` exactly as a user's would; only the scoring is added here.
Metrics follow the usual trec_eval definitions: nDCG@10 with graded gains ``rel`` and a
``log2(rank + 1)`` discount, Recall@100 over the judged-relevant documents, MRR@10.

Each ranker's figures are also broken down by query kind (``query_kind``): a kind a query
carries in its BEIR ``metadata.kind`` (tools/build_devsets.py sets them), else one guessed
from its text: ``long`` (a pasted abstract), ``acronym``, ``question`` (a sentence) or
``keyword``.
"""

from __future__ import annotations

import csv
import json
import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from paperfeed.bounds import MAX_QUERY_LENGTH
from paperfeed.catalog.ingest import ingest_files
from paperfeed.db import Paper
from paperfeed.errors import QueryError, SourceError
from paperfeed.formats import get_format
from paperfeed.formats.beir import ID_PREFIX
from paperfeed.progress import Progress
from paperfeed.search import Mode, SearchConfig, embed, related, search
from paperfeed.search.catchup import catch_up
from paperfeed.search.vocabulary import looks_like_acronym
from paperfeed.workspace import Workspace

Qrels = dict[str, dict[str, int]]  # query id -> {doc id -> relevance}

# Ranker name -> the search mode and ranking knobs it runs with. "hybrid" is the product
# default; "hybrid-rrf" is plain reciprocal rank fusion (k=60), the naive baseline;
# "hybrid-vocab" expands queries with the collection's acronyms (search.vocabulary);
# "hybrid-plain" is the hybrid without the collection's vocabulary and with a long query read
# as the query language (cut to ``MAX_QUERY_LENGTH``, every word ORed): the search before
# ``search.related`` and ``search.vocabulary``.
RANKERS: dict[str, tuple[Mode, SearchConfig]] = {
    "lexical": ("lexical", SearchConfig()),
    "dense": ("dense", SearchConfig()),
    "hybrid-rrf": ("hybrid", SearchConfig(fusion="rrf")),
    "hybrid": ("hybrid", SearchConfig()),
    "hybrid-vocab": ("hybrid", SearchConfig(expand_acronyms=True)),
    "hybrid-plain": ("hybrid", SearchConfig(related=False, expand_acronyms=False)),
}
KINDS = ("keyword", "question", "acronym", "expansion", "long")
_QUESTION_WORDS = 6  # a query of this many words or more reads as a sentence


def query_kind(text: str) -> str:
    """The kind of a query, guessed from its text (see the module docstring)."""
    if related.is_long(text):
        return "long"
    words = text.split()
    if any(looks_like_acronym(w.strip(",.;:?!()")) for w in words):
        return "acronym"
    if text.rstrip().endswith("?") or len(words) >= _QUESTION_WORDS:
        return "question"
    return "keyword"


@dataclass
class Dataset:
    name: str
    corpus: Path
    queries: dict[str, str]
    qrels: dict[str, Qrels]  # split name -> judgements
    kinds: dict[str, str] = field(default_factory=dict)  # query id -> kind, when the set says

    @classmethod
    def load(cls, directory: Path) -> Dataset:
        """Read a BEIR directory; a clear ``SourceError`` for anything missing."""
        corpus, queries = directory / "corpus.jsonl", directory / "queries.jsonl"
        if not corpus.exists() and (directory / "corpus.jsonl.gz").exists():
            corpus = directory / "corpus.jsonl.gz"
        for needed in (corpus, queries, directory / "qrels" / "test.tsv"):
            if not needed.exists():
                raise SourceError(f"{directory} is not a BEIR dataset: {needed.name} is missing")
        texts: dict[str, str] = {}
        kinds: dict[str, str] = {}
        with open(queries, encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    item = json.loads(line)
                    texts[str(item["_id"])] = str(item["text"])
                    kind = (item.get("metadata") or {}).get("kind")
                    if kind:
                        kinds[str(item["_id"])] = str(kind)
        qrels = {
            split.stem: _read_qrels(split) for split in sorted((directory / "qrels").glob("*.tsv"))
        }
        return cls(directory.name, corpus, texts, qrels, kinds)

    def kind(self, query_id: str) -> str:
        return self.kinds.get(query_id) or query_kind(self.queries[query_id])


def _read_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    with open(path, encoding="utf-8") as handle:
        rows = csv.reader(handle, delimiter="\t")
        for row in rows:
            if len(row) < 3 or not row[2].lstrip("-").isdigit():
                continue  # the header, or a blank line
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


@dataclass
class RankerResult:
    ranker: str
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    p50_ms: float
    queries: int
    # kind -> {"ndcg_at_10", "recall_at_100", "mrr_at_10", "queries"}
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)


def ndcg_at_10(ranked: Sequence[str], judged: dict[str, int]) -> float:
    gains = [judged.get(doc, 0) for doc in ranked[:10]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_100(ranked: Sequence[str], judged: dict[str, int]) -> float:
    relevant = {doc for doc, g in judged.items() if g > 0}
    return len(relevant.intersection(ranked[:100])) / len(relevant) if relevant else 0.0


def mrr_at_10(ranked: Sequence[str], judged: dict[str, int]) -> float:
    for i, doc in enumerate(ranked[:10], 1):
        if judged.get(doc, 0) > 0:
            return 1.0 / i
    return 0.0


def prepare(dataset: Dataset, workspace: Workspace, progress: Progress | None = None) -> None:
    """Ingest and index the corpus (idempotent: a kept workspace is reused as it is)."""
    report = ingest_files(workspace.db, get_format("beir"), [dataset.corpus], batch_size=2000)
    if report.problems:
        raise SourceError(
            f"{dataset.corpus}: {len(report.problems)} bad records, first: {report.problems[0]}"
        )
    catch_up(workspace, progress)


def evaluate(
    workspace: Workspace,
    dataset: Dataset,
    split: str = "test",
    rankers: Sequence[str] = ("lexical", "dense", "hybrid"),
    limit_queries: int | None = None,
    progress: Progress | None = None,
    configs: dict[str, tuple[Mode, SearchConfig]] | None = None,
    kinds: Sequence[str] | None = None,
) -> list[RankerResult]:
    """Run every judged query of ``split`` through ``search`` per ranker; score the runs.

    ``configs`` adds rankers (name -> mode and knobs) to ``RANKERS``, for tuning; ``kinds``
    keeps only the queries of those kinds.
    """
    if split not in dataset.qrels:
        known = ", ".join(sorted(dataset.qrels))
        raise SourceError(f"{dataset.name} has no qrels/{split}.tsv (it has: {known})")
    qrels = dataset.qrels[split]
    query_ids = [q for q in qrels if q in dataset.queries]
    if kinds is not None:
        query_ids = [q for q in query_ids if dataset.kind(q) in kinds]
    query_ids = query_ids[:limit_queries]
    available = {**RANKERS, **(configs or {})}
    results = []
    for ranker in rankers:
        mode, config = available[ranker]
        scores: list[tuple[float, float, float]] = []
        timings: list[float] = []
        for qid in query_ids:
            started = time.perf_counter()
            text = dataset.queries[qid]
            if not config.related:
                text = text[:MAX_QUERY_LENGTH]  # the query language's own limit
            try:
                hits = search(workspace, text, limit=100, mode=mode, config=config).hits
            except QueryError:
                hits = []  # e.g. a query of punctuation only: nothing found, scored as such
            timings.append(time.perf_counter() - started)
            ranked = [h.paper.id.removeprefix(ID_PREFIX) for h in hits]
            judged = qrels[qid]
            scores.append(
                (
                    ndcg_at_10(ranked, judged),
                    recall_at_100(ranked, judged),
                    mrr_at_10(ranked, judged),
                )
            )
            if progress:
                progress("queries", 1, len(query_ids) * len(rankers))
        n = max(len(scores), 1)
        per_kind: dict[str, list[tuple[float, float, float]]] = {}
        for qid, score in zip(query_ids, scores, strict=True):
            per_kind.setdefault(dataset.kind(qid), []).append(score)
        results.append(
            RankerResult(
                ranker=ranker,
                ndcg_at_10=sum(s[0] for s in scores) / n,
                recall_at_100=sum(s[1] for s in scores) / n,
                mrr_at_10=sum(s[2] for s in scores) / n,
                p50_ms=statistics.median(timings) * 1000 if timings else 0.0,
                queries=len(scores),
                by_kind={
                    kind: {
                        "ndcg_at_10": sum(s[0] for s in kind_scores) / len(kind_scores),
                        "recall_at_100": sum(s[1] for s in kind_scores) / len(kind_scores),
                        "mrr_at_10": sum(s[2] for s in kind_scores) / len(kind_scores),
                        "queries": len(kind_scores),
                    }
                    for kind, kind_scores in sorted(
                        per_kind.items(), key=lambda item: _kind_order(item[0])
                    )
                },
            )
        )
    return results


def _kind_order(kind: str) -> tuple[int, str]:
    return (KINDS.index(kind) if kind in KINDS else len(KINDS), kind)


def as_json(dataset: Dataset, split: str, results: list[RankerResult]) -> dict[str, object]:
    return {"dataset": dataset.name, "split": split, "rankers": [asdict(r) for r in results]}


@dataclass
class Similarities:
    """Cosines of queries with their judged-relevant documents and with random ones."""

    relevant: list[float]
    random: list[float]

    def share_above(self, floor: float) -> tuple[float, float]:
        """The share of relevant and of random pairs whose cosine reaches ``floor``."""
        return (
            sum(s >= floor for s in self.relevant) / max(len(self.relevant), 1),
            sum(s >= floor for s in self.random) / max(len(self.random), 1),
        )


def similarities(
    workspace: Workspace,
    dataset: Dataset,
    split: str = "train",
    random_per_query: int = 20,
    seed: int = 0,
) -> Similarities:
    """The cosine distribution that ``SearchConfig.dense_floor`` is chosen from: every judged
    relevant (query, document) pair of ``split``, and ``random_per_query`` random documents
    per query, scored with the product's query embedder and stored document vectors."""
    if split not in dataset.qrels:
        raise SourceError(f"{dataset.name} has no qrels/{split}.tsv")
    qrels = dataset.qrels[split]
    with workspace.db.reading() as session:
        pks = {
            paper_id.removeprefix(ID_PREFIX): pk
            for pk, paper_id in session.execute(select(Paper.pk, Paper.id)).tuples()
        }
    backend = workspace.indexes
    backend.refresh()
    everyone = sorted(pks.values())
    chance = random.Random(seed)
    relevant: list[float] = []
    unrelated: list[float] = []
    embedder = embed.get_query_embedder()
    for qid, judged in qrels.items():
        if qid not in dataset.queries:
            continue
        query = np.asarray(embedder.embed_query(dataset.queries[qid]), dtype=np.float32)

        def cosine(pk: int, query: np.ndarray = query) -> float | None:
            vector = backend.vector(pk)
            return None if vector is None else float(vector @ query)

        for doc, gain in judged.items():
            if gain > 0 and doc in pks and (c := cosine(pks[doc])) is not None:
                relevant.append(c)
        for pk in chance.sample(everyone, min(random_per_query, len(everyone))):
            if (c := cosine(pk)) is not None:
                unrelated.append(c)
    return Similarities(relevant, unrelated)
