"""The properties themselves, as plain functions, with the inputs each one is fuzzed with.

Each check raises ``AssertionError`` (or lets an unexpected exception through) when the
property fails. The tests in this directory wrap them in ``@given``; ``tools/fuzz.py`` runs the
same checks for a time budget each (``TARGETS``).
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from _hostile import (
    atom_feed,
    dump_json,
    file_text,
    hostile_json_line,
    hostile_object,
    hostile_text,
    json_values,
    oai_response,
    query_text,
    rss_feed,
)
from hypothesis import strategies as st

from paperfeed.catalog.records import ListingRecord, PaperRecord, ParseProblem
from paperfeed.errors import QueryError, SourceError
from paperfeed.formats import FORMATS
from paperfeed.formats import arxiv_atom as atom_source
from paperfeed.formats import hf_daily as hf_source
from paperfeed.formats.common import looks_like_arxiv_id
from paperfeed.formats.jsonl import record_to_json
from paperfeed.live import oai, rss
from paperfeed.live.arxiv_api import parse_arxiv_ref
from paperfeed.search.query import ParsedQuery, parse_query

# -- record templates: what each format's records look like when all is well ---------------------

KAGGLE = {
    "id": "2401.00001",
    "submitter": "Ada Lovelace",
    "authors": "Ada Lovelace (Analytical Engines) and Alan Turing",
    "title": "A paper",
    "comments": "9 pages",
    "journal-ref": "J. Things 1 (2024)",
    "doi": "10.1000/x",
    "categories": "cs.CL cs.LG",
    "abstract": "We study things.",
    "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
    "update_date": "2008-11-13",
    "authors_parsed": [["Lovelace", "Ada", ""], ["Turing", "Alan", ""]],
}
ARXIV_DAILY = {
    "id": "2401.00001",
    "pdf": "https://arxiv.org/pdf/2401.00001",
    "abs": "https://arxiv.org/abs/2401.00001",
    "authors": ["Ada Lovelace", "Alan Turing"],
    "title": "A paper",
    "categories": ["cs.CL", "cs.LG"],
    "comment": "9 pages",
    "summary": "We study things.",
}
JSONL = record_to_json(
    PaperRecord(
        title="A paper",
        source="kaggle",
        abstract="We study things.",
        arxiv_id="2401.00001",
        version=2,
        authors=["Ada Lovelace"],
        categories=["cs.CL"],
        published=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        updated=datetime(2024, 1, 3, 3, 4, 5, tzinfo=UTC),
        doi="10.1000/x",
        abs_url="https://arxiv.org/abs/2401.00001",
        code_url="https://github.com/a/b",
        listings=[ListingRecord(source="hf-daily", day=date(2024, 1, 3), upvotes=3, comments=1)],
    )
)
BEIR = {"_id": "4983", "title": "A paper", "text": "We study things."}
HF_ENTRY = {
    "paper": {
        "id": "2401.00001",
        "authors": [{"name": "Ada Lovelace", "hidden": False}, {"name": "Alan Turing"}],
        "publishedAt": "2024-01-02T03:04:05.000Z",
        "submittedOnDailyAt": "2024-01-03T00:00:00.000Z",
        "title": "A paper",
        "summary": "We study things.",
        "upvotes": 3,
        "githubRepo": "https://github.com/a/b",
    },
    "publishedAt": "2024-01-02T03:04:05.000Z",
    "title": "A paper",
    "summary": "We study things.",
    "numComments": 1,
}
JSON_LINES_TEMPLATES = {
    "kaggle": KAGGLE,
    "arxiv-daily": ARXIV_DAILY,
    "jsonl": JSONL,
    "beir": BEIR,
}
# File names matter: arxiv-daily and hf-daily read the listing day from them.
FILE_NAMES = {
    "kaggle": "snapshot.jsonl",
    "arxiv-daily": "2026-03-04.jsonl",
    "jsonl": "export.jsonl",
    "beir": "corpus.jsonl",
    "hf-daily": "2026-03-04.json",
    "arxiv-atom": "response.xml",
    "hf-page": "page.txt",
}


def _encode(text: str) -> bytes:
    """UTF-8, lone surrogates included as their (invalid) three-byte forms."""
    return text.encode("utf-8", "surrogatepass")


@st.composite
def _hf_page(draw: st.DrawFn) -> str:
    header = draw(st.lists(st.sampled_from(["new", "Subscribe", "Daily Papers", "Mar 14"])))
    paragraphs = draw(st.lists(st.one_of(file_text, st.text(min_size=250, max_size=400))))
    return "\n".join(header) + "\n\n" + "\n\n".join(paragraphs)


@st.composite
def hf_daily_json(draw: st.DrawFn) -> str:
    entries = draw(st.lists(st.one_of(hostile_object(HF_ENTRY, "paper"), json_values), max_size=5))
    value: Any = entries if draw(st.integers(0, 7)) else draw(json_values)
    return dump_json(value, ascii_only=draw(st.booleans()))


def _file_content(name: str) -> st.SearchStrategy[bytes]:
    """The bytes of a hostile file in format ``name`` (sometimes random bytes)."""
    if name in JSON_LINES_TEMPLATES:
        text = st.lists(hostile_json_line(JSON_LINES_TEMPLATES[name]), max_size=6).map("\n".join)
    elif name == "hf-daily":
        text = hf_daily_json()
    elif name == "arxiv-atom":
        text = atom_feed()
    elif name == "hf-page":
        text = _hf_page()
    else:
        raise KeyError(f"no hostile inputs for format {name!r}")
    return st.one_of(text.map(_encode), text.map(_encode), text.map(_encode), st.binary())


def format_inputs(name: str) -> st.SearchStrategy[tuple[bytes, bool]]:
    """(file content, gzip it?) for format ``name``."""
    return st.tuples(_file_content(name), st.integers(0, 7).map(lambda n: n == 0))


def write_input(directory: Path, name: str, content: bytes, gz: bool) -> Path:
    path = directory / (FILE_NAMES[name] + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


# -- checks --------------------------------------------------------------------------------------


def check_items(items: list[object]) -> None:
    """What a parser hands on is records and problems, and each record has a title."""
    for item in items:
        assert isinstance(item, PaperRecord | ParseProblem), f"parser yielded {item!r}"
        if isinstance(item, PaperRecord):
            assert isinstance(item.title, str) and item.title.strip(), item


def check_format(directory: Path, name: str, content: bytes, gz: bool) -> None:
    """Parsing any file yields records and problems; only a wholly unreadable file raises,
    and then ``SourceError``."""
    path = write_input(directory, name, content, gz)
    try:
        items = list(FORMATS[name].parse(path))
    except SourceError:
        return
    check_items(items)


def check_query(text: str) -> None:
    """Any text parses into a query or raises ``QueryError``; nothing else."""
    try:
        parsed = parse_query(text)
    except QueryError as error:
        assert str(error), "a QueryError must say what is wrong"
        return
    assert isinstance(parsed, ParsedQuery)


def check_hf_daily_text(text: str, day: date | None) -> None:
    try:
        items = hf_source.parse_text(text, "https://huggingface.co/api/daily_papers", day)
    except SourceError:
        return
    check_items(items)


def check_atom_text(text: str) -> None:
    """The arXiv API client's parser (``arxiv_api`` pages and submit-by-id use it)."""
    try:
        items, _info = atom_source.parse_feed(text, "https://export.arxiv.org/api/query")
    except SourceError:
        return
    check_items(items)


