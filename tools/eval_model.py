"""Evaluate another embedding model through the product's own search path (experiment driver).

``paperfeed eval`` always uses the shipped model. This driver runs the *same* code
(``paperfeed.search.eval.prepare`` -> ``beir`` ingest + ``Indexes.sync``, then
``paperfeed.search.eval.evaluate`` -> ``paperfeed.search.search`` for every query) with
``paperfeed.search.embed``'s embedders pointed at ``--model-dir`` and, for a non-shipped model,
a distinct ``MODEL_ID`` (by default ``exp/<sha256 of model.onnx, 12 hex>``), so its vectors can
never be mixed with shipped ones.
Use a separate ``--workdir`` per model; the driver refuses a work dir whose index was built
for another model id (opening it would wipe that index).

    # SciFact dev claims (the 20% of train query ids NOT used by tools/finetune_model.py,
    # same function and seed), dense-weight grid of the convex fusion:
    .venv/bin/python tools/eval_model.py scifact ../shared/data/scifact --split dev \\
        --model-dir /tmp/ft-model --workdir /tmp/scifact-ft-work --out /tmp/ft-exp/ft-dev.json
    # once, at the end: the test split at chosen weights
    .venv/bin/python tools/eval_model.py scifact ../shared/data/scifact --split test \\
        --weights 0.5 --model-dir /tmp/ft-model --workdir /tmp/scifact-ft-work --out ...
    # paired comparison of two saved runs (per-query differences, 95% normal interval)
    .venv/bin/python tools/eval_model.py compare A.json:hybrid@0.50 B.json:hybrid@0.55
    # general check with no SciFact: arXiv title -> abstract retrieval (finetune_model's set)
    .venv/bin/python tools/eval_model.py arxiv --model-dir paperfeed/assets/model /tmp/ft-model

Rankers: ``lexical``, ``dense`` and ``hybrid@W`` = ``SearchConfig(dense_weight=W)`` (all other
knobs at the product defaults: convex fusion, title bonus 0.25, 100 candidates). Only the
dense weight varies. Per-query nDCG@10 / Recall@100 / MRR@10 are recorded by wrapping
``paperfeed.search.eval``'s metric functions (same functions, same order), for paired intervals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from finetune_model import DEFAULT_ARXIV, load_arxiv, split_train_queries  # noqa: E402

from paperfeed.search import embed  # noqa: E402

SHIPPED_MODEL_ID = embed.MODEL_ID
DEV_FRACTION, SPLIT_SEED = 0.2, 13  # as tools/finetune_model.py (split_train_queries(.., 0.2, 13))
DEFAULT_WEIGHTS = [round(0.3 + 0.05 * i, 2) for i in range(9)]  # 0.30 .. 0.70


def log(msg: str) -> None:
    print(f"[eval-model] {msg}", file=sys.stderr, flush=True)


def code_fingerprint() -> str:
    """sha1 over paperfeed/**/*.py as imported now (the tree is edited by others meanwhile)."""
    digest = hashlib.sha1()
    for path in sorted((REPO / "paperfeed").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def use_model(model_dir: Path, model_id: str | None, threads: int) -> str:
    """Point paperfeed.search.embed at ``model_dir``; return the model id its vectors are under."""
    shipped = model_dir.resolve() == embed.DEFAULT_MODEL_DIR.resolve()
    sha = embed.file_sha256(model_dir / "model.onnx")
    if shipped and model_id in (None, SHIPPED_MODEL_ID):
        log(f"shipped model, MODEL_ID {SHIPPED_MODEL_ID} (product embedders, not patched)")
        return SHIPPED_MODEL_ID
    model_id = model_id or f"exp/{sha[:12]}"
    if model_id == SHIPPED_MODEL_ID:
        raise SystemExit("a non-shipped model needs its own --model-id")
    corpus_embedder = embed.Embedder(model_dir, threads=threads)
    try:  # as get_query_embedder in the current tree: one thread, no spinning
        query_embedder = embed.Embedder(model_dir, threads=1, spin=False)  # type: ignore[call-arg]
    except TypeError:
        query_embedder = embed.Embedder(model_dir, threads=1)
    embed.MODEL_ID = model_id
    embed.get_embedder = lambda: corpus_embedder  # type: ignore[assignment]
    embed.get_query_embedder = lambda: query_embedder  # type: ignore[assignment,attr-defined]
    log(f"model {model_dir} (sha256 {sha[:12]}), MODEL_ID patched to {model_id!r}")
    return model_id


def check_workdir(workdir: Path, model_id: str) -> None:
    state_file = workdir / "index" / "state.json"
    if state_file.is_file():
        built_for = json.loads(state_file.read_text()).get("model")
        if built_for != model_id:
            raise SystemExit(
                f"{workdir} holds an index for {built_for!r}, not {model_id!r}: use another "
                "--workdir (opening it would wipe that index)"
            )


def parse_weights(text: str | None) -> list[float]:
    if not text:
        return DEFAULT_WEIGHTS
    return [round(float(w), 4) for w in text.split(",") if w.strip()]


def run_scifact(args: argparse.Namespace) -> None:
    model_id = use_model(args.model_dir, args.model_id, args.threads)
    check_workdir(args.workdir, model_id)

    from sqlalchemy import func, select

    from paperfeed.config import Settings
    from paperfeed.db import Embedding, Paper
    from paperfeed.search import SearchConfig
    from paperfeed.search import eval as pf_eval
    from paperfeed.workspace import Workspace

    dataset = pf_eval.Dataset.load(args.dataset)
    if args.split in ("dev", "fit"):
        train = dataset.qrels["train"]
        fit, dev = split_train_queries(train, DEV_FRACTION, SPLIT_SEED)
        chosen = dev if args.split == "dev" else fit
        dataset.qrels[args.split] = {q: train[q] for q in chosen}
        log(f"train split by query id (seed {SPLIT_SEED}): {len(fit)} fit / {len(dev)} dev")
    weights = parse_weights(args.weights)
    rankers = ["lexical", "dense"] if args.base_rankers else []
    for w in weights:
        name = f"hybrid@{w:.2f}"
        pf_eval.RANKERS[name] = ("hybrid", SearchConfig(dense_weight=w))
        rankers.append(name)

    # Record per-query values: evaluate() calls these module globals once per (ranker, query),
    # rankers outer, queries inner, in qrels order.
    recorded: dict[str, list[float]] = {"ndcg_at_10": [], "recall_at_100": [], "mrr_at_10": []}
    for metric in recorded:
        original = getattr(pf_eval, metric)

        def wrapper(ranked, judged, _f=original, _out=recorded[metric]):  # type: ignore[no-untyped-def]
            value = _f(ranked, judged)
            _out.append(value)
            return value

        setattr(pf_eval, metric, wrapper)

    workspace = Workspace.create(Settings(data_dir=args.workdir))
    started = time.perf_counter()
    stages: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        stages[stage] = stages.get(stage, 0) + done
        if stage == "embed" and (stages[stage] % 1024 < done or stages[stage] == total):
            log(f"  embed {stages[stage]}/{total} ({time.perf_counter() - started:.0f}s)")

    pf_eval.prepare(dataset, workspace, progress)
    log(f"prepared {args.workdir} in {time.perf_counter() - started:.0f}s: {stages}")
    with workspace.db.session() as session:
        by_model = dict(
            session.execute(select(Embedding.model, func.count()).group_by(Embedding.model)).all()
        )
        papers = session.scalar(select(func.count()).select_from(Paper))
    log(f"papers {papers}; stored vectors by model id: {by_model}")
    if by_model != {model_id: papers}:
        raise SystemExit(f"vectors are not all from {model_id!r}: {by_model}")

    qrels = dataset.qrels[args.split]
    query_ids = [q for q in qrels if q in dataset.queries]
    started = time.perf_counter()
    results = pf_eval.evaluate(workspace, dataset, args.split, rankers)
    log(
        f"{len(query_ids)} queries x {len(rankers)} rankers in {time.perf_counter() - started:.0f}s"
    )
    n = len(query_ids)
    per_query = {
        r.ranker: {
            m: dict(zip(query_ids, recorded[m][i * n : (i + 1) * n], strict=True)) for m in recorded
        }
        for i, r in enumerate(results)
    }
    for r in results:  # the recorded values must give evaluate()'s own means
        assert abs(sum(per_query[r.ranker]["ndcg_at_10"].values()) / n - r.ndcg_at_10) < 1e-9
    report = {
        "dataset": dataset.name,
        "split": args.split,
        "queries": n,
        "model_dir": str(args.model_dir.resolve()),
        "model_sha256": embed.file_sha256(args.model_dir / "model.onnx"),
        "model_id": model_id,
        "workdir": str(args.workdir),
        "code_fingerprint": code_fingerprint(),
        "rankers": [vars(r) for r in results],
        "per_query": per_query,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report), encoding="utf-8")
    print(f"{dataset.name} {args.split}, {n} queries, model {args.model_dir} ({model_id})")
    print("| ranker | nDCG@10 | Recall@100 | MRR@10 | p50 ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r.ranker} | {r.ndcg_at_10:.4f} | {r.recall_at_100:.4f} | {r.mrr_at_10:.4f} "
            f"| {r.p50_ms:.1f} |"
        )
    workspace.db.engine.dispose()


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of b - a and the half-width of its 95% normal interval."""
    d = [y - x for x, y in zip(a, b, strict=True)]
    m = sum(d) / len(d)
    var = sum((x - m) ** 2 for x in d) / max(len(d) - 1, 1)
    return m, 1.96 * math.sqrt(var / len(d))


