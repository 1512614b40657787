"""Source adapters: one module per input format, each ``parse(path)`` -> records/problems.

Adapters never touch the database; ingest consumes what they yield. ``SOURCES`` is the one
registry the CLI and ingest look formats up in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from paperfeed.errors import SourceError
from paperfeed.records import PaperRecord, ParseProblem
from paperfeed.sources import arxiv_atom, arxiv_daily, beir, hf_daily, hf_page, jsonl, kaggle


@dataclass(frozen=True, slots=True)
class Source:
    """A named input format and its parser."""

    name: str
    description: str
    parse: Callable[[Path], Iterator[PaperRecord | ParseProblem]]


SOURCES: dict[str, Source] = {
    module.NAME: Source(module.NAME, module.DESCRIPTION, module.parse)
    for module in (kaggle, arxiv_atom, hf_daily, hf_page, arxiv_daily, jsonl, beir)
}


def get_source(name: str) -> Source:
    """The registered source called ``name``; a ``SourceError`` listing the known ones if none."""
    try:
        return SOURCES[name]
    except KeyError:
        known = ", ".join(sorted(SOURCES))
        raise SourceError(f"unknown source {name!r}; known: {known}") from None


__all__ = ["SOURCES", "Source", "get_source"]
