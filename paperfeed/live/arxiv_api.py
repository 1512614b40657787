"""The arXiv API (export.arxiv.org/api/query): papers by id, and paged search queries.

Lookups by id (``ArxivApi``) serve submit-by-id. Queries (``pages``, the ``arxiv-api`` live
source) follow a search such as ``cat:cs.CL AND abs:retrieval``, newest changes first.

Users paste ids in many shapes (bare, versioned, ``arXiv:``-prefixed, abs or PDF links);
``parse_arxiv_ref`` turns all of them into the versionless id the rest of paperfeed keys on.
Asking without a version makes arXiv answer with the latest one.

What arXiv answers for ids it does not have (recorded in 2026): an id it cannot read at all
(``abc``) gets HTTP 400 with an Atom "Error" entry; a well-formed id that does not exist
(``0000.0000``, ``0808.05394``) gets HTTP 200 and simply no entry for it. The second case is
``NotFoundError``; the first is ``SourceError`` with arXiv's own message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from paperfeed.catalog.records import PaperRecord, ParseProblem, split_arxiv_version
from paperfeed.config import Settings
from paperfeed.errors import NotFoundError, QueryError, SourceError
from paperfeed.formats.arxiv_atom import parse_feed
from paperfeed.formats.common import looks_like_arxiv_id
from paperfeed.live.connector import Page, SourceSpec, split_items
from paperfeed.live.http import HttpStatusError, PoliteClient, default_user_agent

# Ids per request: arXiv takes long id lists, but smaller pages fail less and retry cheaper.
CHUNK_SIZE = 100
# Query paging: entries per request, and the most one run reads (the API is for following a
# query; backfills are OAI-PMH's job).
PAGE_SIZE = 100
MAX_RESULTS = 1000

_ARXIV_URL = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?P<id>.+?)(?:\.pdf)?/?$",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^arxiv:\s*", re.IGNORECASE)
_ACCEPTED = (
    "2401.12345, 2401.12345v2, arXiv:2401.12345, hep-th/9901001, "
    "or a link like https://arxiv.org/abs/2401.12345 or https://arxiv.org/pdf/2401.12345"
)


def parse_arxiv_ref(text: str) -> str:
    """The versionless arXiv id in what a user pasted: an id or an arxiv.org abs/PDF link."""
    ref = text.strip()
    if match := _ARXIV_URL.match(ref.split("?", 1)[0].split("#", 1)[0]):
        candidate = match.group("id")
    else:
        candidate = _PREFIX.sub("", ref)
    if not looks_like_arxiv_id(candidate):
        shown = ref if len(ref) <= 80 else ref[:77] + "..."
        raise QueryError(f"not an arXiv id or link: {shown!r}; expected e.g. {_ACCEPTED}")
    arxiv_id, _version = split_arxiv_version(candidate)
    return arxiv_id


class ArxivApi:
    """Fetches papers by id. All HTTP goes through the given ``PoliteClient``, whose per-host
    interval keeps us within arXiv's one-request-every-3-s rule."""

    def __init__(self, client: PoliteClient, base_url: str) -> None:
        self.client = client
        self.base_url = base_url

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> ArxivApi:
        """The API at ``settings.arxiv_api_url``, paced at ``settings.arxiv_min_interval``
        (3 s) per request to its host. ``sleep`` / ``clock`` are for tests, as in
        ``PoliteClient``."""
        host = urlsplit(settings.arxiv_api_url).hostname or ""
        client = PoliteClient(
            default_user_agent(settings),
            timeout=settings.http_timeout,
            min_interval={host: settings.arxiv_min_interval},
            sleep=sleep,
            clock=clock,
        )
        return cls(client, settings.arxiv_api_url)

    def fetch(self, ids: Iterable[str]) -> list[PaperRecord]:
        """The papers with these ids (any form ``parse_arxiv_ref`` accepts), latest versions,
        in the order asked, duplicates once. Raises ``NotFoundError`` naming every id arXiv
        does not have, ``QueryError`` for a string that is no arXiv id at all."""
        wanted = list(dict.fromkeys(parse_arxiv_ref(ref) for ref in ids))
        found: dict[str, PaperRecord] = {}
        for start in range(0, len(wanted), CHUNK_SIZE):
            found.update(self._fetch_chunk(wanted[start : start + CHUNK_SIZE]))
        missing = [arxiv_id for arxiv_id in wanted if arxiv_id not in found]
        if missing:
            raise NotFoundError(f"not on arXiv: {', '.join(missing)}")
        return [found[arxiv_id] for arxiv_id in wanted]

    def fetch_one(self, ref: str) -> PaperRecord:
        """The paper ``ref`` points at (an id or arxiv.org link, see ``parse_arxiv_ref``)."""
        [record] = self.fetch([ref])
        return record

    def close(self) -> None:
        self.client.close()

    def _fetch_chunk(self, ids: list[str]) -> dict[str, PaperRecord]:
        params: dict[str, str | int] = {"id_list": ",".join(ids), "max_results": len(ids)}
        try:
            result = self.client.get(self.base_url, params=params)
        except HttpStatusError as error:
            if error.status == 400 and "/api/errors" in error.text:
                # arXiv explains a 400 in an Atom "Error" entry; parse_feed raises with it.
                parse_feed(error.text, error.url)
            raise
        items, _info = parse_feed(result.text, result.url)
        records: dict[str, PaperRecord] = {}
        problems: list[ParseProblem] = []
        for item in items:
            if isinstance(item, ParseProblem):
                problems.append(item)
            elif item.arxiv_id is not None and item.arxiv_id in ids:
                records.setdefault(item.arxiv_id, item)
        if problems and len(records) < len(ids):
            # An entry we could not read may be one of the ids asked for: that is not "not found".
            raise SourceError(f"unreadable arXiv answer: {problems[0]}")
        return records


