"""Look papers up by id in the arXiv API (export.arxiv.org/api/query?id_list=...).

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
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from paperfeed.config import Settings
from paperfeed.errors import NotFoundError, QueryError, SourceError
from paperfeed.live.http import HttpStatusError, PoliteClient, default_user_agent
from paperfeed.records import PaperRecord, ParseProblem, split_arxiv_version
from paperfeed.sources._common import looks_like_arxiv_id
from paperfeed.sources.arxiv_atom import parse_feed

# arXiv's API terms: no more than one request every three seconds.
ARXIV_MIN_INTERVAL = 3.0
# Ids per request: arXiv takes long id lists, but smaller pages fail less and retry cheaper.
CHUNK_SIZE = 100

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
        """The API at ``settings.arxiv_api_url``, paced at one request per 3 s to its host.
        ``sleep`` / ``clock`` are for tests, as in ``PoliteClient``."""
        host = urlsplit(settings.arxiv_api_url).hostname or ""
        client = PoliteClient(
            default_user_agent(settings),
            timeout=settings.http_timeout,
            min_interval={host: ARXIV_MIN_INTERVAL},
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
        params = {"id_list": ",".join(ids), "max_results": len(ids)}
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
