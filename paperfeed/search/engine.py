"""The one search entry point: hybrid (BM25 + dense) ranking, explain, similar papers.

CLI, web, API, digests and evaluation all call ``search``/``similar`` here.
Fusion (``fuse``) is a convex blend of each ranker's min-max-scaled scores (BM25 and cosine),
with reciprocal rank fusion as an option; ``SearchConfig`` holds the knobs, tuned on training
qrels only (docs/quality.md). ``SearchTrace`` records where one search spent its time.

What a search lists are the papers that *match*: those with lexical evidence (BM25 found a
query word in them) or whose similarity to the query clears ``SearchConfig.dense_floor``.
The dense retriever always returns neighbours, even for a query of nonsense words; below
the floor they are not matches. ``SearchResults.total`` counts the matches, whatever the
page; when there are none, the few nearest papers come apart, as ``nearest``. After fusion,
papers whose title holds the query as a phrase move to the top (``_title_phrase_first``).
Papers hidden by moderation are left out before paging (``catalog.lookup``), so pages are
full.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
from sqlalchemy import bindparam, select

from paperfeed.bounds import MAX_SEARCH_DEPTH
from paperfeed.catalog.lookup import VISIBLE, get_paper, hidden_pks
from paperfeed.db import Paper
from paperfeed.errors import NotFoundError, QueryError
from paperfeed.search import embed, related, vocabulary
from paperfeed.search.index.lexical import LexicalHit, matched_terms
from paperfeed.search.index.vectors import VectorHit
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.search.trace import UNTRACED, SearchTrace

if TYPE_CHECKING:  # annotations only: paperfeed.workspace imports paperfeed.search.index
    from paperfeed.search.backend import SearchBackend
    from paperfeed.workspace import Workspace

Mode = Literal["hybrid", "lexical", "dense"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense")
_NO_QUERY = ParsedQuery()  # no constraints: similar papers come from the whole collection


@dataclass(frozen=True)
class SearchConfig:
    """Ranking knobs. Defaults are tuned on training qrels only (see docs/quality.md).

    ``fusion``, ``rrf_k`` and ``dense_weight`` steer ``fuse``; ``title_boost`` the BM25
    ranking; ``candidates`` how many each retriever returns (at least the page's depth).
    ``dense_floor`` is the cosine a paper without lexical evidence must reach to match;
    ``nearest`` how many papers to offer, nearest by meaning, when nothing matches;
    ``title_phrase_first`` moves papers whose title holds the query as a phrase to the top.
    """

    fusion: Literal["rrf", "convex"] = "convex"
    rrf_k: int = 60
    dense_weight: float = 0.5  # weight of the dense list (convex: of its min-max scaled cosine)
    title_boost: float = 0.25  # extra BM25 weight of a title match, on top of the whole text
    candidates: int = 100  # per ranker, before fusion
    # The cosine (query, abstract) on SciFact train (809 queries; 919 judged-relevant pairs and
    # 20 random abstracts per query): relevant pairs at 0.30 or more 95.9%, random ones 5.3%
    # (0.25: 97.5% / 11.7%; 0.35: 92.4% / 2.3%); the two error rates cross near 0.30. The
    # nearest paper to a nonsense query ("xyzzy plugh") in the demo corpus is at 0.19.
    # `bench/calibrate_floor.py` prints these figures.
    dense_floor: float = 0.30
    nearest: int = 5
    title_phrase_first: bool = True
    related_dense_weight: float = 0.6  # ``dense_weight`` for a pasted abstract (search.related)
    related_terms: int = related.KEY_TERMS  # key terms BM25 gets from a pasted abstract
    # Search an acronym's expansion too, and back (search.vocabulary). Off by default: it lifts
    # acronym queries (+0.20 nDCG@10 on an arXiv dev set) but costs SciFact test 0.003
    # (bench/RESULTS-search.md).
    expand_acronyms: bool = False
    related: bool = True  # read a long query as a pasted abstract (search.related)


@dataclass
class Explanation:
    """Why a paper ranked where it did."""

    fused_rank: int
    fused_score: float
    lexical_rank: int | None = None
    lexical_score: float | None = None
    dense_rank: int | None = None
    similarity: float | None = None
    matched_terms: list[str] = field(default_factory=list)
    title_phrase: bool = False  # its title holds the query as a phrase: ranked first

    def as_dict(self) -> dict[str, object]:
        return {
            "fused_rank": self.fused_rank,
            "fused_score": round(self.fused_score, 6),
            "lexical_rank": self.lexical_rank,
            "bm25": None if self.lexical_score is None else round(self.lexical_score, 4),
            "dense_rank": self.dense_rank,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "matched_terms": self.matched_terms,
            "title_phrase": self.title_phrase,
        }


@dataclass
class SearchHit:
    paper: Paper
    score: float
    explanation: Explanation


@dataclass
class SearchResults:
    query: str
    parsed: ParsedQuery
    mode: Mode
    hits: list[SearchHit]
    total: int  # matching papers (the same on every page); at least this many if not exact
    offset: int
    limit: int
    total_exact: bool = True  # False when counting stopped at MAX_SEARCH_DEPTH matches
    # When nothing matches: the papers nearest by meaning (passing the filters), not matches.
    nearest: list[SearchHit] = field(default_factory=list)

    related: related.RelatedQuery | None = None  # set when the query was a pasted abstract
    this_paper: SearchHit | None = None  # the pasted paper itself, found in the collection
    expanded: list[tuple[str, str]] = field(default_factory=list)  # (written, added) terms

    @property
    def pageable(self) -> int:
        """How many results the pages can reach (``MAX_SEARCH_DEPTH`` at most)."""
        return min(self.total, MAX_SEARCH_DEPTH)

    @property
    def has_more(self) -> bool:
        """A further page exists beyond this one."""
        return self.offset + self.limit < self.pageable


def parse_mode(value: str) -> Mode:
    """``value`` as a search mode, for modes that arrive as text (a form field, a CLI option)."""
    for mode in MODES:
        if value == mode:
            return mode
    raise QueryError(f"unknown search mode {value!r}; use one of {', '.join(MODES)}")


def search(
    workspace: Workspace,
    query: str,
    *,
    limit: int = 10,
    offset: int = 0,
    mode: Mode = "hybrid",
    explain: bool = False,
    config: SearchConfig = SearchConfig(),
    trace: SearchTrace | None = None,
) -> SearchResults:
    """Rank the papers matching ``query`` (see ``paperfeed.search.query`` for the syntax).

    Results go ``MAX_SEARCH_DEPTH`` deep: both rankers collect ``offset + limit`` candidates,
    so a deeper page would cost memory in proportion (tens of GB for a huge offset). The
    matches are counted up to that depth too, whatever the page, so ``total`` is the same
    on every page. With ``trace``, the time of each stage and the retrievers' candidate
    counts are recorded in it (emptied first); the results are the same with or without one.
    """
    trace = UNTRACED if trace is None else trace
    trace.start()
    mode = parse_mode(mode)  # a caller without a type checker may pass any string
    if limit < 1 or offset < 0:
        raise QueryError("limit must be at least 1 and offset at least 0")
    if offset + limit > MAX_SEARCH_DEPTH:
        raise QueryError(
            f"search results go {MAX_SEARCH_DEPTH} deep: offset + limit is {offset + limit}; "
            "narrow the query instead of paging further"
        )
    backend = workspace.indexes
    long_query = None  # a pasted title and abstract: "find related work" (search.related)
    if config.related and related.is_long(query):
        long_query = related.prepare(backend, query, config.related_terms)
        config = replace(config, dense_weight=config.related_dense_weight)
    parsed = long_query.parsed if long_query else parse_query(query)
    if not parsed.text and not parsed.has_filters and not long_query:
        raise QueryError("empty query: type some words, or a filter such as cat:cs.CL")
    expansion = None
    dense_text = long_query.text if long_query else parsed.text  # what the model reads
    if config.expand_acronyms and parsed.text and not long_query:
        expansion = vocabulary.expand(workspace.db, parsed)
        parsed, dense_text = expansion.parsed, expansion.dense_text
    trace.lap("parse")
    backend.refresh()  # what another process (a web worker, `paperfeed worker`) indexed
    with workspace.db.reading() as session:
        hidden = hidden_pks(session)
    trace.lap("refresh")

    if not parsed.text and not long_query:  # filters only: newest first
        pks, total = _browse(backend, parsed, limit, offset, hidden)
        ranked = [
            (pk, 0.0, Explanation(fused_rank=offset + i + 1, fused_score=0.0))
            for i, pk in enumerate(pks)
        ]
        trace.lap("browse")
        trace.count("browse", total)
        hits = _hydrate(workspace, ranked)
        trace.lap("load papers")
        return SearchResults(query, parsed, mode, hits, total, offset, limit)

    depth = max(config.candidates, offset + limit)
    # Lexical evidence, in every mode (it decides what matches), counted to the full depth
    # whatever the page; it ranks in the lexical and hybrid modes only.
    asked = MAX_SEARCH_DEPTH + len(hidden)
    found = backend.lexical(parsed, asked, title_boost=config.title_boost)
    lexical = [h for h in found if h.pk not in hidden]
    evidence = {h.pk for h in lexical}
    trace.lap("lexical")
    trace.count("lexical", len(lexical))
    matches = evidence
    dense: list[VectorHit] = []
    query_vector: np.ndarray | None = None
    if mode != "lexical":
        query_vector = embed.get_query_embedder().embed_query(dense_text)
        trace.lap("embed query")
        found_dense = backend.dense(query_vector, depth + len(hidden), parsed, trace)
        dense = [h for h in found_dense if h.pk not in hidden][:depth]
        trace.lap("dense")
        trace.count("dense", len(dense))
        # By meaning alone, a paper matches among the ``candidates`` nearest (a pool that does
        # not grow with the page, so neither does the count) when it clears the floor.
        pool = dense[: config.candidates]
        close = {h.pk for h in pool if h.similarity >= config.dense_floor}
        # Ranked by meaning alone, the pool is the list: its papers with lexical evidence match.
        listed = evidence & {h.pk for h in pool} if mode == "dense" else evidence
        matches = listed | close

    explanations = fuse([] if mode == "dense" else lexical[:depth], dense, config)
    matching = {pk: e for pk, e in explanations.items() if pk in matches}
    order = sorted(matching.items(), key=lambda item: (-item[1].fused_score, item[0]))
    this_pk = None
    if long_query:
        best = [(pk, e.similarity) for pk, e in order]
        if (this_pk := related.find_this_paper(workspace, long_query, best)) is not None:
            order = [item for item in order if item[0] != this_pk]
            matches = matches - {this_pk}
    elif config.title_phrase_first:
        order = _title_phrase_first(workspace, parsed, order, evidence)
    for rank, (_, e) in enumerate(order, 1):
        e.fused_rank = rank
    page = [(pk, e.fused_score, e) for pk, e in order[offset : offset + limit]]
    trace.lap("fusion")
    total = len(matches)
    hits = _hydrate(workspace, page)
    trace.lap("load papers")
    nearest: list[SearchHit] = []
    if total == 0:
        nearest = _nearest(workspace, parsed, query_vector, dense, hidden, config.nearest)
        trace.lap("nearest")
    if explain:
        for hit in hits:
            terms = matched_terms(parsed, hit.paper.title, hit.paper.abstract)
            hit.explanation.matched_terms = list(dict.fromkeys(terms))
        trace.lap("explain")
    this_paper = None
    if this_pk is not None:
        this_paper = next(iter(_hydrate(workspace, [(this_pk, 1.0, Explanation(0, 1.0))])), None)
    return SearchResults(
        query,
        parsed,
        mode,
        hits,
        total,
        offset,
        limit,
        total_exact=len(found) < asked,  # else more papers hold a query word
        nearest=nearest,
        related=long_query,
        this_paper=this_paper,
        expanded=expansion.added if expansion else [],
    )


def _browse(
    backend: SearchBackend, parsed: ParsedQuery, limit: int, offset: int, hidden: frozenset[int]
) -> tuple[list[int], int]:
    """One page of the papers passing the filters, newest first, hidden ones left out.

    With hidden papers, the page comes from the first ``offset + limit + len(hidden)``, so
    it is full; the count leaves out the hidden ones among those (exact unless a hidden
    paper passing the filters lies deeper, when it is over by at most their number).
    """
    if not hidden:
        return backend.browse(parsed, limit, offset)
    pks, total = backend.browse(parsed, offset + limit + len(hidden), 0)
    visible = [pk for pk in pks if pk not in hidden]
    return visible[offset : offset + limit], total - (len(pks) - len(visible))


def _nearest(
    workspace: Workspace,
    parsed: ParsedQuery,
    vector: np.ndarray | None,
    dense: list[VectorHit],
    hidden: frozenset[int],
    count: int,
) -> list[SearchHit]:
    """The ``count`` papers nearest by meaning (passing the filters), for a search that
    matched nothing; from the dense candidates when there are some."""
    if count <= 0:
        return []
    if not dense:
        backend = workspace.indexes
        if vector is None:
            vector = embed.get_query_embedder().embed_query(parsed.text)
        found = backend.dense(vector, count + len(hidden), parsed, UNTRACED)
        dense = [h for h in found if h.pk not in hidden]
    return _by_meaning(workspace, dense[:count])


def _by_meaning(workspace: Workspace, hits: list[VectorHit]) -> list[SearchHit]:
    """Papers ranked by similarity alone, loaded, each explained by its dense rank."""
    ranked = [
        (h.pk, h.similarity, Explanation(i, h.similarity, dense_rank=i, similarity=h.similarity))
        for i, h in enumerate(hits, 1)
    ]
    return _hydrate(workspace, ranked)


# Title phrases: words of letters and digits, compared lower-cased; a hyphen, a colon or any
# other punctuation separates words, so "Text-to-3D" holds "text to 3d".
_NOT_WORD = re.compile(r"[\W_]+")
_PHRASE_MIN_WORDS = 2  # a single word inside a title is no phrase (a whole title may be one)


def _normalized(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def _title_phrase_first(
    workspace: Workspace,
    parsed: ParsedQuery,
    order: list[tuple[int, Explanation]],
    evidence: set[int],
) -> list[tuple[int, Explanation]]:
    """``order`` with the papers whose title is the query (or a quoted phrase of it) first,
    then those whose title holds it as a contiguous phrase, each group in fused order.

    A tie-break after fusion, not a weight: BM25 and cosine say nothing of word order, and
    a user typing (part of) a title means that paper. Case, hyphens and punctuation aside.
    Only papers with lexical ``evidence`` can hold the query's words, so only their titles
    are read.
    """
    phrases = {_normalized(p) for p in [" ".join(parsed.terms), *parsed.phrases]} - {""}
    candidates = [pk for pk, _ in order if pk in evidence]
    if not phrases or not candidates:
        return order
    with workspace.db.reading() as session:
        titles = dict(session.execute(_TITLES, {"pks": candidates}).all())
    first_words = {p.split()[0] for p in phrases}

    def tier(pk: int) -> int:
        raw = titles.get(pk, "").casefold()
        if not any(word in raw for word in first_words):
            return 2  # cheap: most titles lack the phrase's first word altogether
        title = _normalized(raw)
        if title in phrases:
            return 0
        padded = f" {title} "
        if any(len(p.split()) >= _PHRASE_MIN_WORDS and f" {p} " in padded for p in phrases):
            return 1
        return 2

    tiers = {pk: tier(pk) for pk in candidates}
    if not any(t < 2 for t in tiers.values()):
        return order
    for pk, e in order:
        e.title_phrase = tiers.get(pk, 2) < 2
    return sorted(order, key=lambda item: tiers.get(item[0], 2))  # stable: fused order within


def fuse(
    lexical: list[LexicalHit], dense: list[VectorHit], config: SearchConfig
) -> dict[int, Explanation]:
    """Fuse two ranked lists, best first (either may be empty), as ``search`` does.

    Returns an ``Explanation`` per pk found in either list, with its rank and raw score in
    each list and its ``fused_score``; ``fused_rank`` is left 0 (``search`` sorts by fused
    score descending, then pk, and numbers them). ``config.fusion`` picks the blend:
    ``"convex"`` adds ``1 - dense_weight`` times the min-max-scaled BM25 score and
    ``dense_weight`` times the min-max-scaled cosine; ``"rrf"`` adds the same weights times
    ``2 / (rrf_k + rank)``. The lists are fused as given; ``search`` asks each retriever for
    ``max(config.candidates, offset + limit)`` candidates.
    """
    explanations: dict[int, Explanation] = {}
    lexical_norm = _min_max([h.score for h in lexical])
    dense_norm = _min_max([h.similarity for h in dense])
    for rank, (hit, norm) in enumerate(zip(lexical, lexical_norm, strict=True), 1):
        e = explanations.setdefault(hit.pk, Explanation(0, 0.0))
        e.lexical_rank, e.lexical_score = rank, hit.score
        if config.fusion == "rrf":
            e.fused_score += (1.0 - config.dense_weight) * 2 / (config.rrf_k + rank)
        else:
            e.fused_score += (1.0 - config.dense_weight) * norm
    for rank, (dense_hit, norm) in enumerate(zip(dense, dense_norm, strict=True), 1):
        e = explanations.setdefault(dense_hit.pk, Explanation(0, 0.0))
        e.dense_rank, e.similarity = rank, dense_hit.similarity
        if config.fusion == "rrf":
            e.fused_score += config.dense_weight * 2 / (config.rrf_k + rank)
        else:
            e.fused_score += config.dense_weight * norm
    return explanations


def _min_max(scores: list[float]) -> list[float]:
    """Scale to [0, 1] within one ranked list, so BM25 and cosine can be blended."""
    if not scores:
        return []
    low, high = min(scores), max(scores)
    if high - low < 1e-12:
        return [1.0] * len(scores)
    return [(s - low) / (high - low) for s in scores]


def similar(workspace: Workspace, paper_id: str, limit: int = 10) -> list[SearchHit]:
    """Papers nearest in meaning to ``paper_id`` (by the stored embedding; not a hidden one)."""
    paper = get_paper(workspace, paper_id, listings=False)
    return similar_to(workspace, paper.pk, limit, paper.id)


def similar_to(
    workspace: Workspace, paper_pk: int, limit: int = 10, paper_id: str | None = None
) -> list[SearchHit]:
    """``similar`` for a paper already looked up: its stored vector, one graph search."""
    backend = workspace.indexes
    backend.refresh()
    vector = backend.vector(paper_pk)
    if vector is None:
        raise NotFoundError(
            f"paper {paper_id or paper_pk} has no embedding yet; "
            "run `paperfeed reindex` to build it"
        )
    with workspace.db.reading() as session:
        left_out = hidden_pks(session) | {paper_pk}
    found = backend.dense(vector, limit + len(left_out), _NO_QUERY, UNTRACED)
    neighbours = [h for h in found if h.pk not in left_out]
    return _by_meaning(workspace, neighbours[:limit])


# Built once: a statement made per call costs its construction and cache-key walk (~0.25 ms).
_HYDRATE = select(Paper).where(Paper.pk.in_(bindparam("pks", expanding=True)), VISIBLE)
_TITLES = select(Paper.pk, Paper.title).where(Paper.pk.in_(bindparam("pks", expanding=True)))


def _hydrate(workspace: Workspace, ranked: list[tuple[int, float, Explanation]]) -> list[SearchHit]:
    """Load the papers for ranked pks, keeping the order. Hidden papers were left out before
    paging; one hidden (or deleted) meanwhile is dropped here."""
    if not ranked:
        return []
    with workspace.db.reading() as session:
        pks = [pk for pk, _, _ in ranked]
        papers = {p.pk: p for p in session.scalars(_HYDRATE, {"pks": pks})}
    return [
        SearchHit(papers[pk], score, explanation)
        for pk, score, explanation in ranked
        if pk in papers
    ]
