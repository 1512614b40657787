"""Build search dev sets without hand labels, in BEIR format, from ../shared/data.

    python tools/build_devsets.py OUT_DIR [--data ../shared/data] [--arxiv-papers 5000]

Writes two BEIR directories (corpus.jsonl, queries.jsonl, qrels/{train,dev,test}.tsv); every
query carries ``metadata.kind`` (``long``, ``acronym``, ``expansion``), which ``paperfeed
eval`` reports separately:

- ``scifact-long``: "find related work" on SciFact's corpus. A query is a paper's title and
  abstract; its relevant papers are the ones SciFact's annotators judged relevant to the same
  claim (co-cited for one statement). Pairs from the train claims are split into train and
  dev (by a hash of the query id); pairs from the test claims make the test split, which
  stays unseen while choosing anything (a paper that is a test query is no train query).
  The corpus is SciFact's (a symlink).
- ``arxiv-cs``: the first ``--arxiv-papers`` distinct papers of the daily arXiv cs listings.
  Acronyms the papers define ("large language models (LLMs)", mined with
  ``search.vocabulary.definitions``) with one dominant long form give two queries each: the
  acronym (kind ``acronym``) and its long form (kind ``expansion``); the relevant papers are
  those using either (3 to 60 of them). Papers defining a rare acronym (2 to 10 papers define
  it the same way) give ``long`` queries: the paper's title and abstract, relevant = the other
  papers defining it (they build on the same method). Split train/dev/test 2:1:1 by a hash
  (of the acronym, of the query paper).
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import hashlib
import json
import re
import sys
from pathlib import Path

from paperfeed.search.vocabulary import acronym_key, definitions, key


def _split(query_id: str, parts: tuple[str, ...]) -> str:
    digest = int(hashlib.sha1(query_id.encode()).hexdigest()[:8], 16)
    return parts[digest % len(parts)]


def _write(
    out: Path,
    queries: dict[str, tuple[str, str]],
    qrels: dict[str, dict[str, dict[str, int]]],
) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "queries.jsonl", "w", encoding="utf-8") as handle:
        for qid, (text, kind) in queries.items():
            handle.write(json.dumps({"_id": qid, "text": text, "metadata": {"kind": kind}}) + "\n")
    for split in ("train", "dev", "test"):
        with open(out / "qrels" / f"{split}.tsv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["query-id", "corpus-id", "score"])
            for qid, judged in qrels.get(split, {}).items():
                for doc, score in judged.items():
                    writer.writerow([qid, doc, score])


def _read_qrels(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = collections.defaultdict(set)
    with open(path, encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) >= 3 and row[2].isdigit() and int(row[2]) > 0:
                out[row[0]].add(row[1])
    return out


def scifact_long(data: Path, out: Path) -> str:
    source = data / "scifact"
    docs = {}
    with open(source / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            docs[str(item["_id"])] = item
    queries: dict[str, tuple[str, str]] = {}
    qrels: dict[str, dict[str, dict[str, int]]] = collections.defaultdict(dict)
    claims = {split: _read_qrels(source / "qrels" / f"{split}.tsv") for split in ("test", "train")}
    held_out = {
        doc for relevant in claims["test"].values() if len(relevant) > 1 for doc in relevant
    }
    for claims_split in ("test", "train"):
        for relevant in claims[claims_split].values():
            for doc in relevant:
                others = relevant - {doc}
                if not others or doc not in docs:
                    continue
                if claims_split == "train" and doc in held_out:
                    continue  # a test query: never seen while choosing
                qid = f"long-{doc}"
                item = docs[doc]
                queries[qid] = (f"{item['title']}\n{item['text']}", "long")
                split = "test" if claims_split == "test" else _split(qid, ("train", "dev"))
                judged = qrels[split].setdefault(qid, {})
                judged.update(dict.fromkeys(others, 1))
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.jsonl"
    if not corpus.exists():
        corpus.symlink_to((source / "corpus.jsonl").resolve())
    _write(out, queries, qrels)
    sizes = {split: len(judged) for split, judged in qrels.items()}
    return f"{out}: {len(queries)} long queries {sizes}"


def _arxiv_papers(data: Path, limit: int) -> dict[str, dict[str, str]]:
    papers: dict[str, dict[str, str]] = {}
    for day in sorted((data / "arxiv_daily_cs" / "days").glob("*.jsonl.gz")):
        with gzip.open(day, "rt", encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                title = " ".join(str(record.get("title") or "").split())
                summary = " ".join(str(record.get("summary") or "").split())
                if record.get("id") and title and summary:
                    papers.setdefault(str(record["id"]), {"title": title, "text": summary})
                if len(papers) >= limit:
                    return papers
    return papers


def arxiv_cs(data: Path, out: Path, limit: int) -> str:
    papers = _arxiv_papers(data, limit)
    defined: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    written: dict[tuple[str, str], tuple[str, str]] = {}
    definers: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for pid, paper in papers.items():
        for short, long in definitions(f"{paper['title']}. {paper['text']}"):
            pair = (acronym_key(short), key(long))
            defined[pair[0]][pair[1]] += 1
            written.setdefault(pair, (short.rstrip("s") if short[:-1].isupper() else short, long))
            definers[pair].add(pid)
    folded = {pid: f" {key(p['title'] + ' ' + p['text'])} " for pid, p in papers.items()}
    queries: dict[str, tuple[str, str]] = {}
    qrels: dict[str, dict[str, dict[str, int]]] = collections.defaultdict(dict)
    parts = ("train", "train", "dev", "test")
    for a_key, forms in sorted(defined.items()):
        e_key, count = forms.most_common(1)[0]
        total = sum(forms.values())
        if total < 2 or count < 0.8 * total or len(a_key) < 2:
            continue
        short, long = written[a_key, e_key]
        token = re.compile(rf"(?<![\w-]){re.escape(short)}s?(?![\w-])")
        relevant = {
            pid
            for pid, paper in papers.items()
            if f" {e_key} " in folded[pid] or token.search(paper["title"] + " " + paper["text"])
        }
        if not 3 <= len(relevant) <= 60:
            continue
        split = _split(f"acronym-{a_key}", parts)
        for qid, text, kind in (
            (f"acronym-{a_key}", short, "acronym"),
            (f"expansion-{a_key}", long.lower(), "expansion"),
        ):
            queries[qid] = (text, kind)
            qrels[split][qid] = dict.fromkeys(sorted(relevant), 1)
    for (a_key, e_key), pids in sorted(definers.items()):
        if not 2 <= len(pids) <= 10 or defined[a_key].most_common(1)[0][0] != e_key:
            continue
        for pid in sorted(pids):
            qid = f"long-{pid}-{a_key}"
            paper = papers[pid]
            queries[qid] = (f"{paper['title']}\n{paper['text']}", "long")
            split = _split(f"long-{pid}", parts)  # a paper's queries share one split
            qrels[split][qid] = dict.fromkeys(sorted(pids - {pid}), 1)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for pid, paper in papers.items():
            handle.write(json.dumps({"_id": pid, **paper, "metadata": {}}) + "\n")
    _write(out, queries, qrels)
    kinds = collections.Counter(kind for _, kind in queries.values())
    sizes = {split: len(judged) for split, judged in qrels.items()}
    return f"{out}: {len(papers)} papers, queries {dict(kinds)}, per split {sizes}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="directory to write the dev sets into")
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[1] / "../shared/data")
    parser.add_argument("--arxiv-papers", type=int, default=5000)
    args = parser.parse_args(argv)
    data = args.data.resolve()
    if not (data / "scifact").is_dir():
        print(f"{data} has no scifact/: point --data at the shared data", file=sys.stderr)
        return 2
    print(scifact_long(data, args.out / "scifact-long"))
    print(arxiv_cs(data, args.out / "arxiv-cs", args.arxiv_papers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
