"""Search inside PostgreSQL: its own full-text search and pgvector's HNSW, no files.

The indexes are PostgreSQL's (migration 0011): ``papers.search_text``, a generated
``tsvector`` (title weight A, abstract weight B) with a GIN index; ``embeddings.embedding``, a
``halfvec`` copy of each vector (``catchup.store_vectors`` writes both) with an HNSW index for
inner product; GIN indexes on the categories and the author names. A paper is searchable the
moment its transaction commits, on every node that shares the database, so ``refresh``,
``sync``, ``is_stale`` and ``reset`` have nothing to do.

The query language means what it means for the embedded indexes (``index.lexical``): phrases
must appear in the title or the abstract and exclusions must not, ``author:`` matches the
words of one author name in order (up to two other words between them), ``cat:`` any of the
categories, ``since:``/``until:`` bound ``published`` inclusively. The differences:

- keyword ranking: PostgreSQL has no BM25, so ``paper_terms`` (migration 0014, kept by
  triggers) holds each paper's BM25 term-frequency parts per lexeme, for the whole text and
  for the title (weighing ``title_boost`` more), with length normalised against fixed
  average lengths; the idf comes from live counts. A word's best papers come first from an
  index, so a search reads a few thousand postings, not every paper holding a common word;
- stemming and stopwords are PostgreSQL's 'english' configuration, so a quoted phrase of
  stopwords only ("the") constrains nothing, and accents are not folded;
- hidden papers are left out in SQL, so ``browse`` counts only what can be shown; the
  engine leaves them out of every retriever's list too (``catalog.lookup.hidden_pks``),
  the same for both backends, before it counts and pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, text

from paperfeed.search import embed
from paperfeed.search.backend import IndexCounts, SyncReport
from paperfeed.search.index.lexical import LexicalHit
from paperfeed.search.index.vectors import VectorHit
from paperfeed.search.query import ParsedQuery
from paperfeed.search.trace import UNTRACED, SearchTrace

if TYPE_CHECKING:
    from paperfeed.db import Database
    from paperfeed.progress import Progress

__all__ = ["PostgresSearch", "halfvec_text"]

# ``hnsw.ef_search`` (pgvector's default is 40): the candidate list of a graph search, at
# least the depth asked for. Recall@10 against exact search on 3,004 random unit vectors:
# 0.672 at 40, 0.896 at 100, 1.000 at 200 (migration 0011 has the other figures).
EF_SEARCH = 200
EF_SEARCH_MAX = 1000  # pgvector's upper bound
# Filtered dense search: filters passing fewer papers than this are scored exactly (every
# passing vector, through the filters' own indexes); broader ones walk the graph with
# iterative scans, and fall back to the exact scan when those come up short.
EXACT_FILTERED_BELOW = 10_000
MAX_SCAN_TUPLES = 40_000  # ``hnsw.max_scan_tuples`` of an iterative scan (default 20,000)
# Filtered keyword search: candidates per word, in multiples of the depth asked.
FILTERED_PER_WORD = 5
_WORD = re.compile(r"[^\W_]+")  # PostgreSQL's parser splits on what is not a letter or digit
_AUTHOR_SLOP = 2  # other words allowed between an author query's words, as tantivy's slop
_ALTERNATIVES_MAX = 64  # slop alternatives spelled out for one author name


class PostgresSearch:
    """The ``SearchBackend`` over PostgreSQL's own indexes (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- nothing to catch up with: PostgreSQL maintains its indexes itself ---------------
    def refresh(self) -> bool:
        return False

    def sync(self, db: Database, progress: Progress | None = None, wait: bool = True) -> SyncReport:

        return SyncReport()

    def is_stale(self, db: Database) -> bool:
        return False

    def merge(self) -> bool:
        return False

    def reset(self) -> None:
        return None

    # -- searching -----------------------------------------------------------------------
    def lexical(self, query: ParsedQuery, depth: int, *, title_boost: float) -> list[LexicalHit]:
        """Papers holding any of the query's words, best first, by BM25 (module docstring).

        The candidates are each word's ``depth`` best papers by its own BM25 part
        (``paper_terms``' impact index): their union holds at least ``depth`` papers when
        that many hold any word, so the count of matches to ``depth`` stays exact, and each
        candidate's full score is summed from its postings. With filters, each word gives
        ``FILTERED_PER_WORD`` times as many; when fewer than ``depth`` of them pass and a
        word has more papers than that, every posting of the words is scored for the papers
        that pass.
        """
        if depth <= 0 or not query.text:
            return []
        with self.db.engine.connect() as connection:
            # The query's lexemes with their repeats and how many papers hold each, the
            # number of papers and the hidden ones: one round trip.
            stats = connection.execute(
                text(
                    "SELECT w.lexeme, coalesce(array_length(w.positions, 1), 1), "
                    "(SELECT count(*) FROM paper_terms t WHERE t.lexeme = w.lexeme), "
                    "(SELECT count(*) FROM papers), ARRAY(SELECT pk FROM papers WHERE hidden) "
                    "FROM unnest(to_tsvector('english', :text)) AS w"
                ),
                {"text": query.text},
            ).all()
            words = {lexeme: repeats for lexeme, repeats, *_ in stats}
            held = {lexeme: int(count) for lexeme, _, count, *_ in stats if count}
            if not held:
                return []  # stopwords only, or words no paper holds
            papers, hidden = int(stats[0][3]), list(stats[0][4])
            lexemes = sorted(held)
            where = _Where()
            where.params.update(
                lexemes=lexemes,
                weights=[words[w] * _idf(papers, held[w]) for w in lexemes],
                title_boost=max(title_boost, 0.0),
                depth=depth,
            )
            where.params["hidden"] = hidden
            if not query.has_filters:
                where.params["per_word"] = depth + len(hidden)
                rows = connection.execute(text(_SCORED_BEST.format(passing="")), where.params).all()
            else:
                _constraints(query, where)
                where.params["per_word"] = FILTERED_PER_WORD * depth
                best = _SCORED_BEST.format(passing=_PASSING.format(where=where.sql))
                rows = connection.execute(text(best), where.params).all()
                if len(rows) < depth and max(held.values()) > where.params["per_word"]:
                    every = _SCORED_ALL.format(where=where.sql)
                    rows = connection.execute(text(every), where.params).all()
        return [LexicalHit(int(pk), float(score)) for pk, score in rows]

    def dense(
        self, vector: np.ndarray, depth: int, query: ParsedQuery, trace: SearchTrace = UNTRACED
    ) -> list[VectorHit]:
        """Nearest papers (current model) passing the query's filters, nearest first.

        Unfiltered, and for filters passing ``EXACT_FILTERED_BELOW`` papers or more: the HNSW
        graph, with iterative scans (``relaxed_order``) so that filtered searches still fill
        the page; the exact scan when they do not. Narrower filters: the exact scan alone.
        The similarities are exact cosines of the stored float32 vectors, and the hits are
        sorted by them (the graph holds half precision and its order is relaxed).
        """
        if depth <= 0:
            return []
        where = _Where()
        where.add("e.model = :model AND e.embedding IS NOT NULL")
        where.params["model"] = embed.MODEL_ID
        _constraints(query, where)
        where.params["query"] = halfvec_text(vector)
        where.params["depth"] = depth
        with self.db.engine.connect() as connection:
            passing: int | None = None
            if query.has_filters:  # counted up to the threshold: beyond, the graph it is
                passing = int(
                    connection.scalar(
                        text(
                            "SELECT count(*) FROM (SELECT 1 FROM papers p "
                            f"WHERE {where.paper_sql} LIMIT {EXACT_FILTERED_BELOW}) AS passing"
                        ),
                        where.params,
                    )
                    or 0
                )
                trace.lap("filters")
                trace.count("filters", passing)
                if passing == 0:
                    return []
            rows: list[Any] = []
            if passing is None or passing >= EXACT_FILTERED_BELOW:
                rows = self._graph(connection, where, depth)
            if passing is not None and len(rows) < min(depth, passing):
                exact = _NEAREST.format(where=where.sql, order=_EXACT_ORDER)
                rows = list(connection.execute(text(exact), where.params).all())
        return _exact_hits(rows, vector)

    @staticmethod
    def _graph(connection: Connection, where: _Where, depth: int) -> list[Any]:
        """The HNSW index scan, with this transaction's search settings."""
        ef_search = min(max(EF_SEARCH, depth), EF_SEARCH_MAX)
        connection.execute(
            text(
                "SELECT set_config('hnsw.ef_search', :ef, true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                "set_config('hnsw.max_scan_tuples', :scan, true)"
            ),
            {"ef": str(ef_search), "scan": str(MAX_SCAN_TUPLES)},
        )
        return list(
            connection.execute(
                text(_NEAREST.format(where=where.sql, order=_GRAPH_ORDER)),
                where.params,
            ).all()
        )

    def browse(self, query: ParsedQuery, limit: int, offset: int) -> tuple[list[int], int]:
        """Papers passing the constraints, newest first (undated last, then by pk)."""
        where = _Where()
        _constraints(query, where)
        where.params.update(limit=limit, offset=offset)
        with self.db.engine.connect() as connection:
            total = connection.scalar(
                text(f"SELECT count(*) FROM papers p WHERE {where.sql}"), where.params
            )
            pks = connection.scalars(
                text(
                    f"SELECT p.pk FROM papers p WHERE {where.sql} "
                    "ORDER BY p.published DESC NULLS LAST, p.pk LIMIT :limit OFFSET :offset"
                ),
                where.params,
            ).all()
        return [int(pk) for pk in pks], int(total or 0)

    def vector(self, pk: int) -> np.ndarray | None:
        with self.db.engine.connect() as connection:
            stored = connection.scalar(
                text("SELECT vector FROM embeddings WHERE paper_pk = :pk AND model = :model"),
                {"pk": pk, "model": embed.MODEL_ID},
            )
        return None if stored is None else np.frombuffer(stored, dtype=np.float32).copy()

    def counts(self) -> IndexCounts:
        with self.db.engine.connect() as connection:
            papers = connection.scalar(text("SELECT count(*) FROM papers"))
            vectors = connection.scalar(
                text(
                    "SELECT count(*) FROM embeddings WHERE model = :model AND embedding IS NOT NULL"
                ),
                {"model": embed.MODEL_ID},
            )
        return IndexCounts(int(papers or 0), int(vectors or 0))


