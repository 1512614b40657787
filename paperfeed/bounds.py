"""The limits every input is held to, in one place: at the web edge, in the query syntax and
at ingest. Anything outside them is refused with a message that names the limit, never passed
on to a library that would fail on it (tantivy, SQLite, feedgen, numpy).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from paperfeed.errors import InvalidInputError

# Paging. A page past these is refused (400): deep offsets cost a scan of everything before
# them and no reader goes there; search engines stop at about 1,000 results too.
MAX_SEARCH_DEPTH = 1_000  # offset + limit of a search
MAX_LIST_OFFSET = 10_000  # offset into a feed, the trending list, a library

# The longest query in the query language (search box, saved searches); a search longer than
# a few lines is read as a pasted title and abstract ("find related work", search.related),
# up to MAX_RELATED_QUERY_LENGTH: an abstract with room to spare, not a whole paper.
MAX_QUERY_LENGTH = 1_000
MAX_RELATED_QUERY_LENGTH = 10_000

# Dates a paper may carry, and the query syntax may name: nothing after 2199 is a publication
# date, and the range sits inside what every library we hand dates to can represent
# (numpy's datetime64[ns] and tantivy's dates span 1677-09-21 to 2262-04-11).
EARLIEST_DATE = date(1678, 1, 1)
LATEST_DATE = date(2199, 12, 31)

# Characters XML 1.0 cannot carry (C0 controls but tab, newline and carriage return; DEL and
# C1 controls are legal XML but invisible junk in a title) and lone UTF-16 surrogates, which
# no UTF-8 encoder accepts.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

URL_SCHEMES = frozenset({"http", "https"})


def date_in_range(value: date | datetime) -> bool:
    day = value.date() if isinstance(value, datetime) else value
    return EARLIEST_DATE <= day <= LATEST_DATE


def date_range_text() -> str:
    return f"{EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"


def earliest_datetime() -> datetime:
    return datetime.combine(EARLIEST_DATE, datetime.min.time(), tzinfo=UTC)


def check_page(limit: int | None, offset: int) -> None:
    """``InvalidInputError`` unless the page lies within ``MAX_LIST_OFFSET`` (``limit`` None:
    the whole list, as an export takes it).

    SQLite takes LIMIT and OFFSET as 64-bit integers (a larger one is an OverflowError), and
    a deep offset costs a scan of everything before it: no reader pages that far.
    """
    if limit is not None and not 1 <= limit <= MAX_LIST_OFFSET:
        raise InvalidInputError(f"limit: from 1 to {MAX_LIST_OFFSET}, not {limit}")
    if not 0 <= offset <= MAX_LIST_OFFSET:
        raise InvalidInputError(
            f"offset: from 0 to {MAX_LIST_OFFSET}, not {offset}: lists end there; "
            "pick a day or a period instead"
        )


def clean_text(text: str) -> str:
    """``text`` without the characters that XML, JSON-to-UTF-8 or a terminal choke on."""
    return _UNPRINTABLE.sub("", text)


def has_unprintable(text: str) -> bool:
    return _UNPRINTABLE.search(text) is not None


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host, else None.

    Links come from ingested data; a ``javascript:`` or ``data:`` URL rendered as a link runs
    script in our origin when clicked, so nothing else is stored or shown.
    """
    if not url:
        return None
    url = url.strip()
    if has_unprintable(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
        return None
    return url


# Hugging Face details of a paper (``PaperDetails``). Real maxima in 84 days of daily papers:
# AI summaries 1,319 characters, 44 keywords of at most 64, organisation and user names 42
# (full names 76), 5 media links per paper.
MAX_SUMMARY_CHARS = 5_000
MAX_KEYWORDS = 100
MAX_KEYWORD_CHARS = 200
MAX_HANDLE_CHARS = 96  # an HF user or organisation name (papers.org_name, papers.submitter)
MAX_FULLNAME_CHARS = 300
MAX_MEDIA = 20
# Media we cache and serve ourselves: images only, at most this many bytes each.
MAX_MEDIA_BYTES = 5_000_000
MEDIA_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}
# A cached media file's name: the sha256 of its bytes and the extension of its type.
MEDIA_NAME = re.compile(r"[0-9a-f]{64}\.(?:png|jpg|gif|webp)")