def pages(client: PoliteClient, source: SourceSpec, cursor: Mapping[str, Any]) -> Iterator[Page]:
    """Pages of ``source.params["query"]``, most recently updated first, down to the newest
    update the previous run saw (the cursor's ``since``) or ``max_results`` entries.

    The cursor holds ``start`` (the next page, mid-run), ``since`` (where the last complete
    run stopped) and ``newest`` (the newest update seen by the run in progress, which
    becomes ``since`` when it completes). Entries that change while we page move to the
    front; they are picked up by the next run, since their update is newer than ``since``.
    """
    params = source.params
    page_size = int(params.get("page_size") or PAGE_SIZE)
    limit = int(params.get("max_results") or MAX_RESULTS)
    start = int(cursor.get("start") or 0)
    since = _moment(cursor.get("since"))
    newest = _moment(cursor.get("newest"))
    while True:
        query = {
            "search_query": params["query"],
            "start": start,
            "max_results": page_size,
            "sortBy": "lastUpdatedDate",
            "sortOrder": "descending",
        }
        result = client.get(source.base_url, params=query)
        items, info = parse_feed(result.text, result.url)
        records, problems = split_items(items)
        stamps = [r.updated or r.published for r in records]
        known = [s for s in stamps if s is not None]
        if known:
            newest = max([newest, *known]) if newest else max(known)
        start += len(items)
        reached_seen = since is not None and any(s is not None and s <= since for s in stamps)
        ended = not items or (info.total_results is not None and start >= info.total_results)
        if reached_seen or ended or start >= limit:
            marks = [m for m in (newest, since) if m is not None]  # never moves back
            next_cursor: dict[str, Any] = {"since": max(marks).isoformat() if marks else None}
        else:
            next_cursor = {
                "start": start,
                "since": since.isoformat() if since else None,
                "newest": newest.isoformat() if newest else None,
            }
        yield Page(
            records=records,
            problems=problems,
            next_cursor=next_cursor,
            window=(
                since.isoformat() if since else None,
                newest.isoformat() if newest else None,
            ),
            url=result.url,
        )
        if "start" not in next_cursor:
            return


def _moment(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None
