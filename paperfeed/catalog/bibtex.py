"""BibTeX for papers (the library export and each paper page's "cite" link)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from paperfeed.db import Paper

_SPECIAL = str.maketrans({c: "\\" + c for c in "&%$#_"})


def to_bibtex(papers: Iterable[Paper]) -> str:
    """One ``@misc`` entry per paper (arXiv's own style), keys made unique within the file."""
    seen: dict[str, int] = {}
    entries = []
    for paper in papers:
        key = _key(paper)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}{chr(ord('a') + seen[key] - 2)}"
        entries.append(_entry(paper, key))
    return "\n".join(entries)


def _entry(paper: Paper, key: str) -> str:
    fields: list[tuple[str, str]] = [
        ("title", "{" + _escape(paper.title) + "}"),
        ("author", " and ".join(_escape(a) for a in paper.authors) or "Unknown"),
    ]
    if paper.published:
        fields.append(("year", str(paper.published.year)))
    if paper.id and not paper.id.startswith("title:"):
        fields += [("eprint", paper.id), ("archivePrefix", "arXiv")]
        if paper.primary_category:
            fields.append(("primaryClass", paper.primary_category))
    if paper.doi:
        fields.append(("doi", paper.doi))
    url = paper.abs_url or (f"https://arxiv.org/abs/{paper.id}" if paper.id[:1].isdigit() else "")
    if url:
        fields.append(("url", url))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def _key(paper: Paper) -> str:
    surname = paper.authors[0].split()[-1] if paper.authors else "anon"
    year = str(paper.published.year) if paper.published else ""
    word = next((w for w in re.findall(r"[A-Za-z]+", paper.title) if len(w) > 3), "paper")
    raw = f"{surname}{year}{word}".lower()
    ascii_only = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_only) or "paper"


def _escape(text: str) -> str:
    return " ".join(text.split()).translate(_SPECIAL)
