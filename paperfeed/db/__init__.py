"""Storage: SQLAlchemy models, the session factory and Alembic migrations."""

from paperfeed.db.models import (
    Base,
    Comment,
    Embedding,
    IngestCheckpoint,
    IngestRun,
    LibraryItem,
    Listing,
    LiveSource,
    OutboxMessage,
    Paper,
    SourceCheckpoint,
    SourceRun,
    Subscription,
    User,
    Vote,
    WorkerLease,
)
from paperfeed.db.session import Database

__all__ = [
    "Base",
    "Comment",
    "Database",
    "Embedding",
    "IngestCheckpoint",
    "IngestRun",
    "LibraryItem",
    "Listing",
    "LiveSource",
    "OutboxMessage",
    "Paper",
    "SourceCheckpoint",
    "SourceRun",
    "Subscription",
    "User",
    "Vote",
    "WorkerLease",
]
