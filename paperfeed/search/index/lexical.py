"""BM25 over titles, abstracts, authors and categories, with tantivy, on disk.

The index is a cache of the ``papers`` table: it can always be rebuilt from it. Opened with
``verify``, every segment file is checked against its checksum first, and an index tantivy
cannot open (or panics on) raises ``IndexDamagedError`` instead.
"""

from __future__ import annotations

import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

import numpy as np
import tantivy

from paperfeed import bounds
from paperfeed.search.index.files import IndexDamagedError, verify_tantivy
from paperfeed.search.query import ParsedQuery

SCHEMA_VERSION = 2
_WRITER_HEAP = 64_000_000
_TEXT_FIELDS = ("title", "abstract")  # where phrases and exclusions look
_SCORED_FIELDS = ("body", "title")  # BM25 on the whole text, plus an optional title bonus
FILTER_CACHE_SIZE = 64  # filters whose passing papers are kept per searcher (``allowed``)


def _analyzer(stem: bool, stopwords: bool = False) -> tantivy.TextAnalyzer:
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
    )
    if stopwords:
        builder = builder.filter(tantivy.Filter.stopword("english"))
    builder = builder.filter(tantivy.Filter.ascii_fold())
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


TEXT_ANALYZER = _analyzer(stem=True)  # titles and abstracts
# Scoring words drop English stopwords: "is", "with", "the" only add noise to an OR query.
# The index keeps them, so quoted phrases such as "state of the art" still match exactly.
SCORING_ANALYZER = _analyzer(stem=True, stopwords=True)
NAME_ANALYZER = _analyzer(stem=False)  # author names: no stemming


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("pk", stored=True, indexed=True, fast=True)
    builder.add_text_field("title", tokenizer_name="paper_text")
    builder.add_text_field("abstract", tokenizer_name="paper_text")
    # Title and abstract as one text: BM25 over one field scores better than a sum of two
    # fields with their own length norms (measured on SciFact train, docs/quality.md).
    builder.add_text_field("body", tokenizer_name="paper_text", index_option="freq")
    builder.add_text_field("authors", tokenizer_name="paper_names")
    builder.add_text_field("category", tokenizer_name="raw")
    builder.add_date_field("published", indexed=True, fast=True)
    return builder.build()


@dataclass(frozen=True, slots=True)
class LexicalDoc:
    pk: int
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: datetime | None


@dataclass(frozen=True, slots=True)
class LexicalHit:
    pk: int
    score: float


class Allowed:
    """The papers passing a query's constraints: their pks in tantivy's order (what
    ``filter_pks`` returns) and a boolean mask indexed by pk for vectorised membership tests."""

    __slots__ = ("mask", "pks")

    def __init__(self, pks: list[int]) -> None:
        self.pks = np.asarray(pks, dtype=np.int64)
        self.mask = np.zeros(int(self.pks.max()) + 1 if len(self.pks) else 0, dtype=bool)
        self.mask[self.pks] = True

    def contains(self, pks: np.ndarray) -> np.ndarray:
        """Per pk, whether it passes (pks outside the mask do not)."""
        inside = (pks >= 0) & (pks < len(self.mask))
        out = np.zeros(len(pks), dtype=bool)
        out[inside] = self.mask[pks[inside]]
        return out


def _pks(searcher: tantivy.Searcher, addresses: list[tantivy.DocAddress]) -> list[int]:
    """The ``pk`` of each document at ``addresses``."""
    # tantivy types any fast field's values as int | float | bool | None; ``pk`` is an unsigned
    # field that every document sets (``_document``), so each value is an int.
    return cast(list[int], searcher.fast_field_values("pk", addresses))


def _filter_key(query: ParsedQuery) -> tuple[object, ...]:
    """What ``_constraints`` depends on: queries with equal keys select the same papers."""
    return (
        tuple(query.phrases),
        tuple(query.excluded),
        tuple(query.authors),
        tuple(query.categories),
        query.since,
        query.until,
    )


