"""``PostgresSearch`` on a real PostgreSQL: the indexes of migration 0011, the HNSW graph's
recall and iterative scans, and the query language's constraints in SQL.

The search behaviour shared with the embedded indexes is tested on both backends in
``test_search.py``; this module covers what only PostgreSQL has. Its corpus: 3,000 papers
with random unit vectors (the hardest case for a graph: no clusters), five categories of
which one is rare, dates, authors, and a few hand-written papers for the text constraints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from alembic import command
from sqlalchemy import make_url, select, text

from paperfeed.config import Settings
from paperfeed.db import Database, Embedding, Paper
from paperfeed.errors import ConfigError
from paperfeed.search import embed, postgres
from paperfeed.search.catchup import VectorRow, store_vectors, text_hash
from paperfeed.search.postgres import PostgresSearch
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.search.trace import SearchTrace
from paperfeed.workspace import Workspace

N = 3000
CATEGORIES = ("cs.CL", "cs.LG", "cs.CV", "math.ST", "q-bio.NC")
WEIGHTS = (0.4, 0.3, 0.2, 0.08, 0.02)  # q-bio.NC: ~60 papers, a rare filter
DAY0 = datetime(2024, 1, 1, tzinfo=UTC)
# Hand-written papers (title, abstract, authors) for the text constraints.
TEXTS = [
    ("Deep networks", "Learning quickly from few examples.", ["Alan Turing", "Grace Hopper"]),
    ("Sentence embeddings at scale", "We train sentence embeddings.", ["Maxim A. Yurkin"]),
    ("Graph kernels", "State of the art graph kernels for molecules.", ["Ada Lovelace"]),
    ("Hidden results", "Sentence embeddings that nobody may see.", ["Maxim Yurkin"]),
]


def random_unit(rng: np.random.Generator, n: int) -> np.ndarray:
    matrix = rng.normal(size=(n, embed.DIM)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def corpus(
    postgres_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpleNamespace]:
    rng = np.random.default_rng(3)
    ws = Workspace.create(
        Settings(data_dir=tmp_path_factory.mktemp("pgsearch"), database_url=postgres_database())
    )
    matrix = random_unit(rng, N + len(TEXTS))
    papers = []
    for i in range(N):
        categories = [str(rng.choice(CATEGORIES, p=WEIGHTS))]
        papers.append(
            Paper(
                id=f"syn.{i}",
                title_key=f"syn{i}",
                title=f"synthetic paper {i}",
                abstract="filler text",
                authors=["Someone Else"],
                categories=categories,
                published=DAY0 + timedelta(days=i % 365),
                source="test",
            )
        )
    for j, (title, abstract, authors) in enumerate(TEXTS):
        papers.append(
            Paper(
                id=f"text.{j}",
                title_key=f"text{j}",
                title=title,
                abstract=abstract,
                authors=authors,
                categories=["cs.CL"],
                published=DAY0 - timedelta(days=j + 1),
                source="test",
                hidden=title == "Hidden results",
            )
        )
    with ws.db.session() as session:
        session.add_all(papers)
        session.flush()
        # Loaded first, graph built after (three times faster than growing it row by row).
        hnsw = session.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_embeddings_embedding_hnsw'")
        )
        session.execute(text("DROP INDEX ix_embeddings_embedding_hnsw"))
        store_vectors(
            session,
            [
                VectorRow(p.pk, text_hash(p.title, p.abstract), matrix[i])
                for i, p in enumerate(papers)
            ],
        )
        session.execute(text(hnsw))
        session.execute(text("DELETE FROM embed_queue"))  # the vectors are given, not embedded
        session.execute(text("ANALYZE papers"))
        session.execute(text("ANALYZE embeddings"))
    pks = np.array([p.pk for p in papers], dtype=np.int64)
    yield SimpleNamespace(
        ws=ws,
        backend=ws.indexes,
        pks=pks,
        matrix=matrix,
        categories={p.pk: p.categories for p in papers},
        hidden={p.pk for p in papers if p.hidden},
        by_title={p.title: p.pk for p in papers},
        queries=random_unit(rng, 40),
    )
    ws.db.engine.dispose()


def brute_force(corpus: SimpleNamespace, query: np.ndarray, k: int, keep: Any = None) -> list[int]:
    scores = corpus.matrix @ query
    order = np.argsort(-scores, kind="stable")
    pks = [
        int(corpus.pks[i])
        for i in order
        if int(corpus.pks[i]) not in corpus.hidden and (keep is None or keep(int(corpus.pks[i])))
    ]
    return pks[:k]


# -- the schema -------------------------------------------------------------------------------


def test_the_backend_is_postgres_and_its_indexes_exist(corpus: SimpleNamespace) -> None:
    assert isinstance(corpus.backend, PostgresSearch)
    with corpus.ws.db.engine.connect() as connection:
        indexes = {
            name: definition
            for name, definition in connection.execute(
                text("SELECT indexname, indexdef FROM pg_indexes")
            )
        }
    hnsw = indexes["ix_embeddings_embedding_hnsw"]
    assert "USING hnsw (embedding halfvec_ip_ops)" in hnsw and "m='16'" in hnsw
    assert "USING gin (search_text)" in indexes["ix_papers_search_text"]
    assert "USING gin (((categories)::jsonb))" in indexes["ix_papers_categories_jsonb"]
    assert "jsonb_to_tsvector('simple'" in indexes["ix_papers_authors_tsv"]


def test_the_migration_copies_existing_vectors_into_halfvec(
    postgres_database: Callable[[], str],
) -> None:
    db = Database(postgres_database())
    config = db.alembic_config()
    vector = random_unit(np.random.default_rng(1), 1)[0]
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
        connection.execute(
            text(
                "INSERT INTO papers (pk, id, title_key, title, abstract, authors, categories, "
                "source, first_seen, changed_at, change_seq) VALUES (7, 'x', 'x', 'Old', '', "
                "'[]', '[]', 'test', now(), now(), 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO embeddings (paper_pk, model, text_hash, vector, created_at, seq) "
                "VALUES (7, 'm', 'h', :vector, now(), 1)"
            ),
            {"vector": vector.tobytes()},
        )
    db.migrate()
    with db.engine.connect() as connection:
        stored = connection.scalar(text("SELECT embedding::text FROM embeddings"))
        weighted = connection.scalar(text("SELECT search_text::text FROM papers"))
    assert np.allclose(np.array(stored.strip("[]").split(","), dtype=np.float32), vector, atol=1e-3)
    assert weighted == "'old':1A"
    db.engine.dispose()


def test_without_the_right_to_create_the_extension_the_message_names_the_sql(
    postgres_server: Any, postgres_database: Callable[[], str]
) -> None:
    """A role that owns its database but may not create pgvector (not a superuser)."""
    import psycopg

    url = make_url(postgres_database())
    with psycopg.connect(postgres_server.get_uri(), autocommit=True) as connection:
        connection.execute("CREATE ROLE paperfeed_plain LOGIN")
        connection.execute(f'ALTER DATABASE "{url.database}" OWNER TO paperfeed_plain')
    db = Database(url.set(username="paperfeed_plain").render_as_string(hide_password=False))
    with pytest.raises(ConfigError, match=r"CREATE EXTENSION IF NOT EXISTS vector;"):
        db.migrate()
    db.engine.dispose()


def test_store_vectors_fills_the_halfvec_column_and_replaces_it(corpus: SimpleNamespace) -> None:
    pk = int(corpus.pks[5])
    fresh = random_unit(np.random.default_rng(9), 1)[0]
    with corpus.ws.db.session() as session:
        before = session.scalar(select(Embedding.seq).where(Embedding.paper_pk == pk))
        store_vectors(session, [VectorRow(pk, "h", fresh)])
        session.rollback()  # leave the shared corpus as it was
    with corpus.ws.db.session() as session:
        store_vectors(session, [VectorRow(pk, "h", fresh)])
        stored = session.execute(
            text("SELECT embedding::text, seq FROM embeddings WHERE paper_pk = :pk"), {"pk": pk}
        ).one()
        assert stored.seq > before
        halfvec = np.array(stored[0].strip("[]").split(","), dtype=np.float32)
        assert np.allclose(halfvec, fresh, atol=1e-3)
        session.rollback()


# -- dense ------------------------------------------------------------------------------------


def test_graph_recall_at_10_against_exact_search(corpus: SimpleNamespace) -> None:
    found = 0
    for query in corpus.queries:
        hits = corpus.backend.dense(query, 10, ParsedQuery())
        found += len({h.pk for h in hits} & set(brute_force(corpus, query, 10)))
    recall = found / (10 * len(corpus.queries))
    assert recall >= 0.95, recall


def test_dense_similarities_are_exact_cosines_best_first(corpus: SimpleNamespace) -> None:
    query = corpus.queries[0]
    hits = corpus.backend.dense(query, 20, ParsedQuery())
    rows = {int(pk): i for i, pk in enumerate(corpus.pks)}
    for hit in hits:
        assert hit.similarity == pytest.approx(float(corpus.matrix[rows[hit.pk]] @ query), 1e-5)
    similarities = [h.similarity for h in hits]
    assert similarities == sorted(similarities, reverse=True)


def test_a_rare_filter_fills_the_page_by_iterative_scan(corpus: SimpleNamespace) -> None:
    """``cat:q-bio.NC`` passes ~2 % of the papers. Made to walk the graph (the planner itself
    prefers the category index and an exact sort for so few), the scan's first 200
    candidates hold only a few of them; iterative scanning goes on until the page is full."""
    parsed = parse_query("w cat:q-bio.NC")
    rare = {pk for pk, cats in corpus.categories.items() if "q-bio.NC" in cats}
    assert 20 < len(rare) < 0.05 * N
    where = postgres._Where()
    where.add("e.model = :model AND e.embedding IS NOT NULL")
    where.params.update(model=embed.MODEL_ID, depth=20)
    postgres._constraints(parsed, where)
    graph_search = text(postgres._NEAREST.format(where=where.sql, order=postgres._GRAPH_ORDER))
    found = 0
    with corpus.ws.db.engine.connect() as connection:
        connection.execute(text("SET enable_sort = off"))  # no exact sort: the graph
        for query in corpus.queries[:10]:
            where.params["query"] = postgres.halfvec_text(query)
            rows = PostgresSearch._graph(connection, where, 20)
            assert len(rows) == 20 and {row[0] for row in rows} <= rare
            found += len(
                {row[0] for row in rows} & set(brute_force(corpus, query, 20, rare.__contains__))
            )
            connection.commit()  # ends the transaction its settings were local to
        plan = "\n".join(
            connection.execute(text(f"EXPLAIN {graph_search}"), where.params).scalars()
        )
        assert "ix_embeddings_embedding_hnsw" in plan
        connection.execute(text("SET hnsw.iterative_scan = off"))
        connection.execute(text("SET hnsw.ef_search = 200"))
        assert len(connection.execute(graph_search, where.params).all()) < 20
    assert found >= 0.9 * 20 * 10
    for query in corpus.queries[:3]:  # and through the backend, as searches take it
        hits = corpus.backend.dense(query, 20, parsed)
        assert len(hits) == 20 and {h.pk for h in hits} <= rare


def test_narrow_filters_are_scored_exactly_and_traced(corpus: SimpleNamespace) -> None:
    parsed = parse_query("w cat:q-bio.NC")
    rare = {pk for pk, cats in corpus.categories.items() if "q-bio.NC" in cats}
    trace = SearchTrace()
    trace.start()
    for query in corpus.queries[:5]:
        hits = corpus.backend.dense(query, 30, parsed, trace)
        assert [h.pk for h in hits] == brute_force(corpus, query, 30, rare.__contains__)
    assert "filters" in trace.stages and trace.counts["filters"] == len(rare)
    assert corpus.backend.dense(corpus.queries[0], 5, parse_query("w cat:nothing.XX")) == []


def test_similar_papers_leave_hidden_ones_out(corpus: SimpleNamespace) -> None:
    hidden = corpus.by_title["Hidden results"]
    vector = corpus.backend.vector(hidden)
    assert vector is not None and vector.dtype == np.float32
    hits = corpus.backend.dense(vector, 5, ParsedQuery())
    assert hidden not in {h.pk for h in hits}
    assert corpus.backend.vector(10**9) is None


# -- the query language -----------------------------------------------------------------------


def lexical(corpus: SimpleNamespace, query: str) -> list[int]:
    return [h.pk for h in corpus.backend.lexical(parse_query(query), 50, title_boost=0.25)]


def browse(corpus: SimpleNamespace, query: str) -> list[int]:
    return corpus.backend.browse(parse_query(query), 50, 0)[0]


def test_a_phrase_does_not_run_from_the_title_into_the_abstract(corpus: SimpleNamespace) -> None:
    deep = corpus.by_title["Deep networks"]
    assert deep in lexical(corpus, "learning")
    assert lexical(corpus, '"networks learning"') == []
    assert lexical(corpus, 'learning "learning quickly"') == [deep]
    assert deep not in lexical(corpus, 'learning -"learning quickly"')


def test_phrases_keep_the_place_of_stopwords(corpus: SimpleNamespace) -> None:
    kernels = corpus.by_title["Graph kernels"]
    assert lexical(corpus, '"state of the art"') == [kernels]
    assert lexical(corpus, '"state of art"') == []  # "state" and "art" are 3 places apart


def test_authors_match_one_name_in_order_with_slop(corpus: SimpleNamespace) -> None:
    turing = corpus.by_title["Deep networks"]
    yurkin = corpus.by_title["Sentence embeddings at scale"]
    assert browse(corpus, "author:turing") == [turing]
    assert browse(corpus, 'author:"Alan Turing"') == [turing]
    assert browse(corpus, 'author:"Turing Alan"') == []  # in order
    assert browse(corpus, 'author:"Turing Grace"') == []  # not across two names
    assert browse(corpus, 'author:"Maxim Yurkin"') == [yurkin]  # one word between; hidden one out
    assert browse(corpus, 'author:"maxim yurkin" author:"a yurkin"') == [yurkin]


def test_hidden_papers_are_left_out_of_every_retriever(corpus: SimpleNamespace) -> None:
    hidden = corpus.by_title["Hidden results"]
    assert hidden not in lexical(corpus, "sentence embeddings")
    assert corpus.by_title["Sentence embeddings at scale"] in lexical(corpus, "sentence embeddings")
    pks, total = corpus.backend.browse(parse_query("cat:cs.CL"), 5000, 0)
    assert hidden not in pks and total == len(pks)


def test_browse_is_newest_first_within_the_dates(corpus: SimpleNamespace) -> None:
    query = parse_query("since:2024-03-01 until:2024-03-31")
    pks, total = corpus.backend.browse(query, 1000, 0)
    with corpus.ws.db.session() as session:
        dates = {pk: day for pk, day in session.execute(select(Paper.pk, Paper.published))}
    march = {pk for pk, day in dates.items() if (day.year, day.month) == (2024, 3)}
    assert total == len(march) == len(pks) and set(pks) == march
    assert [dates[pk] for pk in pks] == sorted((dates[pk] for pk in pks), reverse=True)
    assert corpus.backend.browse(query, 10, 10)[0] == pks[10:20]


def test_nothing_to_catch_up_with(corpus: SimpleNamespace, tmp_path: Path) -> None:
    backend = corpus.backend
    assert backend.refresh() is False and backend.is_stale(corpus.ws.db) is False
    assert backend.sync(corpus.ws.db).lexical == 0
    backend.reset()
    counts = backend.counts()
    # A hidden paper is still a paper with a vector; only searches leave it out.
    assert (counts.papers, counts.vectors) == (N + len(TEXTS), N + len(TEXTS))


def test_keyword_postings_follow_inserts_edits_and_deletes(corpus: SimpleNamespace) -> None:
    db = corpus.ws.db
    with db.session() as session:
        paper = Paper(
            id="edit.1",
            title_key="edit1",
            title="Zebrafish fin regeneration",
            abstract="How zebrafish regrow their fins.",
            authors=["A Person"],
            categories=["q-bio.TO"],
            published=DAY0,
            source="test",
        )
        session.add(paper)
        session.flush()
        pk = paper.pk
    assert pk in lexical(corpus, "zebrafish")
    with db.session() as session:
        session.execute(
            text(
                "UPDATE papers SET title = 'Axolotl limb regeneration', abstract = 'Limbs.' "
                "WHERE pk = :pk"
            ),
            {"pk": pk},
        )
    assert pk not in lexical(corpus, "zebrafish")
    assert pk in lexical(corpus, "axolotl limb")
    with db.session() as session:
        session.execute(text("DELETE FROM papers WHERE pk = :pk"), {"pk": pk})
        left = session.scalar(
            text("SELECT count(*) FROM paper_terms WHERE paper_pk = :pk"), {"pk": pk}
        )
    assert left == 0 and pk not in lexical(corpus, "axolotl")


def test_each_words_best_papers_give_the_exhaustive_ranking(corpus: SimpleNamespace) -> None:
    """The candidate cut (each word's ``depth`` best postings) ranks as scoring every
    posting does, also when one word is held by every synthetic paper."""
    query = parse_query("synthetic sentence embeddings paper")
    for depth in (3, 10, 40):
        cut = corpus.backend.lexical(query, depth, title_boost=0.25)
        with corpus.ws.db.engine.connect() as connection:
            every = connection.execute(
                text(
                    "SELECT t.paper_pk, sum(w.weight * (t.body_part + 0.25 * t.title_part)) AS s "
                    "FROM paper_terms t JOIN (SELECT lexeme, "
                    "ln(1 + ((SELECT count(*) FROM papers) - count(*) + 0.5) / (count(*) + 0.5))"
                    " AS weight FROM paper_terms WHERE lexeme = ANY(:words) GROUP BY lexeme) w "
                    "ON w.lexeme = t.lexeme JOIN papers p ON p.pk = t.paper_pk "
                    "WHERE NOT p.hidden GROUP BY t.paper_pk ORDER BY s DESC, t.paper_pk "
                    "LIMIT :depth"
                ),
                {"words": ["synthet", "sentenc", "embed", "paper"], "depth": depth},
            ).all()
        assert [h.pk for h in cut] == [int(pk) for pk, _ in every]
        assert [h.score for h in cut] == pytest.approx([float(s) for _, s in every])
