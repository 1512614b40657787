"""Hypothesis strategies for hostile input: text, dates, JSON, XML and search queries.

Hostile but structured: most values are shaped like what the parser expects (a record with the
usual fields, an Atom entry, a ``since:`` filter), with some parts replaced by what a broken
or malicious upstream could send (wrong types, huge numbers, deep nesting, control characters,
lone surrogates, dates outside any calendar, unescaped markup). Shared by the property tests
and ``tools/fuzz.py``, so both exercise the same inputs.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from hypothesis import strategies as st

# -- text ----------------------------------------------------------------------------------------

# Every code point, lone surrogates and C0/C1 controls included.
ANY_CHAR = st.characters(exclude_categories=())
# What survives being written to a UTF-8 file or sent in a URL: no lone surrogates.
FILE_CHAR = st.characters(exclude_categories=("Cs",))
# Text an XML document can carry: no surrogates, no C0 controls but tab/newline/CR.
XML_CHAR = st.characters(
    exclude_categories=("Cs",), exclude_characters=[chr(c) for c in range(32) if c not in (9, 10)]
)

SPECIALS = (
    "",
    " ",
    "\x00",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\ud800",
    "\udfff",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\u202e",
    "\u2028",
    "\U0001d54f",
    "e\u0301",
    "<script>alert(1)</script>",
    "]]>",
    "&amp;",
    "&#0;",
    '"',
    "'",
    "\\",
    "%s%n",
    "{}",
    "NaN",
    "-0",
    "9" * 30,
    "javascript:alert(1)",
    "data:text/html,<b>x</b>",
    "https://",
    "http://[::1",
    "\r\n",
    "a" * 2000,
)

hostile_text = st.one_of(st.text(ANY_CHAR, max_size=40), st.sampled_from(SPECIALS))
file_text = st.one_of(
    st.text(FILE_CHAR, max_size=40),
    st.sampled_from([s for s in SPECIALS if not any("\ud800" <= c <= "\udfff" for c in s)]),
)
xml_text = st.text(XML_CHAR, max_size=40)

# -- dates ---------------------------------------------------------------------------------------

_YEARS = st.one_of(
    st.integers(0, 10_000), st.sampled_from([1, 1677, 1678, 1970, 2026, 2199, 2200, 9999])
)
_ZONES = ("Z", "+00:00", "-05:00", "+14:00", "-23:59", "+23:59", "")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@st.composite
def iso_datetime_text(draw: st.DrawFn) -> str:
    """ISO 8601 text, often valid, at any year and UTC offset (year 1 minus an hour, ...)."""
    year, month = draw(_YEARS), draw(st.integers(0, 13))
    day, hour = draw(st.integers(0, 32)), draw(st.sampled_from([0, 1, 12, 23, 24]))
    moment = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:59:59"
    return moment + draw(st.sampled_from(_ZONES))


@st.composite
def rfc822_text(draw: st.DrawFn) -> str:
    """RFC 822 dates as arXiv, OAI and Kaggle write them, at any year and offset."""
    weekday, day = draw(st.sampled_from(_DAYS)), draw(st.integers(0, 32))
    month, year = draw(st.sampled_from(_MONTHS)), draw(_YEARS)
    zone = draw(st.sampled_from(["GMT", "-0500", "+1400", "-2359", "+2359", "EST", "XYZ"]))
    return f"{weekday}, {day} {month} {year} {draw(st.sampled_from(['00', '23']))}:59:59 {zone}"


date_text = st.one_of(iso_datetime_text(), rfc822_text(), hostile_text)
file_date_text = st.one_of(iso_datetime_text(), rfc822_text(), file_text)

# -- JSON ----------------------------------------------------------------------------------------

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=10**40),
    st.integers(min_value=-(10**40), max_value=-(2**63) + 2),
    st.floats(),
    hostile_text,
    date_text,
)
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)
    ),
    max_leaves=12,
)

# Lines no JSON decoder survives unharmed: Python refuses ints over 4,300 digits (ValueError,
# not JSONDecodeError) and recurses once per nesting level (RecursionError).
RAW_JSON_TRAPS = (
    "1" * 5000,
    '{"id": ' + "1" * 5000 + "}",
    "[" * 50_000,
    '{"a": ' * 50_000,
    '{"title": "x", "versions": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"id": "2401.00001"',
    "{",
    '{"title": "\\ud800"}',
    '{"title": NaN, "id": Infinity}',
    "\x00{}",
)


def dump_json(value: Any, ascii_only: bool) -> str:
    """JSON text; with ``ascii_only`` lone surrogates become ``\\udXXX`` escapes, which
    decode back to lone surrogates."""
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)


@st.composite
def hostile_object(draw: st.DrawFn, template: dict[str, Any], nested: str | None = None) -> dict:
    """``template`` with some fields (of it, or of its ``nested`` object) replaced by hostile
    values, and maybe extra keys."""
    obj = copy.deepcopy(template)
    targets = [obj] if nested is None else [obj, obj[nested]]
    for target in targets:
        keys = draw(st.lists(st.sampled_from(sorted(target)), unique=True, max_size=len(target)))
        for key in keys:
            target[key] = draw(st.one_of(json_values, date_text, st.none()))
        if draw(st.booleans()):
            target.update(draw(st.dictionaries(hostile_text, json_values, max_size=2)))
    if nested is not None and draw(st.integers(0, 5)) == 0:
        obj[nested] = draw(json_values)
    return obj


@st.composite
def hostile_json_line(draw: st.DrawFn, template: dict[str, Any]) -> str:
    """One line of a JSON-lines file: a mangled record, any JSON value, or a decoder trap."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.sampled_from(RAW_JSON_TRAPS))
    if kind == 1:
        return draw(st.text(FILE_CHAR, max_size=60)).replace("\n", " ")
    value = draw(json_values) if kind == 2 else draw(hostile_object(template))
    return dump_json(value, ascii_only=draw(st.booleans())).replace("\n", " ")


