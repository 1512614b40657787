"""vocabulary: acronyms the papers define, for expanding queries both ways

``paper_acronyms`` holds, per paper, each "long form (SHORT)" its abstract defines, with
normalised keys for lookups; ``vocabulary_state`` how far (``change_seq``) the mining has
read. Both are derived from ``papers`` and filled by the next catch-up.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_acronyms",
        sa.Column(
            "paper_pk",
            sa.Integer(),
            sa.ForeignKey("papers.pk", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("acronym_key", sa.String(length=32), primary_key=True),
        sa.Column("expansion_key", sa.String(length=255), primary_key=True),
        sa.Column("acronym", sa.String(length=32), nullable=False),
        sa.Column("expansion", sa.String(length=255), nullable=False),
    )
    op.create_index("ix_paper_acronyms_acronym_key", "paper_acronyms", ["acronym_key"])
    op.create_index("ix_paper_acronyms_expansion_key", "paper_acronyms", ["expansion_key"])
    op.create_table(
        "vocabulary_state",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("seen_seq", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("vocabulary_state")
    op.drop_table("paper_acronyms")
