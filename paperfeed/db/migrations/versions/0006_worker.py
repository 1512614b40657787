"""worker: the scheduler's lease, and outbox lookups by address

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.db.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    # Subscribing counts an address's recent confirmation mails (the rate limit).
    op.create_index("ix_outbox_to_addr", "outbox", ["to_addr"])


def downgrade() -> None:
    op.drop_index("ix_outbox_to_addr", table_name="outbox")
    op.drop_table("worker_leases")
