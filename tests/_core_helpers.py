"""Helpers shared by the core tests (imported as ``_core_helpers``, like ``_sources_helpers``)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import _backends
from replay_server import ReplayServer, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from paperfeed.config import Settings
from paperfeed.db import Paper
from paperfeed.search.index.vectors import VectorConfig
from paperfeed.workspace import Workspace

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEED_COUNT = 285  # distinct papers on the five seed pages (360 rows)
MATRYOSHKA = "2D Matryoshka Sentence Embeddings"
# Five real days of huggingface.co/api/daily_papers (2026-08-13 .. 2026-08-19, Mon-Fri).
HF_DATA = Path(__file__).resolve().parent / "data" / "hf_daily"


def make_workspace(data_dir: Path) -> Workspace:
    """A new workspace on the run's backend (``_backends``: SQLite unless asked otherwise)."""
    return Workspace.create(_backends.settings_for(data_dir))


def copy_workspace(
    source: Workspace, data_dir: Path, vector_config: VectorConfig | None = None
) -> Workspace:
    """A private copy of ``source``: the database (vectors included) and the index caches,
    opened with ``vector_config``."""
    if source.db.engine.dialect.name == "postgresql":
        source.db.engine.dispose()  # a template database must have no connections
        data_dir.mkdir(parents=True, exist_ok=True)
        if (source.settings.data_dir / "secret_key").exists():
            shutil.copy2(source.settings.data_dir / "secret_key", data_dir / "secret_key")
        settings = _backends.copy_settings(source.settings, data_dir)
        return Workspace.open(settings, vector_config=vector_config)
    with source.db.engine.connect() as connection:  # fold the WAL into the main file
        busy, _, _ = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    assert busy == 0, "could not checkpoint the source database"
    shutil.copytree(
        source.settings.data_dir, data_dir, ignore=shutil.ignore_patterns("*-wal", "*-shm")
    )
    return Workspace.open(Settings(data_dir=data_dir), vector_config=vector_config)


def count(ws: Workspace, model: type = Paper) -> int:
    with ws.db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def all_papers(ws: Workspace) -> list[Paper]:
    with ws.db.session() as session:
        query = select(Paper).order_by(Paper.pk).options(selectinload(Paper.listings))
        return list(session.scalars(query))


def paper_by_id(ws: Workspace, paper_id: str) -> Paper:
    with ws.db.session() as session:
        found = session.scalar(
            select(Paper).where(Paper.id == paper_id).options(selectinload(Paper.listings))
        )
    assert found is not None, f"no paper {paper_id}"
    return found


def paper_by_title(ws: Workspace, title: str) -> Paper:
    with ws.db.session() as session:
        found = session.scalar(
            select(Paper).where(Paper.title == title).options(selectinload(Paper.listings))
        )
    assert found is not None, f"no paper titled {title!r}"
    return found


def serve_hf_days(server: ReplayServer, path: str = "/api/daily_papers") -> None:
    """Serve the recorded days by ``?date=``; any other day is ``[]``, as Hugging Face
    answers for a day with nothing listed."""
    days = {p.name.split(".")[0]: gzip.decompress(p.read_bytes()) for p in HF_DATA.glob("*.gz")}

    def answer(request: Request) -> Response:
        body = days.get(request.query.get("date", ""), b"[]")
        return Response(body=body, content_type="application/json; charset=utf-8")

    server.add_matcher(lambda request: request.path == path, answer)
