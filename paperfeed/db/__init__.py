"""Storage: SQLAlchemy models, the session factory and Alembic migrations."""

from paperfeed.db.models import Base, Embedding, IngestCheckpoint, IngestRun, Listing, Paper
from paperfeed.db.session import Database

__all__ = ["Base", "Database", "Embedding", "IngestCheckpoint", "IngestRun", "Listing", "Paper"]
