"""Build ``examples/``: small input files for the README's commands, so they work in any clone.

    .venv/bin/python tools/build_examples.py [--shared ../shared]

Every file is real data, cut small: arXiv metadata (CC0) from the Kaggle snapshot and the arXiv
API, one Hugging Face Daily Papers page saved as text and one ``/api/daily_papers`` answer, and
``known-item/``, a BEIR-format set made from the bundled demo corpus for ``paperfeed eval``
(each query is Hugging Face's AI summary of one paper; that paper is the one relevant answer).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DEMO = ROOT / "paperfeed" / "assets" / "demo" / "hf_daily"
KAGGLE_LINES = 20
PAGE_PAPERS = 12  # papers kept from the saved Daily Papers page
KNOWN_ITEM_QUERIES = 100
KNOWN_ITEM_CORPUS = 400


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    data = parser.parse_args().shared / "data"
    EXAMPLES.mkdir(exist_ok=True)

    with open(data / "arxiv_kaggle" / "arxiv-metadata-oai-snapshot.first200.jsonl") as lines:
        kept = [next(lines) for _ in range(KAGGLE_LINES)]
    (EXAMPLES / "arxiv-metadata.jsonl").write_text("".join(kept))
    shutil.copyfile(
        data / "arxiv_api" / "legacy_2016" / "id_list_1111.2011v2.xml",
        EXAMPLES / "arxiv-atom.xml",
    )
    shutil.copyfile(
        data / "hf_daily_papers" / "daily_papers_2024-10-25_first2.json",
        EXAMPLES / "daily_papers.json",
    )
    (EXAMPLES / "daily-papers-page.txt").write_text(_page_excerpt(data.parent / "seeds"))
    _known_item_set(EXAMPLES / "known-item")
    print(f"examples in {EXAMPLES.relative_to(ROOT)}")


def _page_excerpt(seeds: Path) -> str:
    """The header and first papers of a saved page: blocks are separated by blank lines, a
    paper being a title block followed by its abstract block."""
    text = sorted(seeds.glob("*.txt"))[-1].read_text()
    blocks = text.split("\n\n")
    start = next(i for i, block in enumerate(blocks) if block.startswith("byAK"))
    return "\n\n".join(blocks[: start + 2 + 2 * PAGE_PAPERS]) + "\n"


def _known_item_set(target: Path) -> None:
    entries = [
        entry["paper"]
        for day in sorted(DEMO.glob("*.json.gz"))
        for entry in json.loads(gzip.decompress(day.read_bytes()))
    ]
    papers = {paper["id"]: paper for paper in entries if paper.get("summary")}
    rng = random.Random(7)
    corpus = rng.sample(sorted(papers), KNOWN_ITEM_CORPUS)
    asked = [pid for pid in corpus if papers[pid].get("ai_summary")][:KNOWN_ITEM_QUERIES]
    (target / "qrels").mkdir(parents=True, exist_ok=True)
    (target / "corpus.jsonl").unlink(missing_ok=True)
    with gzip.open(target / "corpus.jsonl.gz", "wt", compresslevel=9) as out:
        for pid in corpus:
            doc = {"_id": pid, "title": papers[pid]["title"], "text": papers[pid]["summary"]}
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with open(target / "queries.jsonl", "w") as out:
        for pid in asked:
            out.write(json.dumps({"_id": f"q{pid}", "text": papers[pid]["ai_summary"]}) + "\n")
    with open(target / "qrels" / "test.tsv", "w") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"q{pid}\t{pid}\t1\n" for pid in asked)


if __name__ == "__main__":
    main()