def check_oai_text(text: str) -> None:
    try:
        response = oai.parse_response(text, "https://oaipmh.arxiv.org/oai")
    except SourceError:
        return
    check_items([*response.records, *response.problems])
    assert response.complete_list_size is None or response.complete_list_size >= 0


def check_rss_text(text: str) -> None:
    try:
        listing = rss.parse_feed(text, "https://rss.arxiv.org/rss/cs.CL")
    except SourceError:
        return
    check_items([*listing.records, *listing.problems])


def check_arxiv_ref(text: str) -> None:
    """What a user pastes into submit is an arXiv id, or a ``QueryError``."""
    try:
        arxiv_id = parse_arxiv_ref(text)
    except QueryError:
        return
    assert looks_like_arxiv_id(arxiv_id), arxiv_id


# -- good records, for ingests that mix them with hostile ones -----------------------------------

_serial = itertools.count(1)


def next_serial() -> int:
    """A number no earlier good record used in this process (ids and titles derive from it)."""
    return next(_serial)


def good_title(n: int) -> str:
    return f"Robust ingest of record number {n}"


def good_key(name: str, n: int) -> str:
    """The stored id of good record ``n`` of format ``name``."""
    return f"beir:good-{n}" if name == "beir" else f"2501.{n % 100_000:05d}"


def good_object(name: str, n: int) -> dict[str, Any]:
    """A well-formed record of a JSON format, with its own id and title."""
    arxiv_id, title = f"2501.{n % 100_000:05d}", good_title(n)
    if name == "kaggle":
        return {**KAGGLE, "id": arxiv_id, "title": title}
    if name == "arxiv-daily":
        return {**ARXIV_DAILY, "id": arxiv_id, "title": title}
    if name == "jsonl":
        return {**JSONL, "id": arxiv_id, "arxiv_id": arxiv_id, "title": title}
    if name == "beir":
        return {**BEIR, "_id": f"good-{n}", "title": title}
    if name == "hf-daily":
        return {**HF_ENTRY, "paper": {**HF_ENTRY["paper"], "id": arxiv_id, "title": title}}
    raise KeyError(name)


# -- what tools/fuzz.py runs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A property and its inputs; ``check`` takes the drawn value and a scratch directory."""

    name: str
    inputs: st.SearchStrategy[Any]
    check: Callable[[Any, Path], None]


def _format_target(name: str) -> Target:
    return Target(
        f"format:{name}",
        format_inputs(name),
        lambda value, directory: check_format(directory, name, *value),
    )


TARGETS: list[Target] = [
    Target("query", query_text, lambda text, _: check_query(text)),
    *(_format_target(name) for name in sorted(FORMATS)),
    Target(
        "live:hf-daily",
        st.tuples(st.one_of(hf_daily_json(), hostile_text), st.none() | st.dates()),
        lambda value, _: check_hf_daily_text(*value),
    ),
    Target("live:arxiv-api", st.one_of(atom_feed(), hostile_text), lambda t, _: check_atom_text(t)),
    Target("live:oai", st.one_of(oai_response(), hostile_text), lambda t, _: check_oai_text(t)),
    Target("live:rss", st.one_of(rss_feed(), hostile_text), lambda t, _: check_rss_text(t)),
    Target("submit-ref", hostile_text, lambda text, _: check_arxiv_ref(text)),
]