class LexicalIndex:
    """Open (or create) the tantivy index in ``path``; ``verify`` checks its files first."""

    def __init__(self, path: Path, verify: bool = False) -> None:
        self.path = path
        self._open(verify)

    def _open(self, verify: bool) -> None:
        """Open the index in ``self.path``, with the state that belongs to one opening."""
        path = self.path
        self.schema = _schema()
        path.mkdir(parents=True, exist_ok=True)
        if verify:
            verify_tantivy(path)
        try:
            self._index = tantivy.Index(self.schema, path=str(path))
            self._index.register_tokenizer("paper_text", TEXT_ANALYZER)
            self._index.register_tokenizer("paper_names", NAME_ANALYZER)
            self._searcher = self._index.searcher()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # tantivy's ValueError, or a Rust panic (PanicException)
            raise IndexDamagedError(f"{path}: tantivy cannot open it ({exc})") from None
        # Passing papers per filter, for this searcher only: dropped whenever it is replaced.
        self._allowed: OrderedDict[tuple[object, ...], Allowed | None] = OrderedDict()
        self._allowed_lock = threading.Lock()

    # -- build ---------------------------------------------------------------------------
    def upsert(self, docs: Iterable[LexicalDoc]) -> int:
        """Replace or add documents; one commit for the lot. Returns how many were written."""
        fresh = self.num_docs == 0  # nothing to replace: skip the per-document delete
        # One writer thread: with several, documents land in segments nondeterministically
        # and equal BM25 scores tie-break differently from one rebuild to the next.
        writer = self._index.writer(_WRITER_HEAP, 1)
        count = 0
        for doc in docs:
            if not fresh:
                writer.delete_documents_by_query(self._pk_query(doc.pk))
            writer.add_document(self._document(doc))
            count += 1
        writer.commit()
        writer.wait_merging_threads()
        self.reload()
        return count

    def clear(self) -> None:
        """Drop every document (used by a full rebuild)."""
        del self._searcher, self._index
        shutil.rmtree(self.path, ignore_errors=True)
        self._open(verify=False)

    def reload(self) -> None:
        self._index.reload()
        with self._allowed_lock:
            self._searcher = self._index.searcher()
            self._allowed.clear()

    def all_pks(self) -> list[int]:
        """Every document's pk (duplicates included, were there any): for ``paperfeed check``."""
        searcher = self._searcher
        if searcher.num_docs == 0:
            return []
        result = searcher.search(tantivy.Query.all_query(), searcher.num_docs, count=False)
        return _pks(searcher, [address for _, address in result.hits])

    def _pk_query(self, pk: int) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, "pk", pk)

    @staticmethod
    def _document(doc: LexicalDoc) -> tantivy.Document:
        out = tantivy.Document()
        out.add_unsigned("pk", doc.pk)
        out.add_text("title", doc.title)
        out.add_text("abstract", doc.abstract)
        out.add_text("body", f"{doc.title}\n{doc.abstract}")
        for author in doc.authors:
            out.add_text("authors", author)
        for category in doc.categories:
            out.add_text("category", category)
        if doc.published is not None and bounds.date_in_range(doc.published):
            out.add_date("published", doc.published)  # tantivy aborts on dates past 2262
        return out

    # -- query ---------------------------------------------------------------------------
    @property
    def num_docs(self) -> int:
        return self._searcher.num_docs

    def search(self, query: ParsedQuery, limit: int, *, title_boost: float) -> list[LexicalHit]:
        """BM25 over the free terms (a title match weighs ``1 + title_boost``), restricted by
        the query's constraints."""
        scoring = self._scoring_query(query, title_boost)
        constraints = self._constraints(query)
        if scoring is None and not constraints:
            return []
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = list(constraints)
        if scoring is not None:
            clauses.append((tantivy.Occur.Must, scoring))
        return self._run(tantivy.Query.boolean_query(clauses), limit)

    def filter_pks(
        self, query: ParsedQuery, limit: int, among: list[int] | None = None
    ) -> list[int] | None:
        """The pks satisfying the constraints (phrases, exclusions, fields), optionally only
        ``among`` the given ones; None when the query sets no constraint."""
        return self._filter_pks(self._searcher, query, limit, among)

    def _filter_pks(
        self,
        searcher: tantivy.Searcher,
        query: ParsedQuery,
        limit: int,
        among: list[int] | None = None,
    ) -> list[int] | None:
        constraints = self._constraints(query)
        if not constraints:
            return None
        scope = (
            tantivy.Query.all_query()
            if among is None
            else tantivy.Query.term_set_query(self.schema, "pk", among)
        )
        clauses = [(tantivy.Occur.Must, scope), *constraints]
        result = searcher.search(tantivy.Query.boolean_query(clauses), limit, count=False)
        return _pks(searcher, [address for _, address in result.hits])

    def allowed(self, query: ParsedQuery, limit: int) -> Allowed | None:
        """``filter_pks(query, limit)`` over the whole index, as an ``Allowed``; None when the
        query sets no constraint. Cached per filter (LRU of ``FILTER_CACHE_SIZE``) until the
        searcher changes, so a popular filter (``cat:cs.CL``) is looked up once."""
        key = (*_filter_key(query), limit)
        with self._allowed_lock:
            searcher = self._searcher
            if key in self._allowed:
                self._allowed.move_to_end(key)
                return self._allowed[key]
        pks = self._filter_pks(searcher, query, limit)
        allowed = None if pks is None else Allowed(pks)
        with self._allowed_lock:
            if searcher is self._searcher:  # not reloaded meanwhile
                self._allowed[key] = allowed
                while len(self._allowed) > FILTER_CACHE_SIZE:
                    self._allowed.popitem(last=False)
        return allowed

    def browse(self, query: ParsedQuery, limit: int, offset: int = 0) -> tuple[list[int], int]:
        """Papers satisfying the constraints, newest first, and how many there are."""
        clauses = [(tantivy.Occur.Must, tantivy.Query.all_query()), *self._constraints(query)]
        result = self._searcher.search(
            tantivy.Query.boolean_query(clauses),
            limit,
            count=True,
            offset=offset,
            order_by_field="published",
        )
        addresses = [address for _, address in result.hits]
        # tantivy's stub leaves out SearchResult.count (set when searched with count=True).
        total: int | None = result.count  # type: ignore[attr-defined]
        return _pks(self._searcher, addresses), total or 0

    def _run(self, query: tantivy.Query, limit: int) -> list[LexicalHit]:
        if limit <= 0:
            return []
        hits = self._searcher.search(query, limit, count=False).hits  # read once: it copies
        pks = _pks(self._searcher, [address for _, address in hits])
        return [LexicalHit(pk, float(score)) for (score, _), pk in zip(hits, pks, strict=True)]

    def _scoring_query(self, query: ParsedQuery, title_boost: float) -> tantivy.Query | None:
        """OR of the query's words (phrases count as their words too) over ``_SCORED_FIELDS``."""
        weights = {"body": 1.0, "title": title_boost}
        should = [
            (tantivy.Occur.Should, self._weighted(field, token, weights[field]))
            for text in [*query.terms, *query.phrases]
            for token in SCORING_ANALYZER.analyze(text)
            for field in _SCORED_FIELDS
            if weights[field] > 0
        ]
        return tantivy.Query.boolean_query(should) if should else None

    def _weighted(self, field: str, token: str, weight: float) -> tantivy.Query:
        term = tantivy.Query.term_query(self.schema, field, token, index_option="freq")
        return tantivy.Query.boost_query(term, weight) if weight != 1.0 else term

    def _text_match(self, text: str) -> tantivy.Query | None:
        """Title-or-abstract contains ``text`` (as a phrase when it has several words)."""
        tokens = TEXT_ANALYZER.analyze(text)
        if not tokens:
            return None
        per_field = [
            tantivy.Query.phrase_query(self.schema, field, [*tokens])
            if len(tokens) > 1
            else tantivy.Query.term_query(self.schema, field, tokens[0])
            for field in _TEXT_FIELDS
        ]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in per_field])

    def _constraints(self, query: ParsedQuery) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        Must, MustNot = tantivy.Occur.Must, tantivy.Occur.MustNot
        out: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for phrase in query.phrases:
            if (match := self._text_match(phrase)) is not None:
                out.append((Must, match))
        for text in query.excluded:
            if (match := self._text_match(text)) is not None:
                out.append((MustNot, match))
        for author in query.authors:
            tokens = NAME_ANALYZER.analyze(author)
            if tokens:
                out.append(
                    (
                        Must,
                        tantivy.Query.phrase_query(self.schema, "authors", [*tokens], slop=2)
                        if len(tokens) > 1
                        else tantivy.Query.term_query(self.schema, "authors", tokens[0]),
                    )
                )
        if query.categories:
            out.append(
                (Must, tantivy.Query.term_set_query(self.schema, "category", query.categories))
            )
        if query.since or query.until:
            out.append(
                (
                    Must,
                    tantivy.Query.range_query(
                        self.schema,
                        "published",
                        tantivy.FieldType.Date,
                        query.since_datetime,
                        query.until_datetime,
                    ),
                )
            )
        return out


def matched_terms(query: ParsedQuery, title: str, abstract: str) -> list[str]:
    """The query words that occur (after stemming) in a paper's title or abstract."""
    doc_tokens = set(TEXT_ANALYZER.analyze(title)) | set(TEXT_ANALYZER.analyze(abstract))
    return [
        word
        for word in [*query.terms, *query.phrases]
        if (tokens := TEXT_ANALYZER.analyze(word)) and all(t in doc_tokens for t in tokens)
    ]
