"""arXiv OAI-PMH: incremental harvests by date, paged with resumption tokens.

The right tool for backfills and for keeping a whole set (``cs``, ``math``, ...) complete:
``ListRecords`` with ``from=<date>`` returns every record whose metadata changed since then,
about a thousand per page, each page ending with a ``resumptionToken`` for the next one.

How a harvest moves (the cursor stored after every page):

* A window starts with ``from`` (the source's ``from`` option, else the end of the last
  window) and ends at the server's ``responseDate`` of its first page; that date becomes the
  next window's ``from``. OAI dates are inclusive, so consecutive windows overlap by a day
  rather than leave a gap; upserts make the overlap harmless.
* Between pages the cursor holds the token. A run killed mid-window resumes with it.
* Tokens expire (``badResumptionToken``): the window restarts from its ``from``, and the
  page says so. ``noRecordsMatch`` is an empty window, not an error.

Records come in the ``arXivRaw`` format (every version with its date, the default) or the
``arXiv`` format (authors split into key names and forenames; no version numbers).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from paperfeed.catalog.records import PaperRecord, ParseProblem, split_arxiv_version
from paperfeed.catalog.validate import check_record
from paperfeed.errors import SourceError
from paperfeed.formats.common import (
    RECORD_ERRORS,
    abs_url,
    clean_optional,
    clean_text,
    looks_like_arxiv_id,
    parse_iso_datetime,
    pdf_url,
    split_author_string,
    to_utc,
    unique,
    xml_items,
)
from paperfeed.live.connector import Page, SourceSpec
from paperfeed.live.http import PoliteClient

NAME = "arxiv-oai"
METADATA_PREFIXES = ("arXivRaw", "arXiv")
# A window whose tokens keep expiring is given up after this many restarts in one run.
MAX_RESTARTS = 3

_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_RAW = "{http://arxiv.org/OAI/arXivRaw/}"
_ARXIV = "{http://arxiv.org/OAI/arXiv/}"


class OaiError(SourceError):
    """The repository answered with an OAI-PMH ``<error>`` (``code`` is its error code)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class OaiResponse:
    """A parsed ``ListRecords``/``GetRecord`` answer.

    ``token`` is the resumption token for the next page, None when the list is complete;
    ``deleted`` are the ids the repository reports as withdrawn from the list.
    """

    response_date: str
    records: list[PaperRecord] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    token: str | None = None
    complete_list_size: int | None = None


def parse_response(text: str, origin: str) -> OaiResponse:
    """Parse one OAI-PMH answer; ``origin`` (URL or file) names it in errors and problems.

    ``noRecordsMatch`` gives an empty response; every other OAI error raises ``OaiError``,
    a body that is not OAI-PMH XML raises ``SourceError``. A record that is not well-formed
    XML or not a paper is a problem for that record; the records come out checked.
    """
    try:
        root, elements = xml_items(text, f"*/{_OAI}record", "record")
    except ET.ParseError as error:
        raise SourceError(f"{origin}: not an OAI-PMH XML response ({error})") from error
    if root.tag != f"{_OAI}OAI-PMH":
        raise SourceError(f"{origin}: not an OAI-PMH response (root element <{_local(root.tag)}>)")
    response_date = clean_text(root.findtext(f"{_OAI}responseDate"))
    oai_error = root.find(f"{_OAI}error")
    if oai_error is not None:
        code = oai_error.get("code", "")
        if code == "noRecordsMatch":
            return OaiResponse(response_date=response_date)
        message = clean_text(oai_error.text) or "no message"
        raise OaiError(f"{origin}: OAI-PMH error {code}: {message}", code=code)
    answer = root.find(f"{_OAI}ListRecords")
    if answer is None:
        answer = root.find(f"{_OAI}GetRecord")
    if answer is None:
        raise SourceError(f"{origin}: OAI-PMH response holds neither ListRecords nor GetRecord")
    records: list[PaperRecord] = []
    problems: list[ParseProblem] = []
    deleted: list[str] = []
    for index, element in enumerate(elements, start=1):
        if isinstance(element, ET.ParseError):
            reason = f"record {index}: not well-formed XML ({element})"
            problems.append(ParseProblem(origin, index, reason))
            continue
        header = element.find(f"{_OAI}header")
        identifier = clean_text(header.findtext(f"{_OAI}identifier")) if header is not None else ""
        if header is not None and header.get("status") == "deleted":
            deleted.append(identifier.removeprefix("oai:arXiv.org:"))
            continue
        try:
            parsed = _record(element)
        except RECORD_ERRORS as problem:
            problems.append(ParseProblem(origin, index, f"{identifier or 'record'}: {problem}"))
            continue
        parsed.line = index
        record, found = check_record(parsed, origin)
        problems.extend(found)
        if record is not None:
            records.append(record)
    token_element = answer.find(f"{_OAI}resumptionToken")
    token = size = None
    if token_element is not None:
        token = clean_text(token_element.text) or None  # an empty token ends the list
        size = token_element.get("completeListSize")
    return OaiResponse(
        response_date=response_date,
        records=records,
        problems=problems,
        deleted=deleted,
        token=token,
        complete_list_size=int(size) if size and size.isdigit() and len(size) < 19 else None,
    )


