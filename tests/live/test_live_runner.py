"""The runner: real replay server, real SQLite, real indexes; faults injected on the wire.

Every harvest here is the real multi-page OAI-PMH set built from real arXivRaw records
(``OaiReplay``: 7 records, 2 a page, 4 pages). Faults are queued from the progress callback,
which runs right after a page is committed, so they hit exactly the next request.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import _backends
import pytest
from _core_helpers import paper_by_id
from _live_helpers import REAL_OAI_IDS, FakeClock, OaiReplay, db_snapshot, serve_hf_days
from replay_server import ReplayServer, Response
from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.db import Database, SourceCheckpoint, SourceRun
from paperfeed.errors import ConflictError, NotFoundError
from paperfeed.live.registry import add_source, build_params, get_source_row, make_client
from paperfeed.live.runner import RunReport, list_sources_with_last_run, run_source
from paperfeed.search import embed, search
from paperfeed.workspace import Workspace

WINDOW = ("2014-10-01", "2015-01-06T20:49:59Z")


@pytest.fixture
def replay(replay_server: ReplayServer) -> OaiReplay:
    return OaiReplay(replay_server, per_page=2)


@pytest.fixture
def oai_workspace(live_workspace: Workspace, replay: OaiReplay) -> Workspace:
    params = build_params("arxiv-oai", oai_set="physics", from_date="2014-10-01")
    add_source(live_workspace, "oai", "arxiv-oai", params)
    return live_workspace


def _run(workspace: Workspace, fake_clock: FakeClock, name: str = "oai", **kwargs) -> RunReport:
    """A run whose client waits on ``fake_clock`` (back-off and Retry-After cost no time)."""
    with make_client(workspace.settings, sleep=fake_clock.sleep, clock=fake_clock) as client:
        return run_source(workspace, name, client=client, **{"index": False, **kwargs})


def _ids(workspace: Workspace) -> list[str]:
    papers, _listings = db_snapshot(_db_file(workspace))
    return [row[0] for row in papers]


def _db_file(workspace: Workspace) -> Database:
    return workspace.db


def _runs(workspace: Workspace) -> list[SourceRun]:
    with workspace.db.session() as session:
        return list(session.scalars(select(SourceRun).order_by(SourceRun.pk)))


def _cursor(workspace: Workspace, name: str = "oai") -> dict:
    with workspace.db.session() as session:
        checkpoint = session.get(SourceCheckpoint, get_source_row(session, name).pk)
        assert checkpoint is not None
        return checkpoint.cursor


def _clean_harvest(tmp_path: Path, settings: Settings, fake_clock: FakeClock) -> Database:
    """The same harvest, uninterrupted, into a database of its own (on the same backend)."""
    database = _backends.settings_for(tmp_path / "clean").database_url
    clean = {"data_dir": tmp_path / "clean", "database_url": database}
    workspace = Workspace.create(settings.model_copy(update=clean))
    add_source(workspace, "oai", "arxiv-oai", build_params("arxiv-oai", from_date="2014-10-01"))
    assert _run(workspace, fake_clock).status == "ok"
    return workspace.db


# -- a clean harvest --------------------------------------------------------------------------


def test_multi_page_harvest_stores_exactly_the_set_and_records_the_run(
    oai_workspace: Workspace, replay: OaiReplay, replay_server: ReplayServer, fake_clock: FakeClock
) -> None:
    seen: list[tuple[str, int, int]] = []
    report = _run(oai_workspace, fake_clock, progress=lambda *args: seen.append(args))
    assert (report.status, report.error, report.ok) == ("ok", None, True)
    assert (report.pages, report.added, report.updated, report.skipped, report.failed) == (
        4,
        7,
        0,
        0,
        0,
    )
    assert (report.window_from, report.window_until) == WINDOW
    assert seen == [("oai", 1, 2), ("oai", 2, 4), ("oai", 3, 6), ("oai", 4, 7)]
    assert _ids(oai_workspace) == sorted(REAL_OAI_IDS)
    [run] = _runs(oai_workspace)
    assert (run.status, run.pages, run.added, run.window_from, run.window_until) == (
        "ok",
        4,
        7,
        *WINDOW,
    )
    assert (run.host, run.pid) == (socket.gethostname(), os.getpid())
    assert run.finished_at is not None and run.error is None
    # The window ends at the server's responseDate: the next run starts there.
    assert _cursor(oai_workspace) == {"from": "2015-01-06"}
    assert replay.page_requests(replay_server) == [0, *replay.tokens]


def test_next_run_asks_from_the_end_of_the_last_window_and_changes_nothing(
    oai_workspace: Workspace, replay_server: ReplayServer, fake_clock: FakeClock
) -> None:
    _run(oai_workspace, fake_clock)
    before = db_snapshot(_db_file(oai_workspace))
    replay_server.clear_log()
    again = _run(oai_workspace, fake_clock)
    assert replay_server.requests[0].query["from"] == "2015-01-06"
    assert (again.added, again.updated, again.skipped) == (0, 0, 7)
    assert db_snapshot(_db_file(oai_workspace)) == before


# -- faults -----------------------------------------------------------------------------------


def test_503_with_retry_after_mid_harvest_is_waited_out(
    oai_workspace: Workspace, replay_server: ReplayServer, fake_clock: FakeClock
) -> None:
    def after_page(_name: str, pages: int, _records: int) -> None:
        if pages == 2:
            replay_server.fail_next(503, retry_after=7)

    report = _run(oai_workspace, fake_clock, progress=after_page)
    assert report.ok and report.pages == 4
    assert fake_clock.sleeps == [7.0]  # Retry-After honoured
    assert len(replay_server.requests) == 5  # page 3 asked twice
    assert _ids(oai_workspace) == sorted(REAL_OAI_IDS)


def test_connection_dropped_mid_page_is_retried(
    oai_workspace: Workspace, replay_server: ReplayServer, fake_clock: FakeClock
) -> None:
    def after_page(_name: str, pages: int, _records: int) -> None:
        if pages == 1:
            replay_server.drop_next()  # headers and half the body, then hang up

    report = _run(oai_workspace, fake_clock, progress=after_page)
    assert report.ok and report.added == 7
    assert fake_clock.sleeps == [1.0]  # the client's back-off
    assert _ids(oai_workspace) == sorted(REAL_OAI_IDS)


def test_malformed_page_fails_the_run_keeps_committed_pages_and_the_next_run_finishes(
    oai_workspace: Workspace,
    replay: OaiReplay,
    replay_server: ReplayServer,
    fake_clock: FakeClock,
    tmp_path: Path,
) -> None:
    def after_page(_name: str, pages: int, _records: int) -> None:
        if pages == 2:
            replay_server.malformed_next()  # a well-framed 200 whose XML is cut in half

    failed = _run(oai_workspace, fake_clock, progress=after_page)
    assert (failed.status, failed.pages, failed.added) == ("failed", 2, 4)
    assert failed.error is not None
    assert "/oai?verb=ListRecords&resumptionToken=726959%7C5" in failed.error
    assert "not an OAI-PMH XML response" in failed.error
    assert _ids(oai_workspace) == sorted(REAL_OAI_IDS[:4])  # the committed pages stay
    assert _cursor(oai_workspace)["token"] == replay.tokens[1]
    [run] = _runs(oai_workspace)
    assert (run.status, run.error, run.pages) == ("failed", failed.error, 2)

    replay_server.clear_log()
    resumed = _run(oai_workspace, fake_clock)
    assert resumed.ok and resumed.resumed
    assert replay.page_requests(replay_server) == replay.tokens[1:]  # from the failed page on
    assert (resumed.added, resumed.pages) == (3, 2)
    assert db_snapshot(_db_file(oai_workspace)) == db_snapshot(
        _clean_harvest(tmp_path, oai_workspace.settings, fake_clock)
    )


def test_expired_token_restarts_the_window_to_the_same_database(
    oai_workspace: Workspace,
    replay: OaiReplay,
    replay_server: ReplayServer,
    fake_clock: FakeClock,
    tmp_path: Path,
) -> None:
    def after_page(_name: str, pages: int, _records: int) -> None:
        if pages == 2:
            replay_server.malformed_next()

    _run(oai_workspace, fake_clock, progress=after_page)  # stops holding tokens[1]
    replay.expire(replay.tokens[1])  # ... which has expired by the next run
    replay_server.clear_log()
    report = _run(oai_workspace, fake_clock)
    assert report.ok
    assert report.notes == ["resumption token expired; restarted the window from 2014-10-01"]
    assert replay.page_requests(replay_server) == [replay.tokens[1], 0, *replay.tokens]
    assert (report.added, report.skipped) == (3, 4)  # pages seen before change nothing
    assert _runs(oai_workspace)[-1].notes == report.notes[0]
    assert db_snapshot(_db_file(oai_workspace)) == db_snapshot(
        _clean_harvest(tmp_path, oai_workspace.settings, fake_clock)
    )


def test_a_source_being_harvested_by_a_live_process_is_not_run_twice(
    oai_workspace: Workspace, fake_clock: FakeClock
) -> None:
    with oai_workspace.db.session() as session:
        source = get_source_row(session, "oai")
        session.add(SourceRun(source_pk=source.pk, host=socket.gethostname(), pid=os.getpid()))
    with pytest.raises(ConflictError, match=f"being harvested by process {os.getpid()}"):
        _run(oai_workspace, fake_clock)


def test_an_unknown_source_is_named_with_the_configured_ones(
    oai_workspace: Workspace, fake_clock: FakeClock
) -> None:
    with pytest.raises(NotFoundError, match=r"no live source named 'nope'; configured: oai"):
        _run(oai_workspace, fake_clock, name="nope")


# -- politeness -------------------------------------------------------------------------------


def test_arxiv_hosts_are_paced_three_seconds_apart_by_default(
    replay: OaiReplay, tmp_path: Path, fake_clock: FakeClock
) -> None:
    assert (Settings().arxiv_min_interval, Settings().hf_min_interval) == (3.0, 1.0)
    settings = Settings(data_dir=tmp_path / "data", arxiv_oai_url=replay.url)  # default pacing
    workspace = Workspace.create(settings)
    add_source(workspace, "oai", "arxiv-oai", build_params("arxiv-oai"))
    report = _run(workspace, fake_clock)
    assert report.pages == 4
    assert fake_clock.sleeps == [3.0, 3.0, 3.0]  # between the four requests
    workspace.db.engine.dispose()


# -- Hugging Face and RSS ----------------------------------------------------------------------


def test_hf_upvotes_land_as_external_listing_counts(
    live_workspace: Workspace, replay_server: ReplayServer, fake_clock: FakeClock
) -> None:
    serve_hf_days(replay_server)
    params = build_params("hf-daily", from_date="2026-08-13", until_date="2026-08-19")
    add_source(live_workspace, "hf", "hf-daily", params)
    report = _run(live_workspace, fake_clock, name="hf")
    # 121 entries on 5 weekdays (the weekend answers []); 2608.12313 is listed twice.
    assert (report.pages, report.added, report.updated, report.failed) == (7, 120, 1, 0)
    paper = paper_by_id(live_workspace, "2608.12313")
    assert [(x.source, x.day.isoformat(), x.upvotes) for x in paper.listings] == [
        ("hf-daily", "2026-08-13", 2),
        ("hf-daily", "2026-08-19", 27),
    ]
    assert paper.votes == 0  # Hugging Face's upvotes are not our users' votes
    assert _cursor(live_workspace, "hf") == {"next_day": "2026-08-20"}
    again = _run(live_workspace, fake_clock, name="hf")  # --until reached: nothing to ask
    assert (again.status, again.pages) == ("ok", 0)


def test_rss_304_is_a_successful_run_with_nothing_new(
    live_workspace: Workspace, replay_server: ReplayServer, fake_clock: FakeClock
) -> None:
    from _live_helpers import RSS_FILE

    replay_server.add(
        "/rss/cs.LG+stat.ML",
        Response(body=RSS_FILE.read_text(), content_type="application/rss+xml", etag='"d24"'),
    )
    add_source(
        live_workspace,
        "ml",
        "arxiv-rss",
        build_params("arxiv-rss", categories=["cs.LG", "stat.ML"]),
    )
    first = _run(live_workspace, fake_clock, name="ml")
    assert (first.added, first.window_from, first.window_until) == (4, "2026-09-24", "2026-09-24")
    second = _run(live_workspace, fake_clock, name="ml")
    assert (second.status, second.added, second.updated, second.pages) == ("ok", 0, 0, 1)
    assert second.notes == ["feed not modified since the last run"]
    assert replay_server.requests[1].headers["if-none-match"] == '"d24"'
    listed = paper_by_id(live_workspace, "2609.26811").listings
    assert [(x.source, x.day.isoformat()) for x in listed] == [("arxiv-rss", "2026-09-24")]


# -- indexing -----------------------------------------------------------------------------------


def test_embedding_failure_keeps_the_papers_and_the_next_run_makes_them_searchable(
    oai_workspace: Workspace, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_model() -> embed.Embedder:
        raise RuntimeError("model file unreadable")

    monkeypatch.setattr(embed, "get_embedder", broken_model)
    report = _run(oai_workspace, fake_clock, index=True)
    assert report.status == "ok" and not report.ok
    assert report.index_error == "model file unreadable"
    assert _ids(oai_workspace) == sorted(REAL_OAI_IDS)  # the metadata is committed
    [run] = _runs(oai_workspace)
    assert run.status == "ok" and "search index not updated (model file unreadable)" in run.notes

    monkeypatch.undo()
    again = _run(oai_workspace, fake_clock, index=True)
    assert again.ok and again.added == 0
    hits = search(oai_workspace, "symmetry energy of isospin asymmetric nuclear matter").hits
    assert hits[0].paper.id == "0704.0471"
    assert oai_workspace.indexes.counts().vectors == 7


# -- what the web side will show ---------------------------------------------------------------


def test_sources_are_listed_with_their_last_run_and_cursor(
    oai_workspace: Workspace, live_settings: Settings, fake_clock: FakeClock
) -> None:
    [never] = list_sources_with_last_run(oai_workspace)
    assert (never.name, never.kind, never.last_run, never.cursor) == (
        "oai",
        "arxiv-oai",
        None,
        None,
    )
    assert never.base_url == live_settings.arxiv_oai_url
    assert never.params == {"set": "physics", "from": "2014-10-01", "metadata_prefix": "arXivRaw"}
    _run(oai_workspace, fake_clock)
    [status] = list_sources_with_last_run(oai_workspace)
    run = status.last_run
    assert run is not None
    assert (run.status, run.pages, run.added, run.window_from) == ("ok", 4, 7, "2014-10-01")
    assert run.seconds is not None and run.seconds >= 0
    assert status.cursor == {"from": "2015-01-06"}
    assert status.as_dict()["last_run"]["added"] == 7
