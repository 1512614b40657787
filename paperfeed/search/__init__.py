"""Search: the query language, embeddings, the indexes and the one search entry point.

``engine`` ranks (hybrid BM25 + dense, fusion, explain, traces, similar papers); its public
names are re-exported here, so callers write ``from paperfeed.search import search``.
``query`` parses the query language, ``embed`` turns text into vectors, ``index`` holds the
lexical and dense indexes (caches of the database), ``highlight`` marks query terms in
snippets and ``eval`` scores search quality on a benchmark.
"""

from paperfeed.search.engine import (
    MODES,
    Explanation,
    Mode,
    SearchConfig,
    SearchHit,
    SearchResults,
    fuse,
    parse_mode,
    search,
    similar,
    similar_to,
)
from paperfeed.search.trace import SearchTrace

__all__ = [
    "MODES",
    "Explanation",
    "Mode",
    "SearchConfig",
    "SearchHit",
    "SearchResults",
    "SearchTrace",
    "fuse",
    "parse_mode",
    "search",
    "similar",
    "similar_to",
]