def run_compare(args: argparse.Namespace) -> None:
    def load(spec: str) -> tuple[str, dict]:
        path, ranker = spec.rsplit(":", 1)
        return spec, json.loads(Path(path).read_text())["per_query"][ranker]

    (name_a, a), (name_b, b) = load(args.a), load(args.b)
    for metric in ("ndcg_at_10", "recall_at_100", "mrr_at_10"):
        qids = sorted(a[metric])
        if sorted(b[metric]) != qids:
            raise SystemExit("the two runs are over different queries")
        m, ci = paired([a[metric][q] for q in qids], [b[metric][q] for q in qids])
        print(f"{metric}: {name_b} - {name_a} = {m:+.4f} ± {ci:.4f} (95%, {len(qids)} queries)")


def run_arxiv(args: argparse.Namespace) -> None:
    """Title i should find abstract i among the held-out abstracts (finetune_model's check)."""
    import numpy as np

    _, heldout = load_arxiv(args.arxiv, args.split_day, 1000, args.n, SPLIT_SEED)
    titles, abstracts = [t for t, _ in heldout], [a for _, a in heldout]
    log(f"{len(heldout)} arXiv papers first listed on/after {args.split_day}")
    scores = {}
    for model_dir in args.model_dirs:
        embedder = embed.Embedder(model_dir, threads=args.threads)
        t = embedder.embed(titles)
        a = embedder.embed(abstracts)
        sims = t @ a.T
        ranks = (sims > np.diag(sims)[:, None]).sum(1) + 1
        rr = np.where(ranks <= 10, 1.0 / ranks, 0.0)
        scores[str(model_dir)] = rr
        print(
            f"{model_dir}: MRR@10 {rr.mean():.4f}  R@10 {(ranks <= 10).mean():.4f}  "
            f"R@1 {(ranks == 1).mean():.4f}  (n={len(ranks)})"
        )
    names = list(scores)
    for other in names[1:]:
        m, ci = paired(list(scores[names[0]]), list(scores[other]))
        print(f"MRR@10 {other} - {names[0]} = {m:+.4f} ± {ci:.4f} (95%)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scifact", help="ingest, index and evaluate a BEIR dataset")
    s.add_argument("dataset", type=Path)
    s.add_argument("--split", default="dev", help="dev / fit (of train, seed 13), train, test")
    s.add_argument("--model-dir", type=Path, default=embed.DEFAULT_MODEL_DIR)
    s.add_argument("--model-id", help="default: shipped id for the shipped dir, else exp/<sha>")
    s.add_argument("--workdir", type=Path, required=True)
    s.add_argument("--weights", help="comma-separated dense weights (default 0.30..0.70 by 0.05)")
    s.add_argument(
        "--no-base-rankers",
        dest="base_rankers",
        action="store_false",
        help="skip the lexical and dense rankers",
    )
    s.add_argument("--threads", type=int, default=2, help="threads for corpus embedding")
    s.add_argument("--out", type=Path, help="write the results (with per-query values) here")
    c = sub.add_parser("compare", help="paired difference of two saved runs: FILE:RANKER x2")
    c.add_argument("a")
    c.add_argument("b")
    a = sub.add_parser("arxiv", help="arXiv title -> abstract MRR@10 for model dirs")
    a.add_argument("--model-dir", dest="model_dirs", type=Path, nargs="+", required=True)
    a.add_argument("--arxiv", type=Path, default=DEFAULT_ARXIV)
    a.add_argument("--split-day", default="2026-06-15")
    a.add_argument("--n", type=int, default=1000)
    a.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    {"scifact": run_scifact, "compare": run_compare, "arxiv": run_arxiv}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
