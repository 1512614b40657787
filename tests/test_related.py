"""Find related work: a pasted title and abstract as the query, on both search backends.

Runs on the seed pages (285 real papers) as the embedded indexes over SQLite and as
``PostgresSearch`` over PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _core_helpers import MATRYOSHKA, all_papers, copy_workspace, paper_by_title

from paperfeed.bounds import MAX_QUERY_LENGTH, MAX_RELATED_QUERY_LENGTH
from paperfeed.db import Paper
from paperfeed.errors import QueryError
from paperfeed.search import SearchConfig, search
from paperfeed.search.related import (
    LONG_QUERY_CHARS,
    MAX_TERM_WEIGHT,
    is_long,
    normalised_title,
    prepare,
)
from paperfeed.workspace import Workspace


@pytest.fixture(params=("embedded", "postgres"))
def seeded(request: pytest.FixtureRequest) -> Workspace:
    """The seed pages on each backend. Read only!"""
    name = "seeded_workspace" if request.param == "embedded" else "seeded_postgres"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def pasted(paper: Paper) -> str:
    return f"{paper.title}\n\n{paper.abstract}"


def long_papers(ws: Workspace) -> list[Paper]:
    return [p for p in all_papers(ws) if len(p.abstract or "") > 2 * LONG_QUERY_CHARS]


def test_long_means_many_characters_or_many_words() -> None:
    assert not is_long("retrieval augmented generation for code")
    assert not is_long("Does ALDH1 expression in breast cancer predict poor survival?")
    assert is_long("x" * (LONG_QUERY_CHARS + 1))
    assert is_long(" ".join(["word"] * 41))


def test_a_pasted_abstract_finds_its_paper_as_this_paper_not_as_a_result(
    seeded: Workspace,
) -> None:
    paper = paper_by_title(seeded, MATRYOSHKA)
    results = search(seeded, pasted(paper), limit=10, explain=True)
    assert results.related is not None
    assert results.this_paper is not None and results.this_paper.paper.pk == paper.pk
    assert paper.pk not in [hit.paper.pk for hit in results.hits]
    assert len(results.hits) == 10
    assert [h.explanation.fused_rank for h in results.hits] == list(range(1, 11))
    # the related papers share the subject: embeddings
    assert any("embedding" in (h.paper.title + h.paper.abstract).lower() for h in results.hits)


def test_the_abstract_alone_is_recognised_by_meaning(seeded: Workspace) -> None:
    found = 0
    papers = long_papers(seeded)[:10]
    for paper in papers:
        results = search(seeded, paper.abstract, limit=5)
        if results.this_paper is not None:
            assert results.this_paper.paper.pk == paper.pk
            found += 1
    assert found >= 8, f"only {found} of {len(papers)} abstracts recognised"


def test_an_unknown_draft_has_no_this_paper(seeded: Workspace) -> None:
    draft = (
        "Sparse attention kernels for long documents.\n"
        "We study how transformer language models read long documents, and propose a "
        "sparse attention pattern that keeps a sliding window and a few global tokens. "
        "On question answering over books it matches dense attention at a fraction of the "
        "memory, and it trains faster than earlier sparse patterns on the same hardware."
    )
    results = search(seeded, draft, limit=5)
    assert results.related is not None and results.this_paper is None
    assert len(results.hits) == 5


def test_key_terms_are_weighted_by_tf_idf_not_every_word(seeded: Workspace) -> None:
    paper = paper_by_title(seeded, MATRYOSHKA)
    query = prepare(seeded.indexes, pasted(paper), key_terms=10)
    words = [w for w, _ in query.terms]
    assert len(words) == 10
    assert "the" not in words and "and" not in words
    assert "matryoshka" in words  # rare in the collection, frequent in the text
    assert all(1 <= n <= MAX_TERM_WEIGHT for _, n in query.terms)
    assert max(n for _, n in query.terms) > 1  # repeated words weigh more
    assert len(query.parsed.terms) == sum(n for _, n in query.terms)
    assert len(set(words)) == len(words)


def test_a_hyphenated_word_is_one_key_term(seeded: Workspace) -> None:
    text = "Surface-based models of articulated bodies. " * 12
    words = [w for w, _ in prepare(seeded.indexes, text).terms]
    assert len(set(words)) == len(words)


def test_lengths_over_the_query_language_limit_are_taken_up_to_the_hard_limit(
    seeded: Workspace,
) -> None:
    paper = paper_by_title(seeded, MATRYOSHKA)
    text = (pasted(paper) + "\n") * (MAX_QUERY_LENGTH // len(pasted(paper)) + 2)
    assert MAX_QUERY_LENGTH < len(text) <= MAX_RELATED_QUERY_LENGTH
    assert search(seeded, text, limit=3).this_paper is not None
    with pytest.raises(QueryError, match=r"too long \(10,001 characters; at most 10,000\)"):
        search(seeded, "a" * (MAX_RELATED_QUERY_LENGTH + 1))


def test_short_queries_keep_the_query_language(seeded: Workspace) -> None:
    results = search(seeded, '"sentence embeddings" -vision', limit=5)
    assert results.related is None and results.this_paper is None
    assert results.parsed.phrases == ["sentence embeddings"]


def test_lexical_and_dense_modes_take_long_queries_too(seeded: Workspace) -> None:
    paper = paper_by_title(seeded, MATRYOSHKA)
    for mode in ("lexical", "dense"):
        results = search(seeded, pasted(paper), limit=5, mode=mode)  # type: ignore[arg-type]
        assert results.this_paper is not None and results.this_paper.paper.pk == paper.pk
        assert len(results.hits) == 5


def test_the_related_weight_steers_the_fusion(seeded: Workspace) -> None:
    paper = paper_by_title(seeded, MATRYOSHKA)
    text = pasted(paper)
    dense_only = search(seeded, text, config=SearchConfig(related_dense_weight=1.0))
    ranks = [h.explanation.dense_rank for h in dense_only.hits]
    assert None not in ranks and ranks == sorted(ranks)  # type: ignore[type-var]
    lexical_only = search(seeded, text, config=SearchConfig(related_dense_weight=0.0))
    ranks = [h.explanation.lexical_rank for h in lexical_only.hits]
    assert None not in ranks and ranks == sorted(ranks)  # type: ignore[type-var]


def test_titles_compare_without_case_accents_or_punctuation() -> None:
    assert normalised_title("Café: A Study—of  Things") == normalised_title(
        "cafe a study of things"
    )


def _cli(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_") and k != "COLUMNS"}
    env["PAPERFEED_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-c", "from paperfeed.cli import main; main()", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir.parent,
        timeout=300,
    )


def test_the_related_command_reads_a_draft_from_stdin_or_a_file(
    seeded_workspace: Workspace, tmp_path: Path
) -> None:
    ws = copy_workspace(seeded_workspace, tmp_path / "data")
    paper = paper_by_title(ws, MATRYOSHKA)
    ws.db.engine.dispose()
    result = _cli(tmp_path / "data", "related", "-", "--json", "-n", "3", stdin=pasted(paper))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["this_paper"]["id"] == paper.id
    assert len(data["results"]) == 3 and paper.id not in [r["id"] for r in data["results"]]

    draft = tmp_path / "draft.txt"
    draft.write_text(pasted(paper))
    result = _cli(tmp_path / "data", "related", str(draft), "--explain", "-n", "2")
    assert result.returncode == 0, result.stderr
    assert "this paper:" in result.stdout and "key terms:" in result.stdout

    draft.write_text("x " * MAX_RELATED_QUERY_LENGTH)
    result = _cli(tmp_path / "data", "related", str(draft))
    assert result.returncode != 0
    assert "longer than 10,000 characters" in result.stdout + result.stderr
