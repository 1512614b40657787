"""accounts, votes, comments, library; paper vote/comment counters and moderation

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.db.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_users_username", "users", ["username"], unique=True)
    with op.batch_alter_table("papers") as batch:
        batch.add_column(sa.Column("votes", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("num_comments", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("hidden", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("submitted_by_pk", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_papers_submitted_by", "users", ["submitted_by_pk"], ["pk"], ondelete="SET NULL"
        )
        batch.create_index("ix_papers_hidden", ["hidden"])
    op.create_table(
        "votes",
        sa.Column(
            "user_pk", sa.Integer(), sa.ForeignKey("users.pk", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "paper_pk",
            sa.Integer(),
            sa.ForeignKey("papers.pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_pk", "paper_pk"),
    )
    op.create_index("ix_votes_paper_pk", "votes", ["paper_pk"])
    op.create_index("ix_votes_created_at", "votes", ["created_at"])
    op.create_table(
        "comments",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "paper_pk",
            sa.Integer(),
            sa.ForeignKey("papers.pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_pk", sa.Integer(), sa.ForeignKey("users.pk", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False, server_default="0"),
    )
    op.create_index("ix_comments_paper_pk", "comments", ["paper_pk"])
    op.create_index("ix_comments_user_pk", "comments", ["user_pk"])
    op.create_table(
        "library_items",
        sa.Column(
            "user_pk", sa.Integer(), sa.ForeignKey("users.pk", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "paper_pk",
            sa.Integer(),
            sa.ForeignKey("papers.pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_pk", "paper_pk"),
    )
    op.create_index("ix_library_items_created_at", "library_items", ["created_at"])


def downgrade() -> None:
    op.drop_table("library_items")
    op.drop_table("comments")
    op.drop_table("votes")
    with op.batch_alter_table("papers") as batch:
        batch.drop_index("ix_papers_hidden")
        batch.drop_constraint("fk_papers_submitted_by", type_="foreignkey")
        batch.drop_column("submitted_by_pk")
        batch.drop_column("hidden")
        batch.drop_column("num_comments")
        batch.drop_column("votes")
    op.drop_table("users")
