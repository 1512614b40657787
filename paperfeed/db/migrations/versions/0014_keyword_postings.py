"""keyword search in PostgreSQL ranks from BM25 postings, best papers first per word

PostgreSQL only (a no-op on SQLite). ``paper_terms`` holds, for each paper and each lexeme
of its ``search_text`` (PostgreSQL's 'english' parser: stemmed, stopwords dropped), BM25's
term-frequency part for the whole text (``body_part``) and for the title alone
(``title_part``), and ``impact``, their sum at the default title weight. An index on
``(lexeme, impact DESC)`` gives each word's best papers first, so a keyword search reads
a few thousand index entries instead of ranking every paper that holds a common word (at
100,000 papers, ranking with ``ts_rank`` took over a second for common words).

Length normalisation uses fixed average lengths (``AVG_TITLE_TERMS``, ``AVG_BODY_TERMS``),
so a paper's postings never change when others arrive; the idf comes from live document
frequencies at query time. Triggers keep the table in step with ``papers``: a
statement-level trigger on INSERT (one set-based insert per batch), one on UPDATE for the
papers whose ``search_text`` changed; deleting a paper cascades.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BM25's parameters (tantivy's, as the embedded index uses) and the average lengths, in
# lexeme occurrences, of a title and of title + abstract that normalise every paper. SciFact
# nDCG@10 was measured with these (docs/quality.md); the 26,656 real arXiv cs papers of the
# shared sample average 10.4 and 158.6, so longer arXiv abstracts are damped a little more
# than an exact average would.
K1 = 1.2
B = 0.75
AVG_TITLE_TERMS = 8.0
AVG_BODY_TERMS = 110.0
DEFAULT_TITLE_BOOST = 0.25  # SearchConfig.title_boost: orders each word's postings


def _part(tf: str, length: str, average: float) -> str:
    return f"{tf} * {K1 + 1} / ({tf} + {K1} * ({1 - B} + {B} * {length} / {average}))"


_TERM_PARTS = f"""
CREATE FUNCTION paperfeed_term_parts(doc tsvector)
RETURNS TABLE (lexeme text, title_part real, body_part real)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  WITH terms AS (
    SELECT t.lexeme,
           coalesce(cardinality(array_positions(t.weights, 'A')), 0) AS in_title,
           greatest(cardinality(t.positions), 1) AS in_body
    FROM unnest(doc) AS t
  ), lengths AS (
    SELECT greatest(sum(in_title), 1) AS title_len, sum(in_body) AS body_len FROM terms
  )
  SELECT terms.lexeme,
         CASE WHEN in_title = 0 THEN 0
              ELSE {_part("in_title", "title_len", AVG_TITLE_TERMS)} END,
         {_part("in_body", "body_len", AVG_BODY_TERMS)}
  FROM terms, lengths
$$
"""

_INSERT_TERMS = f"""
INSERT INTO paper_terms (lexeme, paper_pk, title_part, body_part, impact)
SELECT parts.lexeme, changed.pk, parts.title_part, parts.body_part,
       parts.body_part + {DEFAULT_TITLE_BOOST} * parts.title_part
FROM changed CROSS JOIN LATERAL paperfeed_term_parts(changed.search_text) AS parts
"""

_ON_INSERT = f"""
CREATE FUNCTION paperfeed_terms_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH changed AS (SELECT pk, search_text FROM new_papers)
  {_INSERT_TERMS};
  RETURN NULL;
END $$
"""

_ON_UPDATE = f"""
CREATE FUNCTION paperfeed_terms_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM paper_terms t USING new_papers n JOIN old_papers o ON o.pk = n.pk
  WHERE t.paper_pk = n.pk AND n.search_text IS DISTINCT FROM o.search_text;
  WITH changed AS (
    SELECT n.pk, n.search_text FROM new_papers n JOIN old_papers o ON o.pk = n.pk
    WHERE n.search_text IS DISTINCT FROM o.search_text
  )
  {_INSERT_TERMS};
  RETURN NULL;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE paper_terms ("
        "paper_pk integer NOT NULL REFERENCES papers(pk) ON DELETE CASCADE, "
        "lexeme text NOT NULL, "
        "title_part real NOT NULL, body_part real NOT NULL, impact real NOT NULL, "
        "PRIMARY KEY (paper_pk, lexeme))"
    )
    op.execute(_TERM_PARTS)
    op.execute(f"WITH changed AS (SELECT pk, search_text FROM papers) {_INSERT_TERMS}")
    op.execute(
        "CREATE INDEX ix_paper_terms_best ON paper_terms (lexeme, impact DESC) INCLUDE (paper_pk)"
    )
    op.execute(_ON_INSERT)
    op.execute(_ON_UPDATE)
    op.execute(
        "CREATE TRIGGER paperfeed_terms_inserted AFTER INSERT ON papers "
        "REFERENCING NEW TABLE AS new_papers FOR EACH STATEMENT "
        "EXECUTE FUNCTION paperfeed_terms_on_insert()"
    )
    op.execute(
        "CREATE TRIGGER paperfeed_terms_updated AFTER UPDATE ON papers "
        "REFERENCING OLD TABLE AS old_papers NEW TABLE AS new_papers FOR EACH STATEMENT "
        "EXECUTE FUNCTION paperfeed_terms_on_update()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS paperfeed_terms_updated ON papers")
    op.execute("DROP TRIGGER IF EXISTS paperfeed_terms_inserted ON papers")
    op.execute("DROP FUNCTION IF EXISTS paperfeed_terms_on_update()")
    op.execute("DROP FUNCTION IF EXISTS paperfeed_terms_on_insert()")
    op.execute("DROP TABLE IF EXISTS paper_terms")
    op.execute("DROP FUNCTION IF EXISTS paperfeed_term_parts(tsvector)")
