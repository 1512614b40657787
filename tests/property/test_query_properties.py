"""The query language and the search behind it take any text a visitor can type or send.

``parse_query`` turns any text into a query or a ``QueryError``; ``search`` over a real
workspace answers any query, offset, limit and mode, or refuses with one of our own errors,
which the CLI prints as one line and the API turns into a 400. Anything else would be a
traceback for a user's typing.
"""

from __future__ import annotations

from _hostile import query_text
from _targets import check_query
from hypothesis import given
from hypothesis import strategies as st

from paperfeed import bounds
from paperfeed.errors import PaperfeedError, QueryError
from paperfeed.search import MODES, search
from paperfeed.search.query import parse_query
from paperfeed.workspace import Workspace

_counts = st.one_of(
    st.integers(-3, 60),
    st.sampled_from([bounds.MAX_SEARCH_DEPTH, bounds.MAX_SEARCH_DEPTH + 1, 2**31, 2**63, 10**30]),
    st.integers(),
)


@given(query_text)
def test_any_text_parses_into_a_query_or_a_query_error(text: str) -> None:
    check_query(text)


@given(query_text)
def test_a_parsed_query_names_only_dates_paperfeed_can_represent(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QueryError:
        return
    for day in (parsed.since, parsed.until):
        assert day is None or bounds.date_in_range(day), f"{text!r} gave a date {day}"


@given(
    query=query_text,
    limit=_counts,
    offset=_counts,
    mode=st.one_of(st.sampled_from(MODES), st.text(max_size=8)),
)
def test_search_answers_any_query_or_refuses_with_our_error(
    corpus: Workspace, query: str, limit: int, offset: int, mode: str
) -> None:
    try:
        results = search(corpus, query, limit=limit, offset=offset, mode=mode)  # type: ignore[arg-type]
    except PaperfeedError as error:
        assert str(error), "our errors say what is wrong"
        return
    assert len(results.hits) <= limit
    assert results.total >= 0
