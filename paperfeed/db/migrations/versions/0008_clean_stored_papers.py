"""clean stored papers: no script links, no unprintable text, no dates the indexes cannot hold

Ingest now checks every record (paperfeed.catalog.validate); papers stored before that may still
carry what it refuses, and one of them is enough to break every later index sync, search and
Atom feed. This brings them to the same rules, in place:

* ``abs_url``/``pdf_url``/``code_url`` that are not http(s) links (``javascript:``,
  ``data:``) become NULL;
* unprintable characters (``bounds.clean_text``) are removed from the title, abstract,
  authors, categories, DOI, journal reference and comments; a changed title gets its
  ``title_key`` recomputed so the paper still de-duplicates against a re-import;
* ``published``/``updated`` outside ``bounds.EARLIEST_DATE..LATEST_DATE`` become NULL (both
  are nullable); a listing dated outside that range is deleted (its day is NOT NULL, and a
  clamped day would invent a listing on 2199-12-31), as ingest now drops such listings;
* versions and listing counts outside what a 32-bit INTEGER holds (or negative) become NULL.

Every changed paper gets a new ``changed_at``, so the next sync re-indexes it. Plain
SQLAlchemy Core: set-based statements for dates and numbers, text cleaned in Python in
batches of ``BATCH`` papers by primary key. Not reversible (the removed data was unsafe).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from paperfeed import bounds
from paperfeed.catalog.records import title_key
from paperfeed.db.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000  # papers read and rewritten per round trip
MAX_INT = 2**31 - 1  # INTEGER on PostgreSQL

_TEXT = ("title", "abstract", "primary_category", "doi", "journal_ref", "comments")
_LISTS = ("authors", "categories")
_URLS = ("abs_url", "pdf_url", "code_url")

papers = sa.table(
    "papers",
    sa.column("pk", sa.Integer),
    sa.column("title_key", sa.String),
    *(sa.column(name, sa.Text) for name in (*_TEXT, *_URLS)),
    *(sa.column(name, sa.JSON) for name in _LISTS),
    sa.column("version", sa.Integer),
    sa.column("published", UTCDateTime),
    sa.column("updated", UTCDateTime),
    sa.column("changed_at", UTCDateTime),
)
listings = sa.table(
    "listings",
    sa.column("pk", sa.Integer),
    sa.column("paper_pk", sa.Integer),
    sa.column("day", sa.Date),
    sa.column("upvotes", sa.Integer),
    sa.column("comments", sa.Integer),
)


def upgrade() -> None:
    connection = op.get_bind()
    now = datetime.now(UTC)
    _fix_dates(connection, now)
    _fix_numbers(connection, now)
    _clean_text(connection, now)


def downgrade() -> None:
    """Nothing to undo: the removed links, characters and dates were never valid."""


def _fix_dates(connection: sa.Connection, now: datetime) -> None:
    earliest = bounds.earliest_datetime()
    after = datetime.combine(bounds.LATEST_DATE + timedelta(days=1), datetime.min.time(), UTC)
    for name in ("published", "updated"):
        column = papers.c[name]
        connection.execute(
            sa.update(papers)
            .where(sa.or_(column < earliest, column >= after))
            .values({name: None, "changed_at": now})
        )
    bad_day = sa.or_(listings.c.day < bounds.EARLIEST_DATE, listings.c.day > bounds.LATEST_DATE)
    connection.execute(
        sa.update(papers)
        .where(papers.c.pk.in_(sa.select(listings.c.paper_pk).where(bad_day)))
        .values(changed_at=now)
    )
    connection.execute(sa.delete(listings).where(bad_day))


def _fix_numbers(connection: sa.Connection, now: datetime) -> None:
    version = papers.c.version
    connection.execute(
        sa.update(papers)
        .where(sa.or_(version < 1, version > MAX_INT))
        .values(version=None, changed_at=now)
    )
    for name in ("upvotes", "comments"):
        column = listings.c[name]
        connection.execute(
            sa.update(listings).where(sa.or_(column < 0, column > MAX_INT)).values({name: None})
        )


def _clean_text(connection: sa.Connection, now: datetime) -> None:
    names = ("title_key", *_TEXT, *_LISTS, *_URLS)
    read = sa.select(papers.c.pk, *(papers.c[name] for name in names)).order_by(papers.c.pk)
    write = (
        sa.update(papers)
        .where(papers.c.pk == sa.bindparam("b_pk"))
        .values({name: sa.bindparam(f"b_{name}") for name in names} | {"changed_at": now})
    )
    last = None
    while True:
        query = read if last is None else read.where(papers.c.pk > last)
        rows = connection.execute(query.limit(BATCH)).mappings().all()
        if not rows:
            return
        last = rows[-1]["pk"]
        changed = [fixed for row in rows if (fixed := _cleaned(row)) is not None]
        if changed:
            connection.execute(write, [{f"b_{k}": v for k, v in row.items()} for row in changed])


def _cleaned(row: sa.RowMapping) -> dict[str, Any] | None:
    """The row with its text cleaned, or None when nothing needed cleaning."""
    fixed: dict[str, Any] = dict(row)
    for name in _TEXT:
        if isinstance(row[name], str):
            fixed[name] = bounds.clean_text(row[name])
    for name in _LISTS:
        if isinstance(row[name], list):
            items = (bounds.clean_text(x) if isinstance(x, str) else x for x in row[name])
            fixed[name] = [x for x in items if x != ""]
    for name in _URLS:
        if row[name] is not None:
            fixed[name] = bounds.safe_url(row[name])
    if fixed == dict(row):
        return None
    if fixed["title"] != row["title"]:
        fixed["title_key"] = title_key(fixed["title"] or "")
    return fixed