# -- search queries ------------------------------------------------------------------------------

_QUERY_PIECES = (
    "author:",
    "cat:",
    "category:",
    "since:",
    "until:",
    "title:",
    "-",
    '"',
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "*",
    "?",
    "~",
    "^",
    "+",
    "!",
    "&&",
    "||",
    ":",
    "\\",
    "/",
    "'",
    "AND",
    "OR",
    "NOT",
    "TO",
    "IN",
    "cs.CL",
    "attention",
    "2024",
    "2024-13",
    "2024-02-30",
    "0000",
    "0001-01",
    "9999-12-31",
    "99999",
    "1664",
    "2200",
    " ",
    "\t",
    "\x00",
    "\ud800",
    "\u0301",
)
_date_words = st.from_regex(r"\A-?\d{1,6}(-\d{1,3}(-\d{1,3})?)?\Z")

query_text = st.one_of(
    st.text(ANY_CHAR, max_size=60),
    st.lists(
        st.one_of(st.sampled_from(_QUERY_PIECES), st.text(ANY_CHAR, max_size=8), _date_words),
        max_size=12,
    ).map("".join),
    st.lists(
        st.one_of(
            st.sampled_from(_QUERY_PIECES),
            st.tuples(st.sampled_from(["since:", "until:"]), _date_words).map("".join),
            st.text(FILE_CHAR, min_size=1, max_size=8),
        ),
        max_size=8,
    ).map(" ".join),
    st.text(ANY_CHAR, min_size=990, max_size=1010),
)

# -- XML -----------------------------------------------------------------------------------------


