"""Input file formats for ``paperfeed ingest``: one module per format, ``parse(path)`` -> records.

Parsers yield records and problems and never touch the database; ingest consumes what they
yield. ``FORMATS`` is the one registry the CLI and ingest look formats up in. The live services
that fetch papers over the network are in ``paperfeed.live``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from paperfeed.catalog.records import PaperRecord, ParseProblem
from paperfeed.errors import SourceError
from paperfeed.formats import arxiv_atom, arxiv_daily, beir, hf_daily, hf_page, jsonl, kaggle


@dataclass(frozen=True, slots=True)
class Format:
    """A named input format and its parser."""

    name: str
    description: str
    parse: Callable[[Path], Iterator[PaperRecord | ParseProblem]]


FORMATS: dict[str, Format] = {
    module.NAME: Format(module.NAME, module.DESCRIPTION, module.parse)
    for module in (kaggle, arxiv_atom, hf_daily, hf_page, arxiv_daily, jsonl, beir)
}


def get_format(name: str) -> Format:
    """The registered format called ``name``; a ``SourceError`` listing the known ones if none."""
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise SourceError(f"unknown source {name!r}; known: {known}") from None


__all__ = ["FORMATS", "Format", "get_format"]
