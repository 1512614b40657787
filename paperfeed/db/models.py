"""The schema. Portable SQL only, so SQLite and PostgreSQL run the same code.

``Paper.id`` is the stable public id (arXiv id without version, else ``title:<hash>``);
``Paper.pk`` is the internal integer key the indexes use.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no timezone type)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; paperfeed stores UTC-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Paper(Base):
    __tablename__ = "papers"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    title_key: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    primary_category: Mapped[str | None] = mapped_column(String(64), index=True)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated: Mapped[datetime | None] = mapped_column(UTCDateTime)
    doi: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    comments: Mapped[str | None] = mapped_column(Text)
    abs_url: Mapped[str | None] = mapped_column(Text)
    pdf_url: Mapped[str | None] = mapped_column(Text)
    code_url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    # What Hugging Face Daily Papers says beyond the metadata (catalog.records.PaperDetails):
    # shown and served, never searched or embedded. ``thumbnail`` and ``media`` name our own
    # cached copies (data/media/); the ``*_url`` columns are where the source has them.
    ai_summary: Mapped[str | None] = mapped_column(Text)
    ai_keywords: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    org_name: Mapped[str | None] = mapped_column(String(96), index=True)
    org_fullname: Mapped[str | None] = mapped_column(Text)
    github_stars: Mapped[int | None] = mapped_column(Integer)
    project_page: Mapped[str | None] = mapped_column(Text)
    submitter: Mapped[str | None] = mapped_column(String(96))
    thumbnail_url: Mapped[str | None] = mapped_column(Text)
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    thumbnail: Mapped[str | None] = mapped_column(String(80))
    media: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on every change (shown to users, e.g. in feeds and exports).
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The data version of the last change to what the indexes hold (paperfeed.db.changes);
    # the indexes catch up by it: a sequence in commit order, unlike clocks.
    change_seq: Mapped[int] = mapped_column(BigInteger, index=True)  # no default: see changes
    # Community state. ``votes`` and ``num_comments`` count our own users' votes and visible
    # comments (kept in step by paperfeed.community.activity, so feeds sort without a join);
    # external upvotes stay on the listings.
    votes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    num_comments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0", index=True)
    submitted_by_pk: Mapped[int | None] = mapped_column(ForeignKey("users.pk", ondelete="SET NULL"))

    listings: Mapped[list[Listing]] = relationship(
        back_populates="paper", cascade="all, delete-orphan", order_by="Listing.day"
    )


class Listing(Base):
    """A paper's appearance in a dated listing, with that listing's own (external) counts."""

    __tablename__ = "listings"
    __table_args__ = (UniqueConstraint("paper_pk", "source", "day"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    paper_pk: Mapped[int] = mapped_column(ForeignKey("papers.pk", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date, index=True)
    upvotes: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)

    paper: Mapped[Paper] = relationship(back_populates="listings")


class Embedding(Base):
    """A paper's vector, tagged with the model and the text it was made from."""

    __tablename__ = "embeddings"

    paper_pk: Mapped[int] = mapped_column(
        ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(128))
    text_hash: Mapped[str] = mapped_column(String(32))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, L2-normalised
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The data version it was stored at: the dense index catches up by it.
    seq: Mapped[int] = mapped_column(BigInteger, index=True)  # no default: see changes


class EmbedQueue(Base):
    """Papers waiting for a vector: new, or of changed title or abstract.

    Filled in the same transaction as the change (paperfeed.db.changes); emptied by the
    embedders (paperfeed.search.catchup), which may run anywhere, any number of them.
    """

    __tablename__ = "embed_queue"
    # Embedders take the oldest first: without this, every claim sorts the whole queue.
    __table_args__ = (Index("ix_embed_queue_order", "seq", "paper_pk"),)

    paper_pk: Mapped[int] = mapped_column(
        ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)  # data version it was queued at


class DataVersion(Base):
    """One row: a counter every content-changing transaction moves forward once.

    Taking the next value locks the row until commit, so values are handed out in commit
    order: whoever has seen version N committed has seen every change numbered below N.
    """

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class IngestRun(Base):
    """One `paperfeed ingest` invocation, kept for `stats` and for diagnosing problems."""

    __tablename__ = "ingest_runs"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    paths: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Who runs it, so a later ingest can tell a crashed run (process gone) from a live one.
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)