def halfvec_text(vector: np.ndarray) -> str:
    """A vector in pgvector's text form, ``[0.1,-0.2,...]`` (float32 digits: no loss)."""
    return "[" + ",".join(f"{v:.9g}" for v in np.asarray(vector, dtype=np.float32).tolist()) + "]"


def _idf(papers: int, holding: int) -> float:
    """BM25's idf of a word that ``holding`` of ``papers`` papers hold (tantivy's form)."""
    return math.log(1 + (papers - holding + 0.5) / (holding + 0.5))


# Keyword scores from the postings (migration 0014): a paper's score is the sum, over the
# query's words it holds, of the word's weight (idf times its repeats in the query) times
# its BM25 part for the whole text plus ``title_boost`` times the title's.
_WORDS = (
    "q AS (SELECT * FROM unnest(CAST(:lexemes AS text[]), CAST(:weights AS float8[])) "
    "AS q(lexeme, weight))"
)
_SCORE = "sum(q.weight * (t.body_part + :title_boost * t.title_part))"
# Each word's ``per_word`` best papers (the impact index), hidden ones left out and, with
# filters, only those passing ``{passing}`` (checked before scoring, so a broad filter does
# not score the papers it drops); each candidate's full score from its own postings (a
# primary-key probe per candidate: the LATERAL keeps the planner from reading every posting
# of a common word instead); best first.
_SCORED_BEST = (
    f"WITH {_WORDS}, best AS MATERIALIZED (SELECT DISTINCT b.paper_pk FROM q CROSS JOIN LATERAL "
    "(SELECT t.paper_pk FROM paper_terms t WHERE t.lexeme = q.lexeme "
    "ORDER BY t.impact DESC LIMIT :per_word) AS b {passing}"
    "WHERE b.paper_pk <> ALL(CAST(:hidden AS integer[]))) "
    "SELECT best.paper_pk, s.score FROM best CROSS JOIN LATERAL ("
    f"SELECT {_SCORE} AS score "
    "FROM paper_terms t JOIN q ON q.lexeme = t.lexeme WHERE t.paper_pk = best.paper_pk "
    "AND t.lexeme = ANY(CAST(:lexemes AS text[]))) AS s "
    "ORDER BY s.score DESC, best.paper_pk LIMIT :depth"
)
_PASSING = "JOIN papers p ON p.pk = b.paper_pk AND {where} "
# Every posting of the words, for the papers that pass ``where``: when the best papers per
# word leave a filtered search short.
_SCORED_ALL = (
    f"WITH {_WORDS} SELECT t.paper_pk, {_SCORE} AS score "
    "FROM q JOIN paper_terms t ON t.lexeme = q.lexeme JOIN papers p ON p.pk = t.paper_pk "
    "WHERE {where} GROUP BY t.paper_pk ORDER BY score DESC, t.paper_pk LIMIT :depth"
)