@st.composite
def xml_content(draw: st.DrawFn, good: str, well_formed: bool = False) -> str:
    """Element text: ``good``, or hostile text escaped, or raw (markup and controls unescaped);
    with ``well_formed`` always text an XML parser accepts."""
    kind = draw(st.integers(0, 3 if well_formed else 5))
    if kind <= 1:
        return escape(good)
    if kind == 2:
        return escape(draw(xml_text))
    if well_formed:
        return escape(draw(st.one_of(iso_datetime_text(), rfc822_text())))
    if kind == 3:
        return escape(draw(st.one_of(date_text, xml_text, hostile_text)).replace("\ud800", ""))
    if kind == 4:
        return draw(st.sampled_from(["&#1;", "&#xD800;", "&undefined;", "&#x1F600;", "<b>x</b>"]))
    return draw(st.text(FILE_CHAR, max_size=20))


@st.composite
def xml_attr(draw: st.DrawFn, good: str) -> str:
    if draw(st.integers(0, 2)) == 0:
        return quoteattr(escape(draw(xml_text)))
    return quoteattr(good)


@st.composite
def mangle(draw: st.DrawFn, document: str) -> str:
    """Usually ``document``; sometimes cut short, with junk spliced in, or wrapped in DTD
    entity bombs."""
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return document[: draw(st.integers(0, len(document)))]
    if kind == 1:
        at = draw(st.integers(0, len(document)))
        return document[:at] + draw(st.text(FILE_CHAR, max_size=20)) + document[at:]
    if kind == 2:
        bomb = '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">' + "".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
        )
        return document.replace("?>", "?>" + bomb + "]>", 1) if "?>" in document else document
    return document


_ATOM_NS = (
    'xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom" '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
)


@st.composite
def atom_entry(draw: st.DrawFn, n: int, well_formed: bool = False) -> str:
    """An Atom entry with some parts hostile (all of them XML text with ``well_formed``)."""
    arxiv_id = f"2401.{n:05d}v1"

    def content(good: str) -> st.SearchStrategy[str]:
        return xml_content(good, well_formed)

    parts = [
        f"<id>{draw(content(f'http://arxiv.org/abs/{arxiv_id}'))}</id>",
        f"<title>{draw(content(f'A paper {n}'))}</title>",
        f"<summary>{draw(content('We study things.'))}</summary>",
        f"<published>{draw(content('2024-01-02T03:04:05Z'))}</published>",
        f"<updated>{draw(content('2024-01-03T03:04:05Z'))}</updated>",
        f"<author><name>{draw(content('Ada Lovelace'))}</name></author>",
        f"<arxiv:primary_category term={draw(xml_attr('cs.CL'))}/>",
        f"<category term={draw(xml_attr('cs.LG'))}/>",
        f"<link href={draw(xml_attr(f'http://arxiv.org/abs/{arxiv_id}'))} rel="
        f"{draw(xml_attr('alternate'))}/>",
        f"<link title={draw(xml_attr('pdf'))} href={draw(xml_attr('http://arxiv.org/pdf/1'))}/>",
        f"<arxiv:doi>{draw(content('10.1000/x'))}</arxiv:doi>",
        f"<arxiv:comment>{draw(content('9 pages'))}</arxiv:comment>",
    ]
    kept = draw(st.lists(st.sampled_from(parts), unique=True, min_size=1, max_size=len(parts)))
    return "<entry>" + "".join(kept) + "</entry>"


@st.composite
def atom_feed(draw: st.DrawFn) -> str:
    """An arXiv API Atom response with hostile entries."""
    entries = [draw(atom_entry(n)) for n in range(draw(st.integers(0, 4)))]
    total = draw(xml_content("10"))
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed {_ATOM_NS}>'
        f"<opensearch:totalResults>{total}</opensearch:totalResults>"
        f"<opensearch:startIndex>{draw(xml_content('0'))}</opensearch:startIndex>"
        + "".join(entries)
        + "</feed>"
    )
    return draw(mangle(body))


