"""The configured live sources: which kinds exist, what options each takes, add and remove.

A live source is a row of ``live_sources``: a name the operator picks, a kind (one of
``KINDS``) and the kind's options. Options are checked here, once, with a message per bad
option, so a source that was added can always be run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.db import LiveSource, SourceCheckpoint, SourceRun
from paperfeed.errors import ConflictError, InvalidInputError, NotFoundError
from paperfeed.live import arxiv_api, hf_daily, oai, rss
from paperfeed.live.connector import Connector, SourceSpec
from paperfeed.live.http import PoliteClient, default_user_agent
from paperfeed.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    description: str
    connector: Connector
    options: frozenset[str]  # the CLI options (param names) this kind accepts
    arxiv: bool  # paced as arXiv (one request per 3 s)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "arxiv-oai",
            "arXiv OAI-PMH harvest of a set, by date (backfills, whole sets)",
            oai.pages,
            frozenset({"set", "categories", "from", "until", "metadata_prefix"}),
            arxiv=True,
        ),
        Kind(
            "arxiv-api",
            "arXiv API search query, newest updates first",
            arxiv_api.pages,
            frozenset({"query", "categories"}),
            arxiv=True,
        ),
        Kind(
            "arxiv-rss",
            "arXiv daily RSS announcements of some categories",
            rss.pages,
            frozenset({"categories"}),
            arxiv=True,
        ),
        Kind(
            "hf-daily",
            "Hugging Face daily papers with their upvotes, day by day",
            hf_daily.pages,
            frozenset({"from", "until"}),
            arxiv=False,
        ),
    )
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# cs.CL, hep-th, math.AG, astro-ph.GA, q-bio.NC, stat.ML
_CATEGORY = re.compile(r"^[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?$")
# cs, physics:hep-th, cs:cs:CL (the current arXiv OAI service names categories this way)
_SET = re.compile(r"^[a-z][a-z-]*(:[A-Za-z][A-Za-z.-]*)*$")
# Command-line spelling of each option, for messages.
_FLAGS = {
    "set": "--set",
    "categories": "--category",
    "query": "--query",
    "from": "--from",
    "until": "--until",
    "metadata_prefix": "--format",
}


def build_params(
    kind: str,
    *,
    oai_set: str | None = None,
    categories: Sequence[str] = (),
    query: str | None = None,
    from_date: str | None = None,
    until_date: str | None = None,
    metadata_prefix: str | None = None,
) -> dict[str, Any]:
    """The checked ``params`` of a source of ``kind``; ``InvalidInputError`` names the option
    at fault and says what the kind takes instead."""
    spec = _kind(kind)
    given: dict[str, Any] = {
        "set": oai_set,
        "categories": list(categories) or None,
        "query": query,
        "from": from_date,
        "until": until_date,
        "metadata_prefix": metadata_prefix,
    }
    given = {key: value for key, value in given.items() if value not in (None, "")}
    for key in given:
        if key not in spec.options:
            takes = ", ".join(_FLAGS[o] for o in sorted(spec.options)) or "no options"
            raise InvalidInputError(
                f"{_FLAGS[key]} does not apply to {kind} sources (they take {takes})"
            )
    for category in given.get("categories", []):
        if not _CATEGORY.match(category):
            raise InvalidInputError(
                f"--category {category!r} is not an arXiv category (e.g. cs.CL, hep-th, math.AG)"
            )
    if "set" in given and not _SET.match(given["set"]):
        raise InvalidInputError(
            f"--set {given['set']!r} is not an OAI-PMH set spec (e.g. cs, math, physics:hep-th)"
        )
    for key in ("from", "until"):
        if key in given:
            given[key] = _iso_date(_FLAGS[key], given[key])
    if "from" in given and "until" in given and given["from"] > given["until"]:
        raise InvalidInputError(f"--from {given['from']} is after --until {given['until']}")
    prefix = given.get("metadata_prefix")
    if prefix is not None and prefix not in oai.METADATA_PREFIXES:
        raise InvalidInputError(
            f"--format {prefix!r} is not one of {', '.join(oai.METADATA_PREFIXES)}"
        )
    if kind == "arxiv-oai":
        given.setdefault("metadata_prefix", oai.METADATA_PREFIXES[0])
    if kind == "arxiv-rss" and not given.get("categories"):
        raise InvalidInputError("an arxiv-rss source needs at least one --category (e.g. cs.CL)")
    if kind == "arxiv-api":
        if "query" in given and "categories" in given:
            raise InvalidInputError(
                "give an arxiv-api source --query or --category, not both "
                "(write the categories into the query: 'cat:cs.CL AND ...')"
            )
        if "categories" in given:
            given["query"] = " OR ".join(f"cat:{c}" for c in given.pop("categories"))
        if not given.get("query"):
            raise InvalidInputError(
                "an arxiv-api source needs --query (e.g. 'cat:cs.CL') or --category"
            )
    return given


def add_source(
    workspace: Workspace,
    name: str,
    kind: str,
    params: Mapping[str, Any],
    base_url: str | None = None,
) -> SourceSpec:
    """Store a new source (``params`` from ``build_params``); returns it as a connector sees it."""
    check_source(name, kind, base_url)
    with workspace.db.session() as session:
        if session.scalar(select(LiveSource.pk).where(LiveSource.name == name)) is not None:
            raise ConflictError(f"a source named {name!r} exists; remove it first or pick another")
        row = LiveSource(name=name, kind=kind, params=dict(params), base_url=base_url)
        session.add(row)
        session.flush()
        return spec_of(row, workspace.settings)


def check_source(name: str, kind: str, base_url: str | None = None) -> None:
    """``InvalidInputError`` unless the name, kind and URL of a new source are usable."""
    if not _NAME.match(name):
        raise InvalidInputError(
            f"source name {name!r}: use lower-case letters, digits, '.', '_' or '-' (at most 64)"
        )
    _kind(kind)
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(f"--base-url {base_url!r} is not an http(s) URL")


def remove_source(workspace: Workspace, name: str) -> None:
    """Forget a source, its runs and its checkpoint (its papers stay)."""
    with workspace.db.session() as session:
        row = get_source_row(session, name)
        session.execute(delete(SourceRun).where(SourceRun.source_pk == row.pk))
        session.execute(delete(SourceCheckpoint).where(SourceCheckpoint.source_pk == row.pk))
        session.delete(row)


def set_enabled(workspace: Workspace, name: str, enabled: bool) -> None:
    """Include the source in `sources run --all` (enabled) or leave it out."""
    with workspace.db.session() as session:
        get_source_row(session, name).enabled = enabled


def get_source_row(session: Session, name: str) -> LiveSource:
    row = session.scalar(select(LiveSource).where(LiveSource.name == name))
    if row is None:
        known = session.scalars(select(LiveSource.name).order_by(LiveSource.name)).all()
        hint = f"; configured: {', '.join(known)}" if known else "; none is configured yet"
        raise NotFoundError(f"no live source named {name!r}{hint} (`paperfeed sources add`)")
    return row


def spec_of(row: LiveSource, settings: Settings) -> SourceSpec:
    return SourceSpec(
        name=row.name,
        kind=row.kind,
        params=dict(row.params or {}),
        base_url=row.base_url or default_url(settings, row.kind),
        data_dir=settings.data_dir,
    )


def default_url(settings: Settings, kind: str) -> str:
    return {
        "arxiv-oai": settings.arxiv_oai_url,
        "arxiv-api": settings.arxiv_api_url,
        "arxiv-rss": settings.arxiv_rss_url,
        "hf-daily": settings.hf_api_url,
    }[kind]


class _Located(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def base_url(self) -> str: ...


def make_client(
    settings: Settings, sources: Iterable[_Located] = (), **pacing: Any
) -> PoliteClient:
    """One polite client for a batch of runs, so per-host spacing holds across sources.

    arXiv hosts (the configured ones and any source's own) are paced at
    ``settings.arxiv_min_interval``, Hugging Face at ``settings.hf_min_interval``; a host
    serving both gets the longer interval. ``pacing`` passes ``sleep``/``clock`` (tests).
    """
    intervals: dict[str, float] = {}

    def pace(url: str, seconds: float) -> None:
        host = (urlsplit(url).hostname or "").lower()
        if host:
            intervals[host] = max(seconds, intervals.get(host, 0.0))

    for kind in KINDS.values():
        interval = settings.arxiv_min_interval if kind.arxiv else settings.hf_min_interval
        pace(default_url(settings, kind.name), interval)
    for source in sources:
        arxiv = _kind(source.kind).arxiv
        pace(source.base_url, settings.arxiv_min_interval if arxiv else settings.hf_min_interval)
    return PoliteClient(
        default_user_agent(settings),
        timeout=settings.http_timeout,
        min_interval=intervals,
        **pacing,
    )


def _kind(kind: str) -> Kind:
    try:
        return KINDS[kind]
    except KeyError:
        raise InvalidInputError(
            f"unknown source kind {kind!r}; use one of {', '.join(KINDS)}"
        ) from None


def _iso_date(flag: str, value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidInputError(f"{flag} {value!r} is not a date like 2026-08-01") from None