# The nearest vectors passing ``where``, re-sorted after a relaxed iterative scan, with the
# float32 bytes for exact similarities. The query vector is a parameter, not a join: the
# HNSW index orders only by a distance to a value known when the scan starts.
_QUERY = f"CAST(:query AS halfvec({embed.DIM}))"
_NEAREST = (
    "WITH nearest AS MATERIALIZED ("
    f"SELECT e.paper_pk, e.vector, e.embedding <#> {_QUERY} AS distance "
    "FROM embeddings e JOIN papers p ON p.pk = e.paper_pk "
    "WHERE {where} ORDER BY {order} LIMIT :depth) "
    "SELECT paper_pk, vector FROM nearest ORDER BY distance"
)
_GRAPH_ORDER = f"e.embedding <#> {_QUERY}"  # the HNSW index's own order: a graph scan
_EXACT_ORDER = f"(e.embedding <#> {_QUERY}) + 0"  # an expression no index has: every row


def _exact_hits(rows: list[Any], query: np.ndarray) -> list[VectorHit]:
    """Hits by exact cosine of the stored vectors (L2-normalised), best first, then by pk."""
    if not rows:
        return []
    pks = np.array([row[0] for row in rows], dtype=np.int64)
    matrix = np.stack([np.frombuffer(row[1], dtype=np.float32) for row in rows])
    similarities = (matrix @ np.asarray(query, dtype=np.float32)).astype(np.float64)
    order = np.lexsort((pks, -similarities))
    return [VectorHit(int(pks[i]), float(similarities[i])) for i in order]


