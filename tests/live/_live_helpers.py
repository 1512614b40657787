"""Helpers for the live-source tests (imported as ``_live_helpers``, like ``_core_helpers``)."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

from _core_helpers import serve_hf_days  # noqa: F401  (re-exported for these tests)
from replay_server import ReplayServer, Request, Response

from paperfeed.db import Database

DATA = Path(__file__).resolve().parents[1] / "data"
# Real arXiv API answers recorded in 2026 (see the README there).
ARXIV_DATA = DATA / "arxiv_api"
# Real arXiv OAI-PMH answers (arXivRaw ListRecords/GetRecord, errors; one arXiv-format page).
OAI_DATA = DATA / "arxiv_oai"
# A real rss.arxiv.org listing (4 items of Thu 24 Sep 2026).
RSS_FILE = DATA / "arxiv_rss" / "rss_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_excerpt4.xml"

OAI_XML = "text/xml; charset=utf-8"
_RECORD = re.compile(r"<record>.*?</record>", re.DOTALL)


class FakeClock:
    """A monotonic clock that only moves when slept on, so pacing and back-off are tested
    without waiting. Pass ``clock=fake`` and ``sleep=fake.sleep``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def real_oai_records() -> list[str]:
    """The seven real arXivRaw ``<record>`` elements, verbatim: the six of the recorded
    ListRecords page, then the one of the recorded GetRecord answer."""
    texts = [(OAI_DATA / name).read_text() for name in ("ListRecordsResponse.xml",)]
    texts.append((OAI_DATA / "GetRecordResponse.xml").read_text())
    return [match.group(0) for text in texts for match in _RECORD.finditer(text)]


REAL_OAI_IDS = [
    "0704.0471",
    "0704.0716",
    "0704.0874",
    "0704.1109",
    "0704.1114",
    "0704.1586",
    "1302.2146",
]


class OaiReplay:
    """Serve the real arXivRaw records as a paged ListRecords set, at ``path``.

    The recorded ListRecords answer is one truncated page, so a multi-page set is built from
    it: the seven real records are split ``per_page`` to a page, each page wrapped in the
    recorded page's own envelope (same ``responseDate`` and ``request``) and, but for the
    last, ended with a token in arXiv's form (``726959|<next record>``). A first request is
    any ``ListRecords`` without a token; a token nobody issued (or one ``expire``d) gets the
    recorded ``badResumptionToken`` answer. ``hold(n)`` makes page ``n`` wait until
    ``release()``, with ``reached`` set when the request arrives.
    """

    def __init__(self, server: ReplayServer, per_page: int = 2, path: str = "/oai") -> None:
        records = real_oai_records()
        self.path = path
        self.url = server.url_for(path)
        self.pages = [records[i : i + per_page] for i in range(0, len(records), per_page)]
        self.tokens = [f"726959|{(n + 1) * per_page + 1}" for n in range(len(self.pages) - 1)]
        self.response_date = "2015-01-06T20:49:59Z"
        self.expired: set[str] = set()
        self.held: int | None = None
        self.reached = threading.Event()
        self._release = threading.Event()
        self._bad_token = (OAI_DATA / "ErrorResponseBadResumptionToken.xml").read_text()
        server.add_matcher(lambda request: request.path == path, self._answer)

    def page_xml(self, n: int) -> str:
        token = (
            f'<resumptionToken cursor="{n * len(self.pages[0])}" completeListSize="7">'
            f"{self.tokens[n]}</resumptionToken>\n"
            if n < len(self.tokens)
            else ""
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ '
            'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
            f"<responseDate>{self.response_date}</responseDate>\n"
            '<request verb="ListRecords" from="2014-10-01" metadataPrefix="arXivRaw">'
            "http://export.arxiv.org/oai2</request>\n"
            "<ListRecords>\n" + "\n".join(self.pages[n]) + "\n" + token + "</ListRecords>\n"
            "</OAI-PMH>\n"
        )

    def expire(self, token: str) -> None:
        self.expired.add(token)

    def hold(self, n: int | None) -> None:
        self.held = n

    def release(self) -> None:
        self._release.set()

    def page_requests(self, server: ReplayServer) -> list[int | str]:
        """Which page each logged request asked for: 0 for a first page, else the token."""
        return [r.query.get("resumptionToken") or 0 for r in server.requests if r.path == self.path]

    def _answer(self, request: Request) -> Response:
        token = request.query.get("resumptionToken")
        if token is None:
            n = 0
        elif token in self.tokens and token not in self.expired:
            n = self.tokens.index(token) + 1
        else:
            self.expired.discard(token)  # expired once; a fresh harvest issues it anew
            return Response(body=self._bad_token, content_type=OAI_XML)
        if n == self.held:
            self.reached.set()
            self._release.wait(timeout=60)
        return Response(body=self.page_xml(n), content_type=OAI_XML)


def db_snapshot(db_file: Path | Database) -> tuple[list[tuple], list[tuple]]:
    """The papers (every column that comes from a source) and listings of a database file
    (or of an open database, SQLite or PostgreSQL), sorted: what 'the same database' means in
    these tests (timestamps of our own, like ``first_seen``, legitimately differ between two
    runs)."""
    if isinstance(db_file, Database):
        with db_file.engine.connect() as connection:
            return _snapshot(connection.exec_driver_sql)
    with sqlite3.connect(db_file) as db:
        return _snapshot(db.execute)


def _snapshot(execute: Any) -> tuple[list[tuple], list[tuple]]:
    papers = execute(
        "SELECT id, title, abstract, authors, categories, primary_category, version,"
        " published, updated, doi, journal_ref, comments, abs_url, pdf_url, code_url, source"
        " FROM papers ORDER BY id"
    ).fetchall()
    listings = execute(
        "SELECT p.id, l.source, l.day, l.upvotes, l.comments FROM listings l"
        " JOIN papers p ON p.pk = l.paper_pk ORDER BY p.id, l.source, l.day"
    ).fetchall()
    return [tuple(row) for row in papers], [tuple(row) for row in listings]
