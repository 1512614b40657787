"""Every input format and every live service's parser survives hostile input.

Upstream data is not ours: a snapshot line with a number where a string belongs, an Atom
entry dated in the year 9999, a JSON escape for half a UTF-16 pair, a file of random bytes.
A parser turns each record into a ``PaperRecord`` or a ``ParseProblem`` and goes on; only a
file it cannot read at all ends in a ``SourceError`` (which names the file). Ingest of a file
that mixes good and hostile records stores every good one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _core_helpers import make_workspace
from _hostile import (
    atom_entry,
    atom_feed,
    hostile_json_line,
    hostile_object,
    hostile_text,
    json_values,
    oai_response,
    rss_feed,
)
from _targets import (
    FILE_NAMES,
    HF_ENTRY,
    JSON_LINES_TEMPLATES,
    check_arxiv_ref,
    check_atom_text,
    check_format,
    check_hf_daily_text,
    check_oai_text,
    check_rss_text,
    format_inputs,
    good_key,
    good_object,
    good_title,
    hf_daily_json,
    next_serial,
)
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from paperfeed.catalog.ingest import ingest_files
from paperfeed.db import Paper
from paperfeed.formats import FORMATS
from paperfeed.workspace import Workspace

# -- each parser alone ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMATS))
@given(data=st.data())
def test_format_parses_hostile_files_into_records_and_problems(
    name: str, data: st.DataObject, tmp_path: Path
) -> None:
    content, gz = data.draw(format_inputs(name), label="file")
    check_format(tmp_path, name, content, gz)


@given(st.tuples(st.one_of(hf_daily_json(), hostile_text), st.none() | st.dates()))
def test_hf_daily_service_parses_any_answer(value: tuple[str, object]) -> None:
    check_hf_daily_text(*value)  # type: ignore[arg-type]


@given(st.one_of(atom_feed(), hostile_text))
def test_arxiv_api_service_parses_any_answer(text: str) -> None:
    check_atom_text(text)


@given(st.one_of(oai_response(), hostile_text))
def test_oai_service_parses_any_answer(text: str) -> None:
    check_oai_text(text)


@given(st.one_of(rss_feed(), hostile_text))
def test_rss_service_parses_any_answer(text: str) -> None:
    check_rss_text(text)


@given(hostile_text)
def test_submitted_reference_is_an_arxiv_id_or_a_query_error(text: str) -> None:
    check_arxiv_ref(text)


# -- ingest of good records among hostile ones ---------------------------------------------------


@pytest.fixture(scope="module")
def ingest_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """An empty workspace every example ingests into (good records have ids of their own)."""
    return make_workspace(tmp_path_factory.mktemp("hostile-ingest") / "data")


def _readable(text: str) -> bytes:
    """UTF-8 with lone surrogates replaced: the file as a whole must stay readable."""
    return text.encode("utf-8", "replace")


@st.composite
def _mixed_file(draw: st.DrawFn, name: str) -> tuple[bytes, list[int]]:
    """(file content, serial numbers of its good records) for format ``name``."""
    serials = [next_serial() for _ in range(draw(st.integers(1, 3)))]
    goods = [good_object(name, n) for n in serials] if name != "arxiv-atom" else []
    if name in JSON_LINES_TEMPLATES:
        hostile = draw(st.lists(hostile_json_line(JSON_LINES_TEMPLATES[name]), max_size=4))
        lines = [json.dumps(goods[0]), *hostile]
        for good in goods[1:]:
            lines.insert(draw(st.integers(1, len(lines))), json.dumps(good))
        return _readable("\n".join(lines)), serials
    if name == "hf-daily":
        hostile = draw(
            st.lists(st.one_of(hostile_object(HF_ENTRY, "paper"), json_values), max_size=4)
        )
        entries = [*hostile]
        for good in goods:
            entries.insert(draw(st.integers(0, len(entries))), good)
        return _readable(json.dumps(entries)), serials
    if name == "arxiv-atom":
        entries = [draw(atom_entry(n, well_formed=True)) for n in range(draw(st.integers(0, 4)))]
        for n in serials:
            good = (
                f"<entry><id>http://arxiv.org/abs/{good_key(name, n)}v1</id>"
                f"<title>{good_title(n)}</title><summary>We study things.</summary>"
                "<published>2024-01-02T03:04:05Z</published></entry>"
            )
            entries.insert(draw(st.integers(0, len(entries))), good)
        feed = (
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        )
        return _readable(feed + "".join(entries) + "</feed>"), serials
    raise KeyError(name)


@pytest.mark.parametrize("name", [*sorted(JSON_LINES_TEMPLATES), "hf-daily", "arxiv-atom"])
@given(data=st.data())
def test_ingest_stores_every_good_record_among_hostile_ones(
    name: str, data: st.DataObject, ingest_workspace: Workspace, tmp_path: Path
) -> None:
    content, serials = data.draw(_mixed_file(name), label="file")
    path = tmp_path / str(serials[0]) / FILE_NAMES[name]
    path.parent.mkdir()
    path.write_bytes(content)
    ingest_files(ingest_workspace.db, FORMATS[name], [path])
    with ingest_workspace.db.session() as session:
        for n in serials:
            title = session.scalar(select(Paper.title).where(Paper.id == good_key(name, n)))
            assert title == good_title(n), f"good record {good_key(name, n)} not stored"
