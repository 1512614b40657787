"""Hugging Face Daily Papers web pages saved as plain text (copy-paste of the page).

Layout: a few header lines (``new``, ``Subscribe``, ``Daily Papers``, ``by AK and the research
community``, maybe a ``Mar 14`` date line), then blank-line separated paragraphs alternating
title / abstract. The page carries no ids, so records have ``arxiv_id=None`` and are keyed by
their title. The date line has no year, so no listing day is invented.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from paperfeed.catalog.records import PaperRecord, ParseProblem
from paperfeed.errors import SourceError
from paperfeed.formats.common import clean_text, iter_lines

NAME = "hf-page"
DESCRIPTION = "Hugging Face Daily Papers page saved as text (title / abstract paragraphs)"

_HEADER = re.compile(
    r"new|get trending papers in your email inbox!?|subscribe|daily papers"
    r"|by ?ak and the research community"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(?:, \d{4})?",
    re.IGNORECASE,
)
# Real titles are < 200 characters and real abstracts > 1,000 in the seed pages; the
# threshold sits between them so one missing paragraph does not shift every later pair.
_MAX_TITLE_CHARS = 300


def parse(path: Path) -> Iterator[PaperRecord | ParseProblem]:
    """Records of one saved page; ``ParseProblem.line`` is the line of the paragraph at fault
    (the title, for a title without an abstract)."""
    paragraphs = _paragraphs(path)
    body = _skip_header(paragraphs)
    if body and body[0][1][:1] in {"{", "[", "<"}:
        raise SourceError(
            f"{path}: not a Daily Papers text page (line {body[0][0]} looks like JSON/HTML)"
        )
    position = 0
    while position < len(body):
        line, title = body[position]
        if len(title) > _MAX_TITLE_CHARS:
            yield ParseProblem(str(path), line, f"line {line}: abstract without a title, skipped")
            position += 1
            continue
        if position + 1 >= len(body):
            yield ParseProblem(str(path), line, f"line {line}: title without an abstract")
            return
        abstract = body[position + 1][1]
        follower = body[position + 2][1] if position + 2 < len(body) else None
        # A short "abstract" followed by a long paragraph is really the next title.
        if len(abstract) <= _MAX_TITLE_CHARS and follower and len(follower) > _MAX_TITLE_CHARS:
            yield ParseProblem(str(path), line, f"line {line}: title without an abstract")
            position += 1
            continue
        yield PaperRecord(title=title, source=NAME, abstract=abstract, line=line)
        position += 2


def _paragraphs(path: Path) -> list[tuple[int, list[str]]]:
    """(first line number, stripped lines) per blank-line separated block."""
    paragraphs: list[tuple[int, list[str]]] = []
    start = 0
    lines: list[str] = []
    for number, line in iter_lines(path):
        if line.strip():
            if not lines:
                start = number
            lines.append(line.strip())
        elif lines:
            paragraphs.append((start, lines))
            lines = []
    if lines:
        paragraphs.append((start, lines))
    return paragraphs


def _skip_header(paragraphs: list[tuple[int, list[str]]]) -> list[tuple[int, str]]:
    """Drop the page chrome at the top (line by line, in case blank lines were lost); header-like
    text later on is content. Returns (line number, text with line breaks collapsed)."""
    for index, (start, lines) in enumerate(paragraphs):
        header = 0
        while header < len(lines) and _HEADER.fullmatch(lines[header]):
            header += 1
        if header < len(lines):
            first = (start + header, clean_text(" ".join(lines[header:])))
            rest = [(line, clean_text(" ".join(block))) for line, block in paragraphs[index + 1 :]]
            # A paragraph of unprintable characters only holds nothing to keep.
            return [(line, text) for line, text in [first, *rest] if text.strip()]
    return []
