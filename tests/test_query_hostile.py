"""Hostile queries: any string parses or raises ``QueryError``, and what parses runs in tantivy.

The lexical index is a real tantivy index (a few papers across the date range it can hold);
the end-to-end cases go through ``search`` on the seed workspace, as the web and CLI do.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperfeed import bounds
from paperfeed.errors import QueryError
from paperfeed.search import query, search
from paperfeed.search.index.lexical import LexicalDoc, LexicalIndex, matched_terms
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.workspace import Workspace

SYNTAX = [*'+-&|!(){}[]^"~*?:\\/', "&&", "||", "AND", "OR", "NOT"]
HOSTILE = [
    '"',
    '"""',
    '""',
    '-""',
    'author:""',
    'author:"',
    "author:",
    "cat:",
    'cat:""',
    "since:",
    "until:",
    "-",
    "--",
    '"-"',
    '-"',
    "-author:",
    *SYNTAX,
    " ".join(SYNTAX),
    "".join(SYNTAX),
    '+a -b && c || !d (e) {f} [g] ^h "i" ~j *k ?l :m \\n /o',
    "title:x body:y published:[2020 TO 2021] pk:1",
    "x" * 999,
    "cat:" + "c" * 990,
    "author:" + "a" * 990,
    '"' + "a " * 450 + '"',
    "a:" * 499,
    "-" * 1000,
    '"' * 1000,
    ":" * 1000,
    '-"' * 500,
    "\U0001f600 \U0001f9ea attention \U0001f600",
    "cat:\U0001f600",
    "author:\u202eeman\u202c",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 transformers",
    "\u200b\ufeff\u0301",
    "\x00",
    "atten\x00tion",
    "\ud800",
    "cat:\udfff",
    "since:\u0662\u0660\u0662\u0664",  # 2024 in Arabic-Indic digits
    "since:\uff12\uff10\uff12\uff14-\uff10\uff11",  # fullwidth digits
    "since:1678 until:2199-12-31",
    "since:2199-12-31",
    "until:1678-01-01",
]


@pytest.fixture(scope="module")
def lexical(tmp_path_factory: pytest.TempPathFactory) -> LexicalIndex:
    index = LexicalIndex(Path(tmp_path_factory.mktemp("hostile")) / "lexical")
    index.upsert(
        LexicalDoc(
            pk,
            f"Attention paper {pk}",
            "Transformers and models",
            ["Yann LeCun"],
            ["cs.CL"],
            published,
        )
        for pk, published in enumerate(
            [
                datetime(1678, 1, 1, tzinfo=UTC),
                datetime(2024, 5, 1, tzinfo=UTC),
                datetime(2262, 1, 1, tzinfo=UTC),
            ]
        )
    )
    return index


def run_everywhere(index: LexicalIndex, raw: str) -> ParsedQuery | None:
    """Parse ``raw`` and run every tantivy query the index builds from it."""
    try:
        parsed = parse_query(raw)
    except QueryError:
        return None
    index.search(parsed, 10, title_boost=0.25)
    index.browse(parsed, 10, 0)
    index.filter_pks(parsed, 10)
    index.allowed(parsed, 10)
    matched_terms(parsed, "Attention paper", "Transformers")
    return parsed


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_query_parses_or_is_a_query_error_and_runs_in_tantivy(
    lexical: LexicalIndex, raw: str
) -> None:
    run_everywhere(lexical, raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from([*SYNTAX, "author:", "cat:", "since:", "until:", " ", "-", '"']),
            st.text(max_size=12),
            st.from_regex(r"\d{4}(-\d{1,2}){0,2}", fullmatch=True),
        ),
        max_size=12,
    ).map("".join)
)
def test_any_string_parses_or_is_a_query_error(raw: str) -> None:
    try:
        parsed = parse_query(raw)
    except QueryError:
        return
    for text in [*parsed.terms, *parsed.phrases, *parsed.excluded, *parsed.authors]:
        assert not bounds.has_unprintable(text)
    for day in (parsed.since, parsed.until):
        assert day is None or bounds.date_in_range(day)


def test_control_characters_and_lone_surrogates_are_dropped_before_parsing() -> None:
    assert parse_query("atten\x00tion trans\x07formers").terms == ["attention", "transformers"]
    assert parse_query("cat:cs.CL\x01 \ud800").categories == ["cs.CL"]
    assert parse_query('"vision\x1b language"').phrases == ["vision language"]
    assert parse_query("\x00\x01\ud800\udfff") == ParsedQuery()


@pytest.mark.parametrize(
    "raw",
    ["since:2300", "until:2300-01", "since:9999-12-31", "until:1664-12-31", "since:1000"],
)
def test_dates_outside_the_supported_range_name_the_range(raw: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(raw)
    assert raw in str(info.value)
    assert bounds.date_range_text() in str(info.value)


def test_dates_at_the_edges_of_the_range_are_accepted(lexical: LexicalIndex) -> None:
    parsed = parse_query("since:1678 until:2199-12-31")
    assert (parsed.since, parsed.until) == (bounds.EARLIEST_DATE, bounds.LATEST_DATE)
    assert sorted(lexical.browse(parsed, 10)[0]) == [0, 1]


def test_the_earliest_dates_find_the_earliest_papers(
    lexical: LexicalIndex,
) -> None:
    assert sorted(lexical.browse(parse_query("until:1700"), 10)[0]) == [0]
    # Paper 2's date (2262) is past the range: indexed without a date, matched by no date.
    assert sorted(lexical.browse(parse_query("since:1678"), 10)[0]) == [0, 1]
    assert sorted(lexical.browse(parse_query("transformers"), 10)[0]) == [0, 1, 2]


def test_year_zero_is_not_a_date() -> None:
    with pytest.raises(QueryError, match="not a date"):
        parse_query("since:0000")


def test_pathological_queries_of_the_maximum_length_parse_quickly() -> None:
    started = time.perf_counter()
    for raw in ["a:" * 500, '"' * 1000, "-" * 1000, "a" * 1000, '-"' * 500, "author:" * 142]:
        parse_query(raw[: bounds.MAX_QUERY_LENGTH])
    assert time.perf_counter() - started < 1.0


def test_the_query_length_limit_is_the_shared_one() -> None:
    assert query.MAX_QUERY_LENGTH == bounds.MAX_QUERY_LENGTH
    with pytest.raises(QueryError, match="too long"):
        parse_query("x" * (bounds.MAX_QUERY_LENGTH + 1))


@pytest.mark.parametrize("raw", HOSTILE)
def test_search_answers_a_hostile_query_or_raises_a_query_error(
    seeded_workspace: Workspace, raw: str
) -> None:
    try:
        results = search(seeded_workspace, raw, mode="lexical", limit=5)
    except QueryError:
        return
    assert len(results.hits) <= 5


@pytest.mark.parametrize("raw", ["\U0001f600 attention", "atten\x00tion", "cat:\ud800 graphs"])
def test_hybrid_search_embeds_a_cleaned_query(seeded_workspace: Workspace, raw: str) -> None:
    results = search(seeded_workspace, raw, limit=3)
    assert "\x00" not in results.parsed.text and "\ud800" not in results.parsed.text
    assert results.hits


def test_a_date_in_range_but_before_any_paper_finds_nothing(seeded_workspace: Workspace) -> None:
    results = search(seeded_workspace, "until:1700-01-01")
    assert results.hits == [] and results.total == 0
    assert results.parsed.until == date(1700, 1, 1)
