"""The query language: what ``parse_query`` makes of words, phrases, exclusions and fields."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paperfeed.errors import QueryError
from paperfeed.search.query import MAX_QUERY_LENGTH, ParsedQuery, parse_query


def test_free_words_become_terms_in_order() -> None:
    parsed = parse_query("sparse  attention\ttransformers")
    assert parsed == ParsedQuery(terms=["sparse", "attention", "transformers"])
    assert parsed.text == "sparse attention transformers"
    assert not parsed.has_filters


def test_quoted_phrase_is_a_phrase_and_counts_as_text() -> None:
    parsed = parse_query('contrastive "sentence embeddings" learning')
    assert parsed.terms == ["contrastive", "learning"]
    assert parsed.phrases == ["sentence embeddings"]
    assert parsed.has_filters  # a phrase must appear
    assert parsed.text == "contrastive learning sentence embeddings"


def test_minus_word_and_minus_phrase_are_exclusions() -> None:
    parsed = parse_query('retrieval -medical -"large language"')
    assert parsed.terms == ["retrieval"]
    assert parsed.excluded == ["medical", "large language"]
    assert parsed.phrases == []
    assert parsed.text == "retrieval"  # excluded words carry no meaning for the embedding
    assert parsed.has_filters


def test_hyphenated_word_is_not_an_exclusion() -> None:
    assert parse_query("self-supervised pre-training").terms == ["self-supervised", "pre-training"]


def test_author_bare_and_quoted() -> None:
    parsed = parse_query('author:lecun author:"Yann LeCun" vision')
    assert parsed.authors == ["lecun", "Yann LeCun"]
    assert parsed.terms == ["vision"]
    assert parsed.phrases == []  # a quoted field value is not a phrase


def test_several_categories_are_all_kept_and_field_names_ignore_case() -> None:
    parsed = parse_query("cat:cs.CL CAT:cs.LG category:cs.CV")
    assert parsed.categories == ["cs.CL", "cs.LG", "cs.CV"]
    assert parsed.text == ""
    assert parsed.has_filters


def test_negated_field_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="-cat:"):
        parse_query("-cat:cs.CL")


@pytest.mark.parametrize(
    ("query", "since", "until"),
    [
        ("since:2024", date(2024, 1, 1), None),
        ("until:2024", None, date(2024, 12, 31)),
        ("since:2024-05", date(2024, 5, 1), None),
        ("until:2024-04", None, date(2024, 4, 30)),
        ("until:2024-02", None, date(2024, 2, 29)),  # leap year
        ("until:2023-02", None, date(2023, 2, 28)),
        ("until:1900-02", None, date(1900, 2, 28)),  # divisible by 100: not a leap year
        ("until:2000-02", None, date(2000, 2, 29)),  # divisible by 400: a leap year
        ("until:2024-12", None, date(2024, 12, 31)),
        ("since:2024-02-29 until:2024-03-01", date(2024, 2, 29), date(2024, 3, 1)),
        ("since:2024-06-30 until:2024-06-30", date(2024, 6, 30), date(2024, 6, 30)),
    ],
)
def test_date_bounds(query: str, since: date | None, until: date | None) -> None:
    parsed = parse_query(query)
    assert (parsed.since, parsed.until) == (since, until)
    assert parsed.has_filters
    assert parsed.text == ""


def test_date_bounds_are_inclusive_whole_days_in_utc() -> None:
    parsed = parse_query("since:2024-03 until:2024-03")
    assert parsed.since_datetime == datetime(2024, 3, 1, tzinfo=UTC)
    end = parsed.until_datetime
    assert end is not None and end.tzinfo is not None
    assert end.date() == date(2024, 3, 31)
    assert (end.hour, end.minute, end.second) == (23, 59, 59)


@pytest.mark.parametrize(
    "query",
    [
        "since:2024-13",
        "until:2024-00",
        "since:2023-02-29",
        "since:2024-04-31",
        "since:yesterday",
        "until:2024/05/01",
        "since:2024-01-01-01",
        "since:0",
    ],
)
def test_bad_date_is_a_query_error_naming_the_value(query: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    message = str(info.value)
    assert query in message
    assert "YYYY-MM-DD" in message


def test_since_after_until_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="after"):
        parse_query("since:2024-06 until:2024-05-31")


def test_unknown_field_is_kept_as_a_plain_word() -> None:
    assert parse_query("BERT:pre-training").terms == ["BERT:pre-training"]
    parsed = parse_query("BERT: pre-training of deep bidirectional transformers")
    assert parsed.terms[0] == "BERT:"
    assert parsed.terms[1:] == ["pre-training", "of", "deep", "bidirectional", "transformers"]
    assert not parsed.has_filters
    assert "BERT" in parsed.text


def test_url_is_one_plain_word() -> None:
    assert parse_query("https://arxiv.org/abs/2402.14776").terms == [
        "https://arxiv.org/abs/2402.14776"
    ]


def test_query_of_max_length_is_fine_and_longer_is_an_error() -> None:
    words = ("word " * MAX_QUERY_LENGTH)[:MAX_QUERY_LENGTH]
    assert len(parse_query(words).terms) > 100
    with pytest.raises(QueryError, match="too long"):
        parse_query(words + "x")


def test_unclosed_quote_is_tolerated_as_a_phrase_to_the_end() -> None:
    parsed = parse_query('vision "masked image modeling')
    assert parsed.terms == ["vision"]
    assert parsed.phrases == ["masked image modeling"]
    assert parse_query('author:"Yann').authors == ["Yann"]


def test_empty_and_blank_pieces_give_an_empty_query() -> None:
    for raw in ("", "   ", '""', '-""', 'author:""'):
        parsed = parse_query(raw)
        assert parsed == ParsedQuery(), raw
        assert parsed.text == ""
        assert not parsed.has_filters


def test_everything_together() -> None:
    parsed = parse_query(
        'contrastive "vision language" -medical cat:cs.CV cat:cs.CL '
        'author:"Kaiming He" since:2025 until:2026-05'
    )
    assert parsed.terms == ["contrastive"]
    assert parsed.phrases == ["vision language"]
    assert parsed.excluded == ["medical"]
    assert parsed.categories == ["cs.CV", "cs.CL"]
    assert parsed.authors == ["Kaiming He"]
    assert parsed.since == date(2025, 1, 1)
    assert parsed.until == date(2026, 5, 31)
