"""search inside PostgreSQL: pgvector HNSW over halfvec, a tsvector column, filter indexes

PostgreSQL only (a no-op on SQLite, whose search indexes are files beside the database):

- the ``vector`` extension (pgvector), and ``embeddings.embedding halfvec(384)``, a copy of
  ``embeddings.vector`` (float32 bytes, kept for backups and the embedded backend) at half
  precision, filled from it here and by ``catchup.store_vectors`` from now on, with an HNSW
  index for inner product (the vectors are L2-normalised, so inner product is cosine);
- ``papers.search_text``, a stored generated ``tsvector`` (title weight A, abstract weight B,
  the 'english' configuration) with a GIN index, for keyword search. Kept in the row
  (``STORAGE MAIN``; the abstract moves out first): ranking reads it once per word, and
  fetching it from the TOAST table each time made keyword search three times slower
  (26,051 buffers instead of 2,743 for a five-word SciFact query);
- GIN indexes for the filters: ``categories::jsonb`` (``cat:``) and a 'simple' ``tsvector``
  of the author names (``author:``); ``published`` and ``hidden`` are indexed already.

Creating an extension needs a privilege ordinary roles may lack: then this fails with the
SQL an administrator must run once.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIM = 384  # embed.DIM when this was written; a model of another width needs a new migration
# HNSW build parameters (pgvector's defaults: m 16, ef_construction 64). Recall@10 of the
# graph against an exact scan, 100 queries, at hnsw.ef_search 40 / 100 / 200: on 3,004
# random unit vectors (the hardest case: no clusters) 0.631 / 0.885 / 1.000 with
# ef_construction 64, 0.672 / 0.896 / 1.000 with 128; on SciFact's 5,183 abstracts 0.999 /
# 1.000 / 1.000 (recall@100 at ef_search 200: 0.999). ``PostgresSearch`` searches at 200.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
_BATCH = 2000  # vectors copied per statement while backfilling

_NEEDS_EXTENSION = (
    "PostgreSQL search needs the pgvector extension in this database, and the database "
    "role paperfeed connects as may not create it ({reason}). Ask an administrator to run, "
    "as a superuser, in this database:  CREATE EXTENSION IF NOT EXISTS vector;  "
    "then run `paperfeed init` again"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _create_vector_extension(bind)
    op.execute(f"ALTER TABLE embeddings ADD COLUMN embedding halfvec({DIM})")
    _backfill_halfvec(bind)
    op.execute(
        "CREATE INDEX ix_embeddings_embedding_hnsw ON embeddings "
        f"USING hnsw (embedding halfvec_ip_ops) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
    )
    op.execute(
        "ALTER TABLE papers ADD COLUMN search_text tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
        "setweight(to_tsvector('english'::regconfig, coalesce(abstract, '')), 'B')"
        ") STORED, ALTER COLUMN search_text SET STORAGE MAIN"
    )
    op.execute("CREATE INDEX ix_papers_search_text ON papers USING gin (search_text)")
    op.execute("CREATE INDEX ix_papers_categories_jsonb ON papers USING gin ((categories::jsonb))")
    op.execute(
        "CREATE INDEX ix_papers_authors_tsv ON papers USING gin ("
        "jsonb_to_tsvector('simple'::regconfig, authors::jsonb, '[\"string\"]'))"
    )


def _create_vector_extension(bind: sa.Connection) -> None:
    """Create pgvector unless it is there; a clear error naming the SQL when it cannot be."""
    if bind.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")):
        return
    if not bind.scalar(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")):
        from paperfeed.errors import ConfigError

        raise ConfigError(
            "PostgreSQL search needs the pgvector extension, which this PostgreSQL server "
            "does not have: install pgvector (https://github.com/pgvector/pgvector) on the "
            "server, then run, as a superuser, in this database:  "
            "CREATE EXTENSION IF NOT EXISTS vector;  and `paperfeed init` again"
        )
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError as exc:
        from paperfeed.errors import ConfigError

        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise ConfigError(_NEEDS_EXTENSION.format(reason=reason)) from None


def _backfill_halfvec(bind: sa.Connection) -> None:
    """Copy the stored float32 vectors into the halfvec column, a batch per statement."""
    last = -1
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT paper_pk, vector FROM embeddings WHERE paper_pk > :last "
                "ORDER BY paper_pk LIMIT :batch"
            ),
            {"last": last, "batch": _BATCH},
        ).all()
        if not rows:
            return
        pks, texts = [], []
        for pk, vector in rows:
            values = np.frombuffer(vector, dtype=np.float32)
            if len(values) == DIM:  # another width cannot be searched here: left NULL
                pks.append(pk)
                texts.append("[" + ",".join(f"{v:.7g}" for v in values.tolist()) + "]")
        if pks:
            bind.execute(
                sa.text(
                    f"UPDATE embeddings e SET embedding = CAST(v.vec AS halfvec({DIM})) "
                    "FROM unnest(CAST(:pks AS integer[]), CAST(:vecs AS text[])) AS v(pk, vec) "
                    "WHERE e.paper_pk = v.pk"
                ),
                {"pks": pks, "vecs": texts},
            )
        last = rows[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_papers_authors_tsv")
    op.execute("DROP INDEX IF EXISTS ix_papers_categories_jsonb")
    op.execute("DROP INDEX IF EXISTS ix_papers_search_text")
    op.execute("ALTER TABLE papers DROP COLUMN IF EXISTS search_text")
    op.execute("DROP INDEX IF EXISTS ix_embeddings_embedding_hnsw")
    op.execute("ALTER TABLE embeddings DROP COLUMN IF EXISTS embedding")
    # The extension stays: other schemas in the database may use it.
