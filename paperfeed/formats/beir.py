"""BEIR-format corpora (``corpus.jsonl``: ``{"_id", "title", "text"}``), for evaluation.

Papers keep the corpus id as ``beir:<_id>`` so relevance judgements map back to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from paperfeed.catalog.records import PaperRecord, ParseProblem
from paperfeed.formats.common import clean_text, iter_json_lines

NAME = "beir"
DESCRIPTION = "BEIR benchmark corpus.jsonl ({_id, title, text}), used by `paperfeed eval`"
ID_PREFIX = "beir:"


def parse(path: Path) -> Iterator[PaperRecord | ParseProblem]:
    for number, item in iter_json_lines(path):
        if isinstance(item, ParseProblem):
            yield item
            continue
        doc_id = item.get("_id")
        if isinstance(doc_id, bool) or not isinstance(doc_id, str | int) or str(doc_id) == "":
            yield ParseProblem(str(path), number, f"line {number}: no _id")
            continue
        title, text = clean_text(item.get("title")), clean_text(item.get("text"))
        if not title and not text:
            yield ParseProblem(str(path), number, f"line {number}: neither title nor text")
            continue
        yield PaperRecord(
            title=title or text[:120],
            abstract=text,
            source=NAME,
            doc_id=f"{ID_PREFIX}{doc_id}",
            line=number,
        )
