"""Query-term highlighting for result lists: the best snippet of a text, matches in ``<mark>``.

Words match the way search matches them (the index's own analyzer: lower-cased, stemmed,
stopwords ignored), so "embeddings" in the query marks "embedding" in the abstract.
"""

from __future__ import annotations

import functools
import re
from itertools import compress

import numpy as np
from markupsafe import Markup, escape

from paperfeed.index.lexical import SCORING_ANALYZER
from paperfeed.query import ParsedQuery

_SPLIT = re.compile(r"(\w+(?:[-']\w+)*)")  # a capturing group: split keeps the words


def query_tokens(query: ParsedQuery) -> frozenset[str]:
    """The analysed tokens of a query's words and phrases (what the index scores on)."""
    return frozenset(
        token for text in [*query.terms, *query.phrases] for token in SCORING_ANALYZER.analyze(text)
    )


def highlight(text: str, tokens: frozenset[str], max_words: int | None = None) -> Markup:
    """``text`` HTML-escaped with matching words in ``<mark>``.

    With ``max_words``, a long text is cut to the window of that many words holding the most
    matches (ties: the earliest), with "…" where text was left out.
    """
    # parts = [gap, word, gap, word, …, gap]: word i is parts[2 * i + 1]. One C-level split
    # instead of a match object per word; each distinct word is analysed once (cached).
    parts = _SPLIT.split(text)
    words = parts[1::2]
    n = len(words)
    if not n:
        return Markup(escape(text))
    matched = {w for w in set(words) if not tokens.isdisjoint(_analyzed(w))} if tokens else set()
    first, last = 0, n
    if max_words is not None and n > max_words:
        first = _best_window(words, matched, max_words) if matched else 0
        last = first + max_words
    begin = 0 if first == 0 else 2 * first + 1  # index into parts
    end = len(parts) if last >= n else 2 * last
    out: list[str] = ["… " if begin > 0 else ""]
    cursor = begin
    if matched:
        window = words[first:last]
        for i in compress(range(first, last), map(matched.__contains__, window)):
            out.append(str(escape("".join(parts[cursor : 2 * i + 1]))))
            out.append(f"<mark>{escape(parts[2 * i + 1])}</mark>")
            cursor = 2 * i + 2
    out.append(str(escape("".join(parts[cursor:end]))))
    if end < len(parts):
        out.append(" …")
    return Markup("".join(out))


@functools.lru_cache(maxsize=1 << 16)
def _analyzed(word: str) -> tuple[str, ...]:
    """A word's tokens; cached, as result pages analyse the same words over and over."""
    return tuple(SCORING_ANALYZER.analyze(word))


def _best_window(words: list[str], matched: set[str], size: int) -> int:
    """Start of the ``size``-word window with the most matched words (ties: the earliest)."""
    hits = np.fromiter(map(matched.__contains__, words), dtype=np.int32, count=len(words))
    cumulative = np.concatenate(([0], np.cumsum(hits)))
    counts = cumulative[size:] - cumulative[:-size]  # counts[i]: words i .. i + size - 1
    return int(np.argmax(counts))  # the first of equal maxima
