"""The one search entry point: hybrid (BM25 + dense) ranking, explain, similar papers.

CLI, web, API, digests and evaluation all call ``search``/``similar`` here.
Fusion (``fuse``) is a convex blend of each ranker's min-max-scaled scores (BM25 and cosine),
with reciprocal rank fusion as an option; ``SearchConfig`` holds the knobs, tuned on training
qrels only (docs/quality.md). ``SearchTrace`` records where one search spent its time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import selectinload

from paperfeed.bounds import MAX_SEARCH_DEPTH
from paperfeed.db import Paper
from paperfeed.errors import NotFoundError, QueryError
from paperfeed.search import embed, related, vocabulary
from paperfeed.search.index.lexical import LexicalHit, matched_terms
from paperfeed.search.index.vectors import VectorHit
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.search.trace import UNTRACED, SearchTrace

if TYPE_CHECKING:  # annotations only: paperfeed.workspace imports paperfeed.search.index
    from paperfeed.workspace import Workspace

Mode = Literal["hybrid", "lexical", "dense"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense")
_NO_QUERY = ParsedQuery()  # no constraints: similar papers come from the whole collection


@dataclass(frozen=True)
class SearchConfig:
    """Ranking knobs. Defaults are tuned on training qrels only (see docs/quality.md).

    ``fusion``, ``rrf_k`` and ``dense_weight`` steer ``fuse``; ``title_boost`` the BM25
    ranking; ``candidates`` how many each retriever returns (at least the page's depth).
    """

    fusion: Literal["rrf", "convex"] = "convex"
    rrf_k: int = 60
    dense_weight: float = 0.5  # weight of the dense list (convex: of its min-max scaled cosine)
    title_boost: float = 0.25  # extra BM25 weight of a title match, on top of the whole text
    candidates: int = 100  # per ranker, before fusion
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

    def as_dict(self) -> dict[str, object]:
        return {
            "fused_rank": self.fused_rank,
            "fused_score": round(self.fused_score, 6),
            "lexical_rank": self.lexical_rank,
            "bm25": None if self.lexical_score is None else round(self.lexical_score, 4),
            "dense_rank": self.dense_rank,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "matched_terms": self.matched_terms,
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
    total: int  # candidates found (papers ranked), not every paper that shares a word
    offset: int
    limit: int
    related: related.RelatedQuery | None = None  # set when the query was a pasted abstract
    this_paper: SearchHit | None = None  # the pasted paper itself, found in the collection
    expanded: list[tuple[str, str]] = field(default_factory=list)  # (written, added) terms


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
    """Rank papers for ``query`` (see ``paperfeed.search.query`` for the syntax).

    Results go ``MAX_SEARCH_DEPTH`` deep: both rankers collect ``offset + limit`` candidates,
    so a deeper page would cost memory in proportion (tens of GB for a huge offset).
    With ``trace``, the time of each stage and the retrievers' candidate counts are recorded
    in it (emptied first); the results are the same with or without one.
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
    trace.lap("refresh")
    depth = max(config.candidates, offset + limit)

    if not parsed.text and not long_query:  # filters only: newest first
        pks, total = backend.browse(parsed, limit, offset)
        ranked = [
            (pk, 0.0, Explanation(fused_rank=offset + i + 1, fused_score=0.0))
            for i, pk in enumerate(pks)
        ]
        trace.lap("browse")
        trace.count("browse", total)
        hits = _hydrate(workspace, ranked)
        trace.lap("load papers")
        return SearchResults(query, parsed, mode, hits, total, offset, limit)

    lexical: list[LexicalHit] = []
    if mode != "dense":
        lexical = backend.lexical(parsed, depth, title_boost=config.title_boost)
        trace.lap("lexical")
        trace.count("lexical", len(lexical))
    dense = []
    if mode != "lexical":
        query_vector = embed.get_query_embedder().embed_query(dense_text)
        trace.lap("embed query")
        dense = backend.dense(query_vector, depth, parsed, trace)
        trace.lap("dense")
        trace.count("dense", len(dense))

    explanations = fuse(lexical, dense, config)

    order = sorted(explanations.items(), key=lambda item: (-item[1].fused_score, item[0]))
    this_pk = None
    if long_query:
        best = [(pk, e.similarity) for pk, e in order]
        if (this_pk := related.find_this_paper(workspace, long_query, best)) is not None:
            order = [item for item in order if item[0] != this_pk]
    for rank, (_, e) in enumerate(order, 1):
        e.fused_rank = rank
    page = [(pk, e.fused_score, e) for pk, e in order[offset : offset + limit]]
    trace.lap("fusion")
    hits = _hydrate(workspace, page)
    trace.lap("load papers")
    if explain:
        for hit in hits:
            terms = matched_terms(parsed, hit.paper.title, hit.paper.abstract)
            hit.explanation.matched_terms = list(dict.fromkeys(terms))
        trace.lap("explain")
    this_paper = None
    if this_pk is not None:
        this_paper = next(iter(_hydrate(workspace, [(this_pk, 1.0, Explanation(0, 1.0))])), None)
    expanded = expansion.added if expansion else []
    return SearchResults(
        query, parsed, mode, hits, len(order), offset, limit, long_query, this_paper, expanded
    )


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


def get_paper(workspace: Workspace, paper_id: str) -> Paper:
    """A paper by its public id (arXiv id, with or without version, or ``title:…``)."""
    from paperfeed.catalog.records import split_arxiv_version

    bare, _ = split_arxiv_version(paper_id.strip())
    bare = bare.removeprefix("arXiv:").removeprefix("arxiv:")
    with workspace.db.reading() as session:
        paper = session.scalar(
            select(Paper).where(Paper.id == bare).options(selectinload(Paper.listings))
        )
    if paper is None:
        raise NotFoundError(f"no paper with id {paper_id!r}")
    return paper


def similar(workspace: Workspace, paper_id: str, limit: int = 10) -> list[SearchHit]:
    """Papers nearest in meaning to ``paper_id`` (by the stored embedding)."""
    paper = get_paper(workspace, paper_id)
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
    neighbours = [
        h for h in backend.dense(vector, limit + 1, _NO_QUERY, UNTRACED) if h.pk != paper_pk
    ]
    ranked = [
        (h.pk, h.similarity, Explanation(i, h.similarity, dense_rank=i, similarity=h.similarity))
        for i, h in enumerate(neighbours[:limit], 1)
    ]
    return _hydrate(workspace, ranked)


# Built once: a statement made per call costs its construction and cache-key walk (~0.25 ms).
_HYDRATE = select(Paper).where(
    Paper.pk.in_(bindparam("pks", expanding=True)), Paper.hidden.is_(False)
)


def _hydrate(workspace: Workspace, ranked: list[tuple[int, float, Explanation]]) -> list[SearchHit]:
    """Load the papers for ranked pks, keeping the order; gone or hidden papers are dropped."""
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
