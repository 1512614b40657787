"""Hugging Face details on papers: AI summary and keywords, organisation, submitter, GitHub
stars, project page, thumbnail and media

Columns of ``papers`` (shown and served, never searched or embedded, so no index catches up
and no paper is queued for a vector): ``ai_summary``, ``ai_keywords`` (JSON list),
``org_name`` (indexed: an organisation's page lists its papers) and ``org_fullname``,
``github_stars`` (the repository itself is ``code_url``), ``project_page``, ``submitter``
(the HF user name), ``thumbnail_url`` and ``media_urls`` (where the source has them), and
``thumbnail`` and ``media``, the names of our own cached copies under the data directory.
Existing papers get empty lists and NULLs; the next ingest of their HF listings fills them.

On PostgreSQL, a GIN index over ``authors::jsonb`` (``jsonb_path_ops``) answers the author
pages' ``authors::jsonb @> '["name"]'`` without reading every paper; SQLite scans.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = ("ai_summary", "org_fullname", "project_page", "thumbnail_url")
_LISTS = ("ai_keywords", "media_urls", "media")


def upgrade() -> None:
    with op.batch_alter_table("papers") as batch:
        for name in _TEXT:
            batch.add_column(sa.Column(name, sa.Text(), nullable=True))
        for name in _LISTS:
            batch.add_column(sa.Column(name, sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("org_name", sa.String(96), nullable=True))
        batch.add_column(sa.Column("github_stars", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("submitter", sa.String(96), nullable=True))
        batch.add_column(sa.Column("thumbnail", sa.String(80), nullable=True))
        batch.create_index("ix_papers_org_name", ["org_name"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_papers_authors_jsonb ON papers "
            "USING gin ((authors::jsonb) jsonb_path_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_papers_authors_jsonb")
    with op.batch_alter_table("papers") as batch:
        batch.drop_index("ix_papers_org_name")
        for name in ("thumbnail", "submitter", "github_stars", "org_name", *_LISTS, *_TEXT):
            batch.drop_column(name)
