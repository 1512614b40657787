"""Find related work: a pasted title and abstract (or a draft) as the search query.

A query longer than ``LONG_QUERY_CHARS`` characters or ``LONG_QUERY_WORDS`` words is not
read as the query language but as a paper: the embedding model gets the whole text (it reads
the first ``embed.MAX_LENGTH`` word pieces), and BM25 gets the text's key terms, not a
300-word OR. Key terms are the text's words scored by tf·idf against the corpus (document
frequencies from the search backend); each is passed to the lexical backend repeated by its
frequency in the text (at most ``MAX_TERM_WEIGHT``), which both backends read as a query-term
weight (tantivy sums one clause per repetition, PostgreSQL counts the lexeme's positions).

The query paper itself, when it is in the collection (cosine above ``SAME_PAPER_COSINE``, its
title opens the pasted text, or the opening of its abstract is in it), is reported as
``this_paper``, not as a result.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from paperfeed.bounds import MAX_RELATED_QUERY_LENGTH, clean_text
from paperfeed.db import Paper
from paperfeed.errors import QueryError
from paperfeed.search.index.lexical import SCORING_ANALYZER
from paperfeed.search.query import ParsedQuery

if TYPE_CHECKING:
    from paperfeed.search.backend import SearchBackend
    from paperfeed.workspace import Workspace

# A query is "find related work" above either threshold. Keyword and question queries are
# short: SciFact's claims run 12-30 words (at most 204 characters); an abstract runs 150-300.
LONG_QUERY_CHARS = 300
LONG_QUERY_WORDS = 40
KEY_TERMS = 25  # terms BM25 gets from a long query (chosen on the long-query train split)
CANDIDATE_TERMS = 80  # most frequent, then longest, words whose document frequency is looked up
MAX_TERM_WEIGHT = 3  # a word repeated in the text counts up to this many times
SAME_PAPER_COSINE = 0.97  # above it, a candidate is the pasted paper itself
SAME_PAPER_CANDIDATES = 5  # how many of the best candidates are checked for being it
_MIN_TITLE = 12  # characters: shorter titles ("Introduction") are not taken as the paper's
_ABSTRACT_OPENING = 200  # characters of an abstract that, found in the text, name the paper
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


def is_long(raw: str) -> bool:
    """Whether ``raw`` is read as a paper ("find related work") rather than the query language."""
    text = raw.strip()
    return len(text) > LONG_QUERY_CHARS or len(text.split()) > LONG_QUERY_WORDS


@dataclass
class RelatedQuery:
    """A long query, prepared: the text to embed and the weighted terms for BM25."""

    text: str  # the whole text, whitespace collapsed: what the embedding model reads
    terms: list[tuple[str, int]] = field(default_factory=list)  # (word, weight), best first

    @property
    def parsed(self) -> ParsedQuery:
        """The lexical backends' input: each key term repeated by its weight."""
        return ParsedQuery(terms=[word for word, weight in self.terms for _ in range(weight)])

    def as_dict(self) -> dict[str, object]:
        return {"key_terms": [{"term": w, "weight": n} for w, n in self.terms]}


def prepare(backend: SearchBackend, raw: str, key_terms: int = KEY_TERMS) -> RelatedQuery:
    """``raw`` as a related-work query; ``QueryError`` above ``MAX_RELATED_QUERY_LENGTH``."""
    if len(raw) > MAX_RELATED_QUERY_LENGTH:
        raise QueryError(
            f"query is too long ({len(raw):,} characters; at most "
            f"{MAX_RELATED_QUERY_LENGTH:,}): paste the title and abstract, not the whole paper"
        )
    text = " ".join(clean_text(raw).split())
    return RelatedQuery(text, weighted_terms(backend, text, key_terms))


def weighted_terms(backend: SearchBackend, text: str, k: int) -> list[tuple[str, int]]:
    """The ``k`` words of ``text`` with the highest tf·idf in the collection, with weights.

    Words are grouped by their stem (so "models" and "model" count together) and each group
    is represented by its most frequent spelling, which every backend analyses its own way.
    """
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for word in _WORD.findall(text):
        for stem in SCORING_ANALYZER.analyze(word):
            if len(stem) < 2 or stem.isdigit():
                continue
            counts[stem] += 1
            spellings.setdefault(stem, Counter())[word.lower()] += 1
    if not counts:
        return []
    candidates = sorted(counts, key=lambda s: (-counts[s], -len(s), s))[:CANDIDATE_TERMS]
    n = max(backend.counts().papers, 1)
    scored: list[tuple[float, str, int]] = []
    for stem in candidates:
        word = spellings[stem].most_common(1)[0][0]
        df = document_frequency(backend, word)
        if df == 0:
            continue  # no paper has it: it cannot find anything
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        scored.append((counts[stem] * idf, word, min(counts[stem], MAX_TERM_WEIGHT)))
    scored.sort(key=lambda item: (-item[0], item[1]))
    chosen: dict[str, int] = {}  # a hyphenated word stands for each of its stems: once
    for _, word, weight in scored:
        if len(chosen) == k:
            break
        chosen.setdefault(word, weight)
    return list(chosen.items())


def document_frequency(backend: SearchBackend, word: str) -> int:
    """How many papers hold ``word`` in the title or abstract (a filters-only count)."""
    if not word.replace("-", "").replace("'", "").isalnum():
        return 0
    _, total = backend.browse(ParsedQuery(phrases=[word]), 1, 0)
    return total


def normalised_title(title: str) -> str:
    """A title for comparison: accents, case, punctuation and spacing ignored."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_WORD.findall(text.lower()))


def find_this_paper(
    workspace: Workspace, query: RelatedQuery, best: list[tuple[int, float | None]]
) -> int | None:
    """The pk among ``best`` (pk and cosine, best first) that is the pasted paper itself."""
    best = best[:SAME_PAPER_CANDIDATES]
    for pk, similarity in best:
        if similarity is not None and similarity >= SAME_PAPER_COSINE:
            return pk
    if not best:
        return None
    pasted = normalised_title(query.text)
    with workspace.db.reading() as session:
        rows = session.execute(
            select(Paper.pk, Paper.title, Paper.abstract).where(
                Paper.pk.in_([pk for pk, _ in best])
            )
        )
        texts = {pk: (title, abstract) for pk, title, abstract in rows}
    for pk, _ in best:
        title, abstract = texts.get(pk) or ("", "")
        title = normalised_title(title)
        if len(title) >= _MIN_TITLE and (pasted == title or pasted.startswith(title + " ")):
            return pk
        opening = normalised_title(abstract or "")[:_ABSTRACT_OPENING]
        if len(opening) >= _ABSTRACT_OPENING and opening in pasted:
            return pk  # its abstract pasted (perhaps without the title)
    return None