def pages(client: PoliteClient, source: SourceSpec, cursor: Mapping[str, Any]) -> Iterator[Page]:
    """The pages of the current window, from the cursor's token (or its ``from``) to the end."""
    params = source.params
    window_from: str | None = cursor.get("from") or params.get("from")
    token: str | None = cursor.get("token")
    window_until: str | None = cursor.get("window_until")
    categories = set(params.get("categories") or ())
    note: str | None = None
    restarts = 0
    while True:
        if token:
            query: dict[str, str | int] = {"verb": "ListRecords", "resumptionToken": token}
        else:
            query = _first_page_query(params, window_from)
        result = client.get(source.base_url, params=query)
        try:
            response = parse_response(result.text, result.url)
        except OaiError as error:
            if error.code != "badResumptionToken" or not token:
                raise
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise SourceError(
                    f"{error} (the window from {window_from or 'the beginning'} was restarted "
                    f"{MAX_RESTARTS} times and its tokens keep expiring)"
                ) from error
            note = (
                "resumption token expired; restarted the window from "
                f"{window_from or 'the beginning'}"
            )
            token, window_until = None, None
            continue
        if window_until is None:
            window_until = response.response_date
        records = response.records
        skipped = len(response.deleted)
        if categories:
            kept = [r for r in records if categories.intersection(r.categories)]
            skipped += len(records) - len(kept)
            records = kept
        if response.token:
            next_cursor = {
                "from": window_from,
                "token": response.token,
                "window_until": window_until,
            }
        else:
            # The window is complete: the next one starts where this one was cut.
            next_cursor = {"from": params.get("until") or _day(window_until)}
        yield Page(
            records=records,
            problems=response.problems,
            next_cursor=next_cursor,
            window=(window_from, window_until),
            url=result.url,
            skipped=skipped,
            note=note,
        )
        note = None
        if not response.token:
            return
        token = response.token


def _first_page_query(params: Mapping[str, Any], window_from: str | None) -> dict[str, str | int]:
    query: dict[str, str | int] = {
        "verb": "ListRecords",
        "metadataPrefix": params.get("metadata_prefix") or METADATA_PREFIXES[0],
    }
    if params.get("set"):
        query["set"] = params["set"]
    if window_from:
        query["from"] = window_from
    if params.get("until"):
        query["until"] = params["until"]
    return query


def _day(datestamp: str | None) -> str | None:
    """``2015-01-06T20:49:59Z`` -> ``2015-01-06`` (arXiv's OAI granularity is the day)."""
    return datestamp[:10] if datestamp else None


# --- records -----------------------------------------------------------------------------


def _record(record: ET.Element) -> PaperRecord:
    metadata = record.find(f"{_OAI}metadata")
    if metadata is None or len(metadata) == 0:
        raise ValueError("record without metadata")
    payload = metadata[0]
    if payload.tag == f"{_RAW}arXivRaw":
        return _raw_record(payload)
    if payload.tag == f"{_ARXIV}arXiv":
        return _arxiv_record(payload)
    raise ValueError(f"unsupported metadata format <{_local(payload.tag)}>")