@dataclass
class _Where:
    """SQL conditions on ``papers p`` and their parameters, named uniquely."""

    conditions: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    _paper: list[str] = field(default_factory=list)

    def add(self, condition: str, on_paper: bool = False) -> None:
        self.conditions.append(condition)
        if on_paper:
            self._paper.append(condition)

    def param(self, value: Any) -> str:
        name = f"c{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    @property
    def sql(self) -> str:
        return " AND ".join(self.conditions) or "true"

    @property
    def paper_sql(self) -> str:
        """Only the conditions on the paper (the filters), for counting passing papers."""
        return " AND ".join(self._paper) or "true"


def _constraints(query: ParsedQuery, where: _Where) -> None:
    """The query's filters, and hidden papers left out, as conditions on ``papers p``."""
    where.add("NOT p.hidden", on_paper=True)
    for phrase in query.phrases:
        where.add(_text_match(phrase, where), on_paper=True)
    for excluded in query.excluded:
        where.add(f"NOT ({_text_match(excluded, where)})", on_paper=True)
    for author in query.authors:
        if (condition := _author_match(author, where)) is not None:
            where.add(condition, on_paper=True)
    if query.categories:
        cats = where.param(list(query.categories))
        where.add(f"(p.categories::jsonb) ?| CAST({cats} AS text[])", on_paper=True)
    if query.since_datetime is not None:
        since = where.param(query.since_datetime.replace(tzinfo=None))  # stored as naive UTC
        where.add(f"p.published >= {since}", on_paper=True)
    if query.until_datetime is not None:
        until = where.param(query.until_datetime.replace(tzinfo=None))
        where.add(f"p.published <= {until}", on_paper=True)


def _text_match(phrase: str, where: _Where) -> str:
    """Title or abstract contains ``phrase`` (its words in order; stopwords hold a place).

    The GIN index finds the papers holding it in title and abstract together; for several
    words each part is checked alone as well, so a phrase does not run from the title's
    end into the abstract. A phrase PostgreSQL keeps no word of constrains nothing."""
    query = f"phraseto_tsquery('english', {where.param(phrase)})"
    found = f"p.search_text @@ {query}"
    if len(_WORD.findall(phrase)) > 1:
        found += (
            f" AND (to_tsvector('english', p.title) @@ {query}"
            f" OR to_tsvector('english', p.abstract) @@ {query})"
        )
    return f"(numnode({query}) = 0 OR ({found}))"


_AUTHORS_TSV = "jsonb_to_tsvector('simple', p.authors::jsonb, '[\"string\"]')"


def _author_match(author: str, where: _Where) -> str | None:
    """One author name holds the words of ``author`` in order, up to ``_AUTHOR_SLOP`` other
    words between them (as the embedded index's phrase query with slop): the GIN index on
    the names finds the papers with every word, then each name is checked alone."""
    words = _WORD.findall(author)
    if not words:
        return None
    every_word = where.param(" & ".join(_quoted(w) for w in words))
    found = f"{_AUTHORS_TSV} @@ to_tsquery('simple', {every_word})"
    if len(words) == 1:
        return found
    in_order = where.param(" | ".join(f"({alt})" for alt in _slop_alternatives(words)))
    return (
        f"{found} AND EXISTS (SELECT 1 FROM json_array_elements_text(p.authors) AS a(name) "
        f"WHERE to_tsvector('simple', a.name) @@ to_tsquery('simple', {in_order}))"
    )


def _slop_alternatives(words: list[str]) -> Iterator[str]:
    """tsquery phrases of ``words`` in order with at most ``_AUTHOR_SLOP`` extra words in all
    (PostgreSQL's ``<N>`` is an exact distance, so each spacing is spelled out)."""
    made = 0
    for gaps in product(range(_AUTHOR_SLOP + 1), repeat=len(words) - 1):
        if sum(gaps) > _AUTHOR_SLOP:
            continue
        parts = [_quoted(words[0])]
        for gap, word in zip(gaps, words[1:], strict=True):
            parts.append(f"<{gap + 1}> {_quoted(word)}")
        yield " ".join(parts)
        made += 1
        if made >= _ALTERNATIVES_MAX:
            return


def _quoted(lexeme: str) -> str:
    """A lexeme as a tsquery operand, taken as it is."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "\\'") + "'"
