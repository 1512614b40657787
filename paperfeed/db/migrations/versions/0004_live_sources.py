"""live sources: configured sources, their runs and resume checkpoints

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.db.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_sources",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_live_sources_name", "live_sources", ["name"], unique=True)
    op.create_table(
        "source_runs",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "source_pk",
            sa.Integer(),
            sa.ForeignKey("live_sources.pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("window_from", sa.String(length=40), nullable=True),
        sa.Column("window_until", sa.String(length=40), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
    )
    op.create_index("ix_source_runs_source_pk", "source_runs", ["source_pk"])
    op.create_table(
        "source_checkpoints",
        sa.Column(
            "source_pk",
            sa.Integer(),
            sa.ForeignKey("live_sources.pk", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_checkpoints")
    op.drop_table("source_runs")
    op.drop_table("live_sources")
