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
    Paper,
    SourceCheckpoint,
    SourceRun,
    User,
    Vote,
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
    "Paper",
    "SourceCheckpoint",
    "SourceRun",
    "User",
    "Vote",
]
