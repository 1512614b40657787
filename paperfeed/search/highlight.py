"""Query-term highlighting for result lists: the best snippet of a text, matches in ``<mark>``.

Words match the way search matches them (the index's own analyzer: lower-cased, stemmed,
stopwords ignored), so "embeddings" in the query marks "embedding" in the abstract.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from itertools import compress

from markupsafe import Markup, escape

from paperfeed.search.index.lexical import SCORING_ANALYZER
from paperfeed.search.query import ParsedQuery

# A capturing group: split keeps the words. Possessive quantifiers (no backtracking into a
# word, which could never end a match elsewhere): the same splits, ~10 % faster.
_SPLIT = re.compile(r"(\w++(?:[-']\w++)*+)")
VOCABULARY_SIZE = 1 << 17  # distinct words remembered (``Vocabulary``, ~15 MB), then forgotten


def query_tokens(query: ParsedQuery) -> frozenset[str]:
    """The analysed tokens of a query's words and phrases (what the index scores on)."""
    return frozenset(
        token for text in [*query.terms, *query.phrases] for token in SCORING_ANALYZER.analyze(text)
    )


def highlight(
    text: str,
    tokens: frozenset[str],
    max_words: int | None = None,
    *,
    vocabulary: Vocabulary | None = None,
) -> Markup:
    """``text`` HTML-escaped with matching words in ``<mark>``.

    With ``max_words``, a long text is cut to the window of that many words holding the most
    matches (ties: the earliest), with "…" where text was left out. ``vocabulary`` remembers
    the words seen and what they analyse to (default: the process's, of
    :data:`VOCABULARY_SIZE` words); the marks are the same whichever is used.
    """
    # parts = [gap, word, gap, word, …, gap]: word i is parts[2 * i + 1]. One C-level split
    # instead of a match object per word; each distinct word is analysed once (remembered).
    parts = _SPLIT.split(text)
    words = parts[1::2]
    n = len(words)
    if not n:
        return Markup(escape(text))
    vocabulary = _VOCABULARY if vocabulary is None else vocabulary
    matching = vocabulary.matching(words, tokens) if tokens else set()
    # Where the matching words are (a few of the words): the window and the marks need no more.
    positions = list(compress(range(n), map(matching.__contains__, words))) if matching else []
    first, last = 0, n
    if max_words is not None and n > max_words:
        first = _best_window(positions, max_words) if positions else 0
        last = first + max_words
    begin = 0 if first == 0 else 2 * first + 1  # index into parts
    end = len(parts) if last >= n else 2 * last
    out: list[str] = ["… " if begin > 0 else ""]
    cursor = begin
    for i in positions[bisect_left(positions, first) : bisect_left(positions, last)]:
        out.append(str(escape("".join(parts[cursor : 2 * i + 1]))))
        out.append(f"<mark>{escape(parts[2 * i + 1])}</mark>")
        cursor = 2 * i + 2
    out.append(str(escape("".join(parts[cursor:end]))))
    if end < len(parts):
        out.append(" …")
    return Markup("".join(out))


class Vocabulary:
    """The distinct words of the texts highlighted so far and, per analysed token, the words
    that produce it. A query's matching words are then a union of a few sets, not a token
    lookup per distinct word of every text on the page; a text costs one set difference.
    Past ``size`` distinct words it forgets them all and starts over. Safe across threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: set[str] = set()
        self._words: dict[str, set[str]] = {}  # token -> the seen words it comes from
        self._lock = threading.Lock()  # pages are rendered in a thread pool

    def matching(self, words: list[str], tokens: frozenset[str]) -> set[str]:
        """Every seen word whose analysed tokens include one of ``tokens``, ``words`` seen
        first: a word of ``words`` matches if and only if it is in the result."""
        with self._lock:
            new = set(words).difference(self._seen)
            if len(self._seen) + len(new) > self.size:  # forget everything, start over
                self._seen, self._words, new = set(), {}, set(words)
            for word in new:
                for token in SCORING_ANALYZER.analyze(word):
                    self._words.setdefault(token, set()).add(word)
            self._seen |= new
            return set().union(*[self._words.get(t, ()) for t in tokens])


_VOCABULARY = Vocabulary(VOCABULARY_SIZE)


def _best_window(positions: list[int], size: int) -> int:
    """Start of the ``size``-word window with the most matched words (ties: the earliest),
    from the matched words' sorted positions. A best window holds a run of them,
    ``positions[j : j + count]``; the earliest such window starts where it just reaches the
    run's last word (or at 0), for the first best run."""
    counts = [bisect_left(positions, p + size, j) - j for j, p in enumerate(positions)]
    best = max(counts)
    return max(0, positions[counts.index(best) + best - 1] - size + 1)
