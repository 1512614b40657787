"""Settings: one object, read from ``PAPERFEED_*`` environment variables (and ``.env``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable. Defaults give a working embedded (SQLite) install in ./data."""

    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None  # e.g. postgresql+psycopg://user:pw@host/db; default SQLite
    host: str = "127.0.0.1"
    port: int = 8000
    ingest_batch_size: int = 500
    embed_threads: int | None = None  # default: number of cores, at most 4

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'paperfeed.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


@cache
def get_settings() -> Settings:
    return Settings()