@st.composite
def rss_feed(draw: st.DrawFn) -> str:
    """An arXiv RSS listing with hostile items."""
    items = []
    for n in range(draw(st.integers(0, 4))):
        description = f"arXiv:2401.{n:05d}v1 Announce Type: new Abstract: We study things."
        parts = [
            f"<title>{draw(xml_content(f'A paper {n}'))}</title>",
            f"<description>{draw(xml_content(description))}</description>",
            f"<guid>{draw(xml_content(f'oai:arXiv.org:2401.{n:05d}v1'))}</guid>",
            f"<category>{draw(xml_content('cs.CL'))}</category>",
            f"<dc:creator>{draw(xml_content('Ada Lovelace, Alan Turing'))}</dc:creator>",
            f"<arxiv:announce_type>{draw(xml_content('new'))}</arxiv:announce_type>",
            f"<arxiv:DOI>{draw(xml_content('10.1000/x'))}</arxiv:DOI>",
        ]
        kept = draw(st.lists(st.sampled_from(parts), unique=True, max_size=len(parts)))
        items.append("<item>" + "".join(kept) + "</item>")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><pubDate>{draw(xml_content('Mon, 02 Mar 2026 00:00:00 -0500'))}</pubDate>"
        + "".join(items)
        + "</channel></rss>"
    )
    return draw(mangle(body))


@st.composite
def oai_response(draw: st.DrawFn) -> str:
    """An arXiv OAI-PMH ListRecords answer (arXivRaw and arXiv records) with hostile parts."""
    records = []
    for n in range(draw(st.integers(0, 4))):
        arxiv_id = f"2401.{n:05d}"
        status = ' status="deleted"' if draw(st.integers(0, 5)) == 0 else ""
        header = (
            f"<header{status}><identifier>{draw(xml_content(f'oai:arXiv.org:{arxiv_id}'))}"
            "</identifier></header>"
        )
        if draw(st.booleans()):
            fields = [
                f"<id>{draw(xml_content(arxiv_id))}</id>",
                f"<title>{draw(xml_content(f'A paper {n}'))}</title>",
                f"<abstract>{draw(xml_content('We study things.'))}</abstract>",
                f"<authors>{draw(xml_content('Ada Lovelace and Alan Turing'))}</authors>",
                f"<categories>{draw(xml_content('cs.CL cs.LG'))}</categories>",
                f"<doi>{draw(xml_content('10.1000/x 10.1000/y'))}</doi>",
                f"<version version={draw(xml_attr('v1'))}><date>"
                f"{draw(xml_content('Mon, 2 Apr 2007 19:18:42 GMT'))}</date></version>",
            ]
            kept = draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))
            payload = '<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">' + "".join(kept)
            payload += "</arXivRaw>"
        else:
            fields = [
                f"<id>{draw(xml_content(arxiv_id))}</id>",
                f"<title>{draw(xml_content(f'A paper {n}'))}</title>",
                f"<created>{draw(xml_content('2024-01-02'))}</created>",
                f"<updated>{draw(xml_content('2024-01-03'))}</updated>",
                "<authors><author><keyname>"
                f"{draw(xml_content('Lovelace'))}</keyname><forenames>"
                f"{draw(xml_content('Ada'))}</forenames></author></authors>",
            ]
            kept = draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))
            payload = '<arXiv xmlns="http://arxiv.org/OAI/arXiv/">' + "".join(kept) + "</arXiv>"
        records.append(f"<record>{header}<metadata>{payload}</metadata></record>")
    size = draw(xml_attr("1000"))
    token = f"<resumptionToken completeListSize={size}>{draw(xml_content('tok|1'))}"
    token += "</resumptionToken>"
    error = ""
    if draw(st.integers(0, 5)) == 0:
        code = draw(xml_attr("badResumptionToken"))
        error = f"<error code={code}>{draw(xml_content('expired'))}</error>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f"<responseDate>{draw(xml_content('2026-03-04T00:00:00Z'))}</responseDate>{error}"
        f"<ListRecords>{''.join(records)}{token}</ListRecords></OAI-PMH>"
    )
    return draw(mangle(body))
