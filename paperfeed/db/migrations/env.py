"""Alembic environment: runs migrations on the connection handed in by ``Database.migrate``."""

from alembic import context
from sqlalchemy import create_engine

from paperfeed.db.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # plain `alembic` command line, e.g. `alembic revision --autogenerate`
    with create_engine(config.get_main_option("sqlalchemy.url")).begin() as conn:
        _run(conn)
