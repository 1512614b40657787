"""Query-term highlighting for result lists: the best snippet of a text, matches in ``<mark>``.

Words match the way search matches them (the index's own analyzer: lower-cased, stemmed,
stopwords ignored), so "embeddings" in the query marks "embedding" in the abstract.
"""

from __future__ import annotations

import functools
import re

from markupsafe import Markup, escape

from paperfeed.index.lexical import SCORING_ANALYZER
from paperfeed.query import ParsedQuery

_WORD = re.compile(r"\w+(?:[-']\w+)*")


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
    spans = [m.span() for m in _WORD.finditer(text)]
    # One analysis per distinct word (cached), one C-level set test per word.
    hits = (
        [not tokens.isdisjoint(_analyzed(word)) for word in _WORD.findall(text)]
        if tokens
        else [False] * len(spans)
    )
    first, last = 0, len(spans)
    if max_words is not None and len(spans) > max_words:
        first = _best_window(hits, max_words)
        last = first + max_words
    if not spans:
        return Markup(escape(text))
    begin = 0 if first == 0 else spans[first][0]
    end = len(text) if last >= len(spans) else spans[last - 1][1]
    out: list[str] = ["… " if begin > 0 else ""]
    cursor = begin
    for (a, b), hit in zip(spans[first:last], hits[first:last], strict=True):
        if hit:
            out.append(str(escape(text[cursor:a])))
            out.append(f"<mark>{escape(text[a:b])}</mark>")
            cursor = b
    out.append(str(escape(text[cursor:end])))
    if end < len(text):
        out.append(" …")
    return Markup("".join(out))


@functools.lru_cache(maxsize=1 << 16)
def _analyzed(word: str) -> tuple[str, ...]:
    """A word's tokens; cached, as result pages analyse the same words over and over."""
    return tuple(SCORING_ANALYZER.analyze(word))


def _best_window(hits: list[bool], size: int) -> int:
    count = best = sum(hits[:size])
    start = 0
    for i in range(size, len(hits)):
        count += hits[i] - hits[i - size]
        if count > best:
            best, start = count, i - size + 1
    return start
