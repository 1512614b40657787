"""submission requests: papers submitted by id wait for the worker, which alone asks arXiv

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.db.models import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "submission_requests",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("arxiv_id", sa.String(length=64), nullable=False),
        sa.Column(
            "user_pk", sa.Integer(), sa.ForeignKey("users.pk", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paper_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_submission_requests_arxiv_id", "submission_requests", ["arxiv_id"])
    op.create_index("ix_submission_requests_status", "submission_requests", ["status"])


def downgrade() -> None:
    op.drop_table("submission_requests")