class IngestCheckpoint(Base):
    """How far into a file ingest has committed, so an interrupted import resumes there.

    ``fingerprint`` (size and mtime) ties the checkpoint to one version of the file.
    """

    __tablename__ = "ingest_checkpoints"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    email: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(Text)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Vote(Base):
    """One user's upvote of one paper (at most one: the key is the pair)."""

    __tablename__ = "votes"

    user_pk: Mapped[int] = mapped_column(
        ForeignKey("users.pk", ondelete="CASCADE"), primary_key=True
    )
    paper_pk: Mapped[int] = mapped_column(
        ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Comment(Base):
    """A comment on a paper; ``body`` is the Markdown source, rendered (sanitised) on display."""

    __tablename__ = "comments"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    paper_pk: Mapped[int] = mapped_column(ForeignKey("papers.pk", ondelete="CASCADE"), index=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    user: Mapped[User] = relationship()


class LibraryItem(Base):
    """A paper a user saved for later."""

    __tablename__ = "library_items"

    user_pk: Mapped[int] = mapped_column(
        ForeignKey("users.pk", ondelete="CASCADE"), primary_key=True
    )
    paper_pk: Mapped[int] = mapped_column(
        ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LiveSource(Base):
    """A service paperfeed polls (`paperfeed sources add`): what kind, and what to ask it for.

    ``params`` holds the kind's options, e.g. ``{"set": "cs", "metadata_prefix": "arXivRaw",
    "from": "2024-01-01"}`` for OAI-PMH or ``{"categories": ["cs.CL"]}`` for RSS;
    ``base_url`` overrides the service address from the settings.
    """

    __tablename__ = "live_sources"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    base_url: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SourceRun(Base):
    """One harvest of a live source: its window, counts, outcome; kept for `sources list`.

    Counts are records: ``added`` new papers, ``updated`` changed ones, ``skipped`` records
    that changed nothing (or fell outside the source's categories), ``failed`` records that
    could not be read. ``host``/``pid`` tell a crashed run (process gone) from a live one.
    """

    __tablename__ = "source_runs"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_pk: Mapped[int] = mapped_column(
        ForeignKey("live_sources.pk", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    # The harvested window as the service names it (ISO dates or datestamps).
    window_from: Mapped[str | None] = mapped_column(String(40))
    window_until: Mapped[str | None] = mapped_column(String(40))
    pages: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Things worth knowing that are not failures (an expired resumption token, an index
    # that could not be updated), one per line.
    notes: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)


class SourceCheckpoint(Base):
    """Where the next harvest of a source starts; written in the same transaction as the
    papers of each page, so a crash resumes from the last committed page."""

    __tablename__ = "source_checkpoints"

    source_pk: Mapped[int] = mapped_column(
        ForeignKey("live_sources.pk", ondelete="CASCADE"), primary_key=True
    )
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Base):
    """An email address that asked for digests: what kind, with what parameters.

    ``kind`` is ``trending`` (params ``{"period": "daily"|"weekly"}``), ``search``
    (``{"query": ..., "period": ...}``, the CLI query syntax) or ``for_you``. Double opt-in:
    it starts ``pending`` and becomes ``active`` when the confirmation link is opened.
    Papers whose ``first_seen`` is after ``watermark`` are "new" for the next digest; the
    watermark moves in the same transaction that puts the digest in the outbox.
    """

    __tablename__ = "subscriptions"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    user_pk: Mapped[int | None] = mapped_column(
        ForeignKey("users.pk", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A mail to send: written in the transaction that decided to send it, drained by
    ``paperfeed.mail.sender``. ``message_id`` is unique, so the same digest is queued once.

    A sender *claims* a row (``status='sending'``, ``claimed_by``, ``claimed_until``) before
    talking to the server; a claim that expires (the sender died) makes the row due again.
    """

    __tablename__ = "outbox"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_pk: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.pk", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    to_addr: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubmissionRequest(Base):
    """A paper submitted by arXiv id that is not here yet, waiting for the worker to fetch it.

    Web nodes queue it instead of asking arXiv themselves, so the one worker that holds the
    lease keeps arXiv's spacing between requests however many nodes take submissions
    (``paperfeed.community.submit``).
    """

    __tablename__ = "submission_requests"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arxiv_id: Mapped[str] = mapped_column(String(64), index=True)
    user_pk: Mapped[int | None] = mapped_column(ForeignKey("users.pk", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    paper_id: Mapped[str | None] = mapped_column(String(64))  # when done
    error: Mapped[str | None] = mapped_column(Text)  # when failed
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkerLease(Base):
    """A lock held for a while: the process named ``holder`` runs the periodic jobs until
    ``expires_at``, renewing it as it goes (``paperfeed.db.lease``). A lease in the database,
    not a file, so it also holds across hosts sharing one PostgreSQL."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UserSession(Base):
    """A logged-in browser. The cookie carries a random id; only its SHA-256 is stored, so
    a copy of the database does not log anyone in. Deleting the row ends the session
    (log-out, a password change ends the user's other ones); ``expires_at`` bounds it."""

    __tablename__ = "user_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RateCounter(Base):
    """How many times ``key`` (an action and who did it, e.g. ``vote:user:7``) happened in
    one fixed window of time, starting at ``window_start`` (seconds since the epoch, a
    multiple of the limit's period). In the database, so a limit holds across web workers
    and hosts (``paperfeed.community.throttle``); rows past ``expires_at`` are no longer read
    and are pruned."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PaperAcronym(Base):
    """An acronym a paper defines in its abstract, as "long form (SHORT)", with that long form
    (``paperfeed.search.vocabulary`` mines them and expands queries with them). The keys are
    normalised (case, hyphens, compounds such as "text2image"), so lookups match any spelling.
    Derived data: rebuilt from the papers whenever needed; written outside the data version."""

    __tablename__ = "paper_acronyms"

    paper_pk: Mapped[int] = mapped_column(
        ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True
    )
    acronym_key: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    expansion_key: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    acronym: Mapped[str] = mapped_column(String(32))  # as the paper writes it
    expansion: Mapped[str] = mapped_column(String(255))


class VocabularyState(Base):
    """How far the acronym vocabulary has read the papers: the data version (``change_seq``)
    of the last paper mined, so each catch-up reads only papers changed since."""

    __tablename__ = "vocabulary_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_seq: Mapped[int] = mapped_column(BigInteger, default=0)
