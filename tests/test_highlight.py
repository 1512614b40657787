"""``highlight`` against a plain reference (a match object per word, every word analysed, every
window counted), including while its vocabulary of seen words is forgotten and rebuilt."""

from __future__ import annotations

import random
import re
import threading

import pytest
from markupsafe import Markup, escape

from paperfeed.search.highlight import VOCABULARY_SIZE, Vocabulary, highlight, query_tokens
from paperfeed.search.index.lexical import SCORING_ANALYZER
from paperfeed.search.query import parse_query

WORD = re.compile(r"\w+(?:[-']\w+)*")

TEXTS = [
    "",
    "  … — ",
    "Graph neural networks for graphs: a graph-based survey of GNNs.",
    "Self-attention isn't all you need; l'attention naïve — façade's co-operative learners.",
    "<b>Bold</b> & 'quoted' \"text\" with <script>alert(1)</script> learning",
    "Ünïcödé Wörds ΑΒΓ 日本語 テスト learning LEARNING Learned learns",
    "x" * 45 + " long words are dropped by the analyzer, " + "y" * 39 + " is kept",
    " ".join(f"word{i}" for i in range(150)) + " learning " + " ".join("pad" for _ in range(30)),
    "learning " + " ".join(f"w{i}" for i in range(100)) + " learning learning",
    "We study reinforcement learning. Learning to learn: meta-learning, learned optimizers "
    "and the learner's bias. " * 4,
]
QUERIES = [
    "learning",
    "graph neural network",
    '"self attention" naive',
    "facade cooperative",
    "the of and",  # stopwords only: nothing to mark
    "bold script",
    "unicode words",
    "word3 word149 pad",
]


def reference(text: str, tokens: frozenset[str], max_words: int | None = None) -> Markup:
    spans = [m.span() for m in WORD.finditer(text)]
    if not spans:
        return Markup(escape(text))
    hits = [not tokens.isdisjoint(SCORING_ANALYZER.analyze(text[a:b])) for a, b in spans]
    first, last = 0, len(spans)
    if max_words is not None and len(spans) > max_words:
        counts = [sum(hits[i : i + max_words]) for i in range(len(spans) - max_words + 1)]
        first = counts.index(max(counts))
        last = first + max_words
    start = 0 if first == 0 else spans[first][0]
    end = len(text) if last == len(spans) else spans[last - 1][1]
    out, cursor = ["… " if first > 0 else ""], start
    for (a, b), hit in zip(spans[first:last], hits[first:last], strict=True):
        if hit:
            out += [str(escape(text[cursor:a])), f"<mark>{escape(text[a:b])}</mark>"]
            cursor = b
    out.append(str(escape(text[cursor:end])))
    if last < len(spans):
        out.append(" …")
    return Markup("".join(out))


@pytest.mark.parametrize("size", [None, VOCABULARY_SIZE, 5])
def test_highlight_equals_the_reference(size: int | None) -> None:
    """With the process's vocabulary, a fresh one, and one of 5 words, forgotten and rebuilt
    for almost every text."""
    vocabulary = None if size is None else Vocabulary(size)
    for query in QUERIES:
        tokens = query_tokens(parse_query(query))
        for text in TEXTS:
            for max_words in (None, 1, 3, 60, 500):
                got = highlight(text, tokens, max_words=max_words, vocabulary=vocabulary)
                assert isinstance(got, Markup)
                assert got == reference(text, tokens, max_words), (query, text, max_words)


def test_every_text_is_marked_the_same_from_many_threads() -> None:
    """Pages are rendered in a thread pool: the shared vocabulary must stay consistent."""
    vocabulary = Vocabulary(50)  # forgotten often while the threads share it
    cases = [(q, t) for q in QUERIES for t in TEXTS]
    expected = [reference(t, query_tokens(parse_query(q)), 60) for q, t in cases]
    failures: list[int] = []

    def work() -> None:
        for _ in range(20):
            for i, (q, t) in enumerate(cases):
                got = highlight(t, query_tokens(parse_query(q)), 60, vocabulary=vocabulary)
                if got != expected[i]:
                    failures.append(i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_cut_text_keeps_the_first_of_the_fullest_windows() -> None:
    """Matching words at random places: the window kept is the reference's, which counts the
    matches in every window."""
    rng = random.Random(7)
    tokens = query_tokens(parse_query("learning"))
    for _ in range(20_000):
        n = rng.randint(2, 40)
        size = rng.randint(1, n - 1)
        positions = set(rng.sample(range(n), rng.randint(1, n)))
        text = " ".join("learning" if i in positions else f"w{i}" for i in range(n))
        assert highlight(text, tokens, size) == reference(text, tokens, size), (text, size)
