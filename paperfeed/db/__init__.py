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
from paperfeed.db.session import (
    Database,
    DatabaseBusyError,
    DatabaseDamagedError,
    DiskFullError,
)

__all__ = [
    "Base",
    "Comment",
    "Database",
    "DatabaseBusyError",
    "DatabaseDamagedError",
    "DiskFullError",
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
