"""Settings: one object, read from ``PAPERFEED_*`` environment variables (and ``.env``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable. Defaults give a working embedded (SQLite) install in ./data."""

    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None  # e.g. postgresql+psycopg://user:pw@host/db; default SQLite
    # A PostgreSQL read replica of ``database_url``: feeds, paper pages and search results are
    # read from it (and page caches follow its data version); every write goes to the primary.
    database_read_url: str | None = None
    # Where the search indexes live: "auto" is PostgreSQL's own on a PostgreSQL database (every
    # node sees the same), else embedded files in <data_dir>/index; "embedded" forces files.
    search_backend: Literal["auto", "embedded", "postgres"] = "auto"
    host: str = "127.0.0.1"
    port: int = 8000
    serve_workers: int = 1  # `paperfeed serve` processes (uvicorn workers); see docs
    ingest_batch_size: int = 500
    embed_threads: int | None = None  # default: number of cores, at most 4
    # onnxruntime execution providers for embedding papers, comma separated, in order of
    # preference, e.g. "CUDAExecutionProvider,CPUExecutionProvider" (docs/performance.md).
    embed_providers: str = "CPUExecutionProvider"

    # Web app. The session cookie is signed with this key (default: one made once and kept in
    # <data_dir>/secret_key) and names a session kept in the database.
    secret_key: str | None = None
    # Send the session cookie over HTTPS only (its ``Secure`` flag). Default: on when
    # ``base_url`` is https. Set it false only to test an https ``base_url`` over plain http.
    cookie_secure: bool | None = None
    # Rate limits on log-in, sign-up and every write (paperfeed.community.throttle). Turn them
    # off only for a private instance or a load benchmark.
    rate_limits: bool = True
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto `paperfeed serve` believes (comma
    # separated addresses or networks, "*" for any): the client address rate limits count
    # by comes from them. Default: a reverse proxy on the same host.
    forwarded_allow_ips: str = "127.0.0.1"
    site_name: str = "paperfeed"
    # Accounts named here are made admins when they sign up (comma separated).
    admin_users: str = ""

    # Live sources: who we are to the services we poll, and where they live (tests point
    # these at a local replay server).
    contact_email: str = "admin@localhost"
    user_agent: str | None = None  # default: "paperfeed/<version> (mailto:<contact_email>)"
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_oai_url: str = "https://oaipmh.arxiv.org/oai"
    arxiv_rss_url: str = "https://rss.arxiv.org/rss"
    hf_api_url: str = "https://huggingface.co/api"
    http_timeout: float = 20.0
    # Least seconds between two requests to one host. arXiv's terms ask for one request every
    # 3 s; Hugging Face publishes no figure, 1 s keeps us a light client.
    arxiv_min_interval: float = 3.0
    hf_min_interval: float = 1.0

    # Mail (docs/mail.md). ``base_url`` is where people reach the web app: links in mails
    # (confirm, unsubscribe, papers) are built from it, and its host names the Message-IDs.
    base_url: str = "http://127.0.0.1:8000"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False  # upgrade a plain connection with STARTTLS (port 587)
    smtp_ssl: bool = False  # implicit TLS from the first byte (port 465)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "paperfeed <paperfeed@localhost>"
    smtp_timeout: float = 30.0
    # A CA bundle (PEM) to trust besides the system's, e.g. for a relay with a private CA.
    smtp_ca_file: Path | None = None
    digest_max_papers: int = 10
    digest_send_empty: bool = False  # mail a digest even when nothing is new
    mail_max_attempts: int = 8  # temporary failures before a mail is given up as failed
    mail_retry_base: float = 60.0  # seconds before the first retry; doubles each time ...
    mail_retry_max: float = 6 * 3600.0  # ... up to this
    # How long a sender owns a claimed mail. A sender killed mid-send leaves its claim; the
    # mail is due again when it expires, so keep it well above smtp_timeout.
    mail_claim_timeout: float = 300.0
    # Confirmation mails one address may be sent per hour: subscribing is open to anyone, so
    # without a cap a form could be used to flood a stranger's inbox.
    subscribe_confirmations_per_hour: int = 3

    # ``paperfeed worker`` (docs/worker.md): when each job runs. A schedule is an interval
    # ("30s", "15m", "1h", "1d"), a 5-field crontab ("0 7 * * *", in ``worker_timezone``)
    # or "off".
    worker_sources: str = "1h"  # run every enabled live source
    worker_digests: str = "0 7 * * *"  # queue the digests that are due
    worker_send: str = "1m"  # drain the outbox (confirmations go out within a minute)
    worker_submissions: str = "10s"  # fetch papers submitted by id from arXiv
    worker_index: str = "1m"  # embed queued papers, bring the search indexes up to date
    worker_timezone: str = "UTC"
    # The worker's lock is a lease in the database, renewed every third of this many seconds;
    # a second worker waits until it expires (the first one died) before taking over.
    worker_lease: float = 60.0

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'paperfeed.db').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.base_url.lower().startswith("https://")

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


@cache
def get_settings() -> Settings:
    return Settings()