def _raw_record(raw: ET.Element) -> PaperRecord:
    """An ``arXivRaw`` record: versions with dates, authors as one string."""
    arxiv_id = _checked_id(_text(raw, f"{_RAW}id"))
    title = _text(raw, f"{_RAW}title")
    if not title:
        raise ValueError(f"{arxiv_id}: missing <title>")
    versions = []
    for element in raw.iterfind(f"{_RAW}version"):
        label = element.get("version", "").lstrip("v")
        stamp = _text(element, f"{_RAW}date")
        if not label.isdigit():
            raise ValueError(f"{arxiv_id}: bad version label {element.get('version')!r}")
        try:
            moment = to_utc(parsedate_to_datetime(stamp)) if stamp else None
        except (TypeError, ValueError) as error:
            raise ValueError(f"{arxiv_id}: bad version date {stamp!r}") from error
        versions.append((int(label), moment))
    versions.sort(key=lambda pair: pair[0])
    return PaperRecord(
        title=title,
        source=NAME,
        abstract=_text(raw, f"{_RAW}abstract"),
        arxiv_id=arxiv_id,
        version=versions[-1][0] if versions else None,
        authors=split_author_string(_text(raw, f"{_RAW}authors")),
        categories=unique(_text(raw, f"{_RAW}categories").split()),
        published=versions[0][1] if versions else None,
        updated=versions[-1][1] if versions else None,
        doi=_first_doi(_text(raw, f"{_RAW}doi")),
        journal_ref=clean_optional(_text(raw, f"{_RAW}journal-ref")),
        comments=clean_optional(_text(raw, f"{_RAW}comments")),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
    )


def _arxiv_record(meta: ET.Element) -> PaperRecord:
    """An ``arXiv`` record: authors already split; dates of first and latest version only."""
    arxiv_id = _checked_id(_text(meta, f"{_ARXIV}id"))
    title = _text(meta, f"{_ARXIV}title")
    if not title:
        raise ValueError(f"{arxiv_id}: missing <title>")
    authors = []
    for author in meta.iterfind(f"{_ARXIV}authors/{_ARXIV}author"):
        parts = (
            _text(author, f"{_ARXIV}forenames"),
            _text(author, f"{_ARXIV}keyname"),
            _text(author, f"{_ARXIV}suffix"),
        )
        if name := " ".join(part for part in parts if part):
            authors.append(name)
    return PaperRecord(
        title=title,
        source=NAME,
        abstract=_text(meta, f"{_ARXIV}abstract"),
        arxiv_id=arxiv_id,
        authors=authors,
        categories=unique(_text(meta, f"{_ARXIV}categories").split()),
        published=_iso_date(arxiv_id, _text(meta, f"{_ARXIV}created")),
        updated=_iso_date(arxiv_id, _text(meta, f"{_ARXIV}updated")),
        doi=_first_doi(_text(meta, f"{_ARXIV}doi")),
        journal_ref=clean_optional(_text(meta, f"{_ARXIV}journal-ref")),
        comments=clean_optional(_text(meta, f"{_ARXIV}comments")),
        abs_url=abs_url(arxiv_id),
        pdf_url=pdf_url(arxiv_id),
    )


def _checked_id(raw_id: str) -> str:
    if not looks_like_arxiv_id(raw_id):
        raise ValueError(f"<id> {raw_id!r} is not an arXiv id")
    arxiv_id, _version = split_arxiv_version(raw_id)
    return arxiv_id


def _first_doi(text: str) -> str | None:
    """arXiv lists several DOIs space-separated (paper and erratum); the first is the paper's."""
    return text.split()[0] if text.split() else None


def _iso_date(arxiv_id: str, text: str) -> datetime | None:
    try:
        return parse_iso_datetime(text or None)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{arxiv_id}: bad date {text!r}") from error


def _text(element: ET.Element, tag: str) -> str:
    return clean_text(element.findtext(tag))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
