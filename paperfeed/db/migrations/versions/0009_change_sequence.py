"""change sequence: a data version in commit order, and a queue of papers to embed

The indexes used to catch up by timestamps taken from each writer's clock, which can skip a
paper committed out of order (or by a machine whose clock lags). Now every content-changing
transaction takes the next value of ``data_version`` (one row, locked until commit, so values
are handed out in commit order); papers carry the value of their last indexed change
(``change_seq``) and vectors the value they were stored at (``embeddings.seq``). Papers that
need a vector wait in ``embed_queue``, so embedders read only what changed.

Existing rows all start at version 1 (the indexes rebuild once, from the database: their
layout changes too); the queue starts with every paper whose vector is missing or older
than its last change (the embedder compares text hashes and keeps vectors still current).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO data_version (id, seq) VALUES (1, 1)")
    with op.batch_alter_table("papers") as batch:
        batch.add_column(
            sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.create_index("ix_papers_change_seq", ["change_seq"])
    with op.batch_alter_table("embeddings") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"))
        batch.create_index("ix_embeddings_seq", ["seq"])
    op.execute("UPDATE papers SET change_seq = 1")
    op.execute("UPDATE embeddings SET seq = 1")
    # No default from now on: a writer that forgets to stamp its rows fails loudly instead of
    # storing rows the indexes would never see (paperfeed.db.changes).
    with op.batch_alter_table("papers") as batch:
        batch.alter_column("change_seq", server_default=None)
    with op.batch_alter_table("embeddings") as batch:
        batch.alter_column("seq", server_default=None)
    op.create_table(
        "embed_queue",
        sa.Column(
            "paper_pk",
            sa.Integer(),
            sa.ForeignKey("papers.pk", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO embed_queue (paper_pk, seq) "
        "SELECT p.pk, 1 FROM papers p LEFT JOIN embeddings e ON e.paper_pk = p.pk "
        "WHERE e.paper_pk IS NULL OR e.created_at < p.changed_at"
    )


def downgrade() -> None:
    op.drop_table("embed_queue")
    with op.batch_alter_table("embeddings") as batch:
        batch.drop_index("ix_embeddings_seq")
        batch.drop_column("seq")
    with op.batch_alter_table("papers") as batch:
        batch.drop_index("ix_papers_change_seq")
        batch.drop_column("change_seq")
    op.drop_table("data_version")
