"""Counts about a workspace, for `paperfeed stats` and the web footer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from paperfeed.db import Embedding, IngestRun, Listing, Paper
from paperfeed.search import embed
from paperfeed.workspace import Workspace


def count_papers(workspace: Workspace) -> int:
    with workspace.db.session() as session:
        return session.scalar(select(func.count(Paper.pk))) or 0


def collect_stats(workspace: Workspace) -> dict[str, Any]:
    with workspace.db.session() as session:
        by_source = dict(
            session.execute(select(Paper.source, func.count()).group_by(Paper.source)).all()
        )
        embedded = session.scalar(
            select(func.count()).select_from(Embedding).where(Embedding.model == embed.MODEL_ID)
        )
        listings = session.scalar(select(func.count(Listing.pk)))
        first, last = session.execute(
            select(func.min(Paper.published), func.max(Paper.published))
        ).one()
        runs = session.scalars(select(IngestRun).order_by(IngestRun.pk.desc()).limit(5)).all()
        recent = [
            f"{r.started_at:%Y-%m-%d %H:%M} {r.source} {r.status}: +{r.added} ~{r.updated} "
            f"={r.unchanged} !{r.problems}"
            for r in runs
        ]
    counts = workspace.indexes.counts()
    return {
        "papers": sum(by_source.values()),
        "by_source": by_source,
        "embedded": embedded,
        "embedding_model": embed.MODEL_ID,
        "listings": listings,
        "published_from": first.date().isoformat() if first else None,
        "published_to": last.date().isoformat() if last else None,
        "lexical_index_docs": counts.papers,
        "dense_index_vectors": counts.vectors,
        "data_dir": str(workspace.settings.data_dir.resolve()),
        "recent_ingests": recent,
    }
