"""Alembic environment: runs migrations on the connection handed in by ``Database.migrate``."""

from alembic import context
from sqlalchemy import Connection, create_engine

from paperfeed.db.models import Base
from paperfeed.errors import ConfigError

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
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
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise ConfigError("alembic: set sqlalchemy.url to the database to migrate")
    with create_engine(url).begin() as conn:
        _run(conn)
