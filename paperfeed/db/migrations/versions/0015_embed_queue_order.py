"""The embedding queue in claim order: an index on ``embed_queue (seq, paper_pk)``

Embedders claim the oldest queued papers first (``ORDER BY seq, paper_pk LIMIT n``). Without
an index each claim sorted the whole queue, so emptying a queue of N papers took time in
N squared: after a bulk import of a million papers, hours instead of minutes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_embed_queue_order", "embed_queue", ["seq", "paper_pk"])


def downgrade() -> None:
    op.drop_index("ix_embed_queue_order", table_name="embed_queue")
