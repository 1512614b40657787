"""Search over real workspaces: the seed pages (285 papers) and a Kaggle arXiv sample (200).

Every test runs on both search backends (``backend``): the embedded indexes over SQLite and
``PostgresSearch`` over PostgreSQL, on the same papers with the same vectors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _core_helpers import MATRYOSHKA, all_papers, copy_workspace, paper_by_title
from sqlalchemy import func, select

from paperfeed.catalog.demo import VECTORS_FILE, demo_files, load_demo
from paperfeed.catalog.lookup import get_paper
from paperfeed.config import Settings
from paperfeed.db import Paper
from paperfeed.errors import NotFoundError, QueryError
from paperfeed.search import MODES, SearchConfig, embed, fuse, search, similar
from paperfeed.search.catchup import catch_up
from paperfeed.search.query import parse_query
from paperfeed.workspace import Workspace

BACKENDS = ("embedded", "postgres")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def seeded(backend: str, request: pytest.FixtureRequest) -> Workspace:
    """The seed pages (285 papers) on ``backend``. Read only!"""
    return request.getfixturevalue(
        "seeded_workspace" if backend == "embedded" else "seeded_postgres"
    )


@pytest.fixture
def kaggle(backend: str, request: pytest.FixtureRequest) -> Workspace:
    """The Kaggle sample (200 papers, dates, categories, authors) on ``backend``. Read only!"""
    return request.getfixturevalue(
        "kaggle_workspace" if backend == "embedded" else "kaggle_postgres"
    )


def titles(ws: Workspace, query: str, **kw: object) -> list[str]:
    return [hit.paper.title for hit in search(ws, query, **kw).hits]  # type: ignore[arg-type]


def text_of(paper: Paper) -> str:
    return f"{paper.title} {paper.abstract}".lower()


# -- ranking ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_exact_title_words_find_the_paper_first(seeded: Workspace, mode: str) -> None:
    results = search(seeded, "2D Matryoshka sentence embeddings", mode=mode, limit=5)
    assert results.mode == mode
    assert results.hits[0].paper.title == MATRYOSHKA
    scores = [hit.score for hit in results.hits]
    assert scores == sorted(scores, reverse=True)


# Queries written to describe each paper in other words than its title. (Two more were tried
# and are not used: one for "MobileNetV2: Inverted Residuals and Linear Bottlenecks" — "efficient
# convolutional network architecture for phones" — ranks it 1st by meaning but 7th hybrid; one
# for "Model soups" shared the word "fine-tuned" with the title.)
PARAPHRASES = [
    (
        "Towards Seamless Adaptation of Pre-trained Models for Visual Place Recognition",
        "adapting foundation vision backbones to recognise locations from photos",
    ),
    (
        "Detecting Pretraining Data from Large Language Models",
        "finding out whether a given text was part of a chatbot's training corpus",
    ),
    (
        "Deep Learning Face Attributes in the Wild",
        "predicting facial characteristics from unconstrained photos",
    ),
    (
        "Pointer Networks",
        "neural architecture whose outputs are positions in the input sequence",
    ),
]


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
@pytest.mark.parametrize(("title", "query"), PARAPHRASES, ids=[t[:24] for t, _ in PARAPHRASES])
def test_a_query_in_other_words_finds_the_paper_by_meaning(
    seeded: Workspace, title: str, query: str, mode: str
) -> None:
    assert title in titles(seeded, query, mode=mode, limit=5)


def test_lexical_mode_does_not_match_by_meaning(seeded: Workspace, backend: str) -> None:
    title, query = PARAPHRASES[0]
    hits = search(seeded, query, mode="lexical", limit=20, explain=True).hits
    assert hits and all(hit.explanation.matched_terms for hit in hits)  # each shares a word
    if backend == "embedded":
        assert title not in [hit.paper.title for hit in hits[:5]]
    # PostgreSQL's ranking puts it fourth, by the words it shares with the query ("adapting"
    # and "Adaptation" have one stem; "foundation", "vision"): words, not meaning.


# -- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_phrase_must_appear(seeded: Workspace, mode: str) -> None:
    loose = search(seeded, "sentence embeddings", mode=mode, limit=50).hits
    strict = search(seeded, '"sentence embeddings"', mode=mode, limit=50).hits
    phrase = re.compile(r"sentence[\s-]+embedding")
    assert strict, "some seed papers contain the phrase"
    assert all(phrase.search(text_of(hit.paper)) for hit in strict)
    assert any(not phrase.search(text_of(hit.paper)) for hit in loose)


@pytest.mark.parametrize("mode", MODES)
def test_an_excluded_word_removes_the_papers_containing_it(seeded: Workspace, mode: str) -> None:
    with_word = search(seeded, "embeddings", mode=mode, limit=50).hits
    assert any("matryoshka" in text_of(hit.paper) for hit in with_word)
    without = search(seeded, "embeddings -matryoshka", mode=mode, limit=50).hits
    assert without
    assert not any("matryoshka" in text_of(hit.paper) for hit in without)


def test_an_excluded_phrase_removes_only_the_phrase(seeded: Workspace) -> None:
    hits = search(seeded, 'pre-training -"language models"', limit=100).hits
    assert hits
    assert not any(re.search(r"language\s+models?\b", text_of(h.paper)) for h in hits)
    assert any("language" in text_of(h.paper) for h in hits)  # the words alone are fine


# -- explain ----------------------------------------------------------------------------------


def test_default_fusion_blends_min_max_scaled_scores(seeded: Workspace) -> None:
    results = search(seeded, "2D Matryoshka sentence embeddings", limit=10, explain=True)
    top = results.hits[0].explanation
    assert (top.lexical_rank, top.dense_rank) == (1, 1)
    assert top.fused_score == pytest.approx(1.0)  # the best of both lists: 0.5 * 1 + 0.5 * 1
    scores = [h.score for h in results.hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


@pytest.mark.parametrize("fusion", ["convex", "rrf"])
def test_fuse_ranks_the_two_lists_as_search_does(seeded: Workspace, fusion: str) -> None:
    config = SearchConfig(fusion=fusion)  # type: ignore[arg-type]
    parsed = parse_query("sentence embeddings of several sizes")
    lexical = seeded.indexes.lexical(parsed, config.candidates, title_boost=config.title_boost)
    vector = embed.get_query_embedder().embed_query(parsed.text)
    dense = seeded.indexes.dense(vector, config.candidates, parsed)
    fused = fuse(lexical, dense, config)
    order = sorted(fused.items(), key=lambda item: (-item[1].fused_score, item[0]))[:10]
    results = search(seeded, parsed.text, limit=10, config=config)
    assert [(h.paper.pk, h.score) for h in results.hits] == [(pk, e.fused_score) for pk, e in order]
    assert fuse([], [], config) == {}


def test_explain_says_why_a_paper_ranked(seeded: Workspace) -> None:
    results = search(
        seeded,
        "2D Matryoshka sentence embeddings",
        limit=10,
        explain=True,
        config=SearchConfig(fusion="rrf"),
    )
    top = results.hits[0].explanation
    assert top.fused_rank == 1
    assert top.lexical_rank == 1 and top.lexical_score is not None and top.lexical_score > 0
    assert top.dense_rank == 1
    assert top.similarity is not None and 0.3 < top.similarity <= 1.0
    assert set(top.matched_terms) == {"2D", "Matryoshka", "sentence", "embeddings"}
    assert top.fused_score == pytest.approx(2 / (60 + 1))
    assert results.hits[0].score == top.fused_score
    assert [h.explanation.fused_rank for h in results.hits] == list(range(1, 11))
    for hit in results.hits:
        e = hit.explanation
        assert e.lexical_rank is not None or e.dense_rank is not None
        expected = sum(1 / (60 + r) for r in (e.lexical_rank, e.dense_rank) if r is not None)
        assert e.fused_score == pytest.approx(expected)
        assert set(e.matched_terms) <= {"2D", "Matryoshka", "sentence", "embeddings"}
    data = top.as_dict()
    assert set(data) == {
        "fused_rank",
        "fused_score",
        "lexical_rank",
        "bm25",
        "dense_rank",
        "similarity",
        "matched_terms",
        "title_phrase",
    }


def test_without_explain_there_are_no_matched_terms(seeded: Workspace) -> None:
    hit = search(seeded, "Matryoshka", limit=1).hits[0]
    assert hit.explanation.matched_terms == []
    assert hit.explanation.lexical_rank == 1


def test_dense_only_explanation_has_no_lexical_part(seeded: Workspace) -> None:
    hit = search(seeded, "Matryoshka", mode="dense", limit=1, explain=True).hits[0]
    assert hit.explanation.lexical_rank is None and hit.explanation.lexical_score is None
    assert hit.explanation.dense_rank == 1


# -- paging and errors ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_pages_do_not_overlap_and_add_up_to_the_unpaged_list(seeded: Workspace, mode: str) -> None:
    query = "vision language pre-training"
    whole = search(seeded, query, mode=mode, limit=30)
    pages = [search(seeded, query, mode=mode, limit=10, offset=o) for o in (0, 10, 20)]
    ids = [[h.paper.id for h in page.hits] for page in pages]
    assert all(len(page) == 10 for page in ids)
    flat = [i for page in ids for i in page]
    assert len(set(flat)) == 30
    assert flat == [h.paper.id for h in whole.hits]
    assert [h.explanation.fused_rank for h in pages[1].hits] == list(range(11, 21))
    assert {page.total for page in pages} == {whole.total}
    assert whole.total >= 30


def test_a_page_past_the_end_is_empty(seeded: Workspace) -> None:
    results = search(seeded, "Matryoshka", mode="lexical", limit=10, offset=990)
    assert results.hits == []
    assert results.total > 0


@pytest.mark.parametrize(("limit", "offset"), [(10, 991), (1001, 0), (1, 10**30)])
def test_a_page_deeper_than_the_search_goes_is_a_query_error(
    seeded: Workspace, limit: int, offset: int
) -> None:
    with pytest.raises(QueryError, match="1000 deep"):
        search(seeded, "Matryoshka", limit=limit, offset=offset)


@pytest.mark.parametrize("query", ["", "   ", '""', '-""'])
def test_empty_query_is_a_query_error(seeded: Workspace, query: str) -> None:
    with pytest.raises(QueryError, match="empty query"):
        search(seeded, query)


def test_unknown_mode_and_bad_paging_are_query_errors(seeded: Workspace) -> None:
    with pytest.raises(QueryError, match="mode"):
        search(seeded, "embeddings", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(QueryError):
        search(seeded, "embeddings", limit=0)
    with pytest.raises(QueryError):
        search(seeded, "embeddings", offset=-1)
    with pytest.raises(QueryError, match="2024-13"):
        search(seeded, "embeddings since:2024-13")


# -- papers and similar papers ----------------------------------------------------------------


def test_similar_papers_exclude_the_paper_and_are_related(seeded: Workspace) -> None:
    paper = paper_by_title(seeded, MATRYOSHKA)
    hits = similar(seeded, paper.id, limit=5)
    assert len(hits) == 5
    assert paper.pk not in {hit.paper.pk for hit in hits}
    found = [hit.paper.title for hit in hits]
    assert "Starbucks: Improved Training for 2D Matryoshka Embeddings" in found
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert [hit.explanation.dense_rank for hit in hits] == [1, 2, 3, 4, 5]


def test_similar_of_an_unknown_paper_is_not_found(seeded: Workspace) -> None:
    with pytest.raises(NotFoundError):
        similar(seeded, "9999.99999")


def test_get_paper_by_id_and_unknown_id(seeded: Workspace) -> None:
    paper = paper_by_title(seeded, MATRYOSHKA)
    assert get_paper(seeded, paper.id).title == MATRYOSHKA
    assert get_paper(seeded, f"  {paper.id} ").pk == paper.pk
    with pytest.raises(NotFoundError, match=r"9999\.99999"):
        get_paper(seeded, "9999.99999")


def test_get_paper_accepts_a_version_and_an_arxiv_prefix(kaggle: Workspace) -> None:
    for raw in ("0704.0001", "0704.0001v1", "arXiv:0704.0001", "arxiv:0704.0001v2"):
        assert get_paper(kaggle, raw).id == "0704.0001"


# -- filters on the Kaggle sample (dates, categories, authors) --------------------------------


def _expected_ids(ws: Workspace, keep: Callable[[Paper], bool]) -> set[str]:
    return {p.id for p in all_papers(ws) if keep(p)}


def test_filter_only_query_lists_matching_papers_newest_first(kaggle: Workspace) -> None:
    april = datetime(2007, 4, 1, tzinfo=UTC)
    expected = _expected_ids(kaggle, lambda p: p.published >= april)
    assert 0 < len(expected) < 200
    results = search(kaggle, "since:2007-04", limit=200)
    assert results.total == len(expected)
    assert {h.paper.id for h in results.hits} == expected
    dates = [h.paper.published for h in results.hits]
    assert dates == sorted(dates, reverse=True)
    assert all(h.score == 0.0 for h in results.hits)


def test_filter_only_query_pages(kaggle: Workspace) -> None:
    whole = [h.paper.id for h in search(kaggle, "since:2007", limit=60).hits]
    pages = [
        h.paper.id
        for offset in (0, 20, 40)
        for h in search(kaggle, "since:2007", limit=20, offset=offset).hits
    ]
    assert pages == whole
    assert len(set(whole)) == 60


def test_until_a_day_includes_that_whole_day(kaggle: Workspace) -> None:
    with kaggle.db.session() as session:
        oldest = session.scalar(select(func.min(Paper.published)))
    assert oldest is not None and (oldest.hour, oldest.minute) != (0, 0)
    day = oldest.date().isoformat()
    expected = _expected_ids(kaggle, lambda p: p.published.date() <= oldest.date())
    results = search(kaggle, f"until:{day}", limit=200)
    assert {h.paper.id for h in results.hits} == expected
    assert results.total == len(expected) > 0
    assert search(kaggle, f"since:{day} until:{day}", limit=200).total == len(expected)
    assert search(kaggle, "until:2007-02", limit=10).total == 0
    assert search(kaggle, "since:2008", limit=10).total == 0


def test_category_filters_any_of_several(kaggle: Workspace) -> None:
    hep_ph = _expected_ids(kaggle, lambda p: "hep-ph" in p.categories)
    hep_th = _expected_ids(kaggle, lambda p: "hep-th" in p.categories)
    assert hep_ph and hep_th
    one = search(kaggle, "cat:hep-ph", limit=200)
    assert {h.paper.id for h in one.hits} == hep_ph and one.total == len(hep_ph)
    both = search(kaggle, "cat:hep-ph cat:hep-th", limit=200)
    assert {h.paper.id for h in both.hits} == hep_ph | hep_th
    # a secondary category counts too: 0704.0002 is math.CO first, cs.CG second
    assert "0704.0002" in {h.paper.id for h in search(kaggle, "cat:cs.CG").hits}


@pytest.mark.parametrize("mode", MODES)
def test_category_filter_applies_to_ranked_search_in_every_mode(
    kaggle: Workspace, mode: str
) -> None:
    hits = search(kaggle, "quark mass cat:hep-ph", mode=mode, limit=50).hits
    assert hits
    assert all("hep-ph" in h.paper.categories for h in hits)
    unfiltered = search(kaggle, "quark mass", mode=mode, limit=50).hits
    assert any("hep-ph" not in h.paper.categories for h in unfiltered)


def test_author_filter_by_surname_and_by_full_name(kaggle: Workspace) -> None:
    grabec = _expected_ids(kaggle, lambda p: "I. Grabec" in p.authors)
    assert len(grabec) == 6
    assert {h.paper.id for h in search(kaggle, "author:grabec", limit=50).hits} == grabec
    full = search(kaggle, 'author:"I. Grabec"', limit=50)
    assert {h.paper.id for h in full.hits} == grabec
    yurkin = _expected_ids(kaggle, lambda p: "Maxim A. Yurkin" in p.authors)
    assert {h.paper.id for h in search(kaggle, 'author:"Maxim Yurkin"', limit=50).hits} == yurkin
    hits = search(kaggle, 'light scattering author:"Maxim Yurkin"', limit=50).hits
    assert hits and {h.paper.id for h in hits} <= yurkin  # his papers on light scattering
    assert search(kaggle, "author:nobodyatall", limit=5).hits == []


# -- what matches, how many, and the nearest by meaning ---------------------------------------


NONSENSE = "xyzzy plugh"


def test_nonsense_matches_nothing_and_offers_the_nearest_by_meaning(seeded: Workspace) -> None:
    config = SearchConfig()
    results = search(seeded, NONSENSE)
    assert results.total == 0 and results.hits == [] and not results.has_more
    assert len(results.nearest) == config.nearest
    similarities = [hit.explanation.similarity for hit in results.nearest]
    assert all(s is not None and s < config.dense_floor for s in similarities)
    assert similarities == sorted(similarities, reverse=True)  # type: ignore[type-var]


@pytest.mark.parametrize("mode", MODES)
def test_only_papers_with_lexical_evidence_or_close_meaning_match(
    seeded: Workspace, mode: str
) -> None:
    floor = SearchConfig().dense_floor
    query = "sentence embeddings for retrieval"
    evidence = {h.paper.pk for h in search(seeded, query, mode="lexical", limit=1000).hits}
    results = search(seeded, query, mode=mode, limit=1000)
    assert results.hits and results.nearest == []
    assert results.total == len(results.hits)
    for hit in results.hits:
        similarity = hit.explanation.similarity
        assert hit.paper.pk in evidence or (similarity is not None and similarity >= floor)
    if mode == "lexical":
        assert {h.paper.pk for h in results.hits} == evidence
    # With a floor no cosine reaches, only lexical evidence matches.
    strict = search(seeded, query, mode=mode, limit=1000, config=SearchConfig(dense_floor=1.01))
    assert strict.hits and {h.paper.pk for h in strict.hits} <= evidence
    assert strict.total <= results.total
    if mode == "hybrid":
        assert strict.total == len(evidence)


@pytest.mark.parametrize("mode", MODES)
def test_total_counts_the_matches_and_is_the_same_on_every_page(
    seeded: Workspace, mode: str
) -> None:
    query = "language models"
    everything = search(seeded, query, mode=mode, limit=1000)
    assert everything.total_exact
    assert everything.total == len(everything.hits) > 30
    last = everything.total - 5
    for offset in (0, 10, 100 if everything.total > 110 else 20, last):
        page = search(seeded, query, mode=mode, limit=10, offset=offset)
        assert page.total == everything.total
        assert len(page.hits) == min(10, everything.total - offset)  # full up to the end
    assert not search(seeded, query, mode=mode, limit=5, offset=last).has_more
    assert search(seeded, query, mode=mode, limit=5, offset=last - 1).has_more


# -- exact title phrases first ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "query",
    [
        "2d matryoshka sentence",  # the start of the title, lower case
        "Matryoshka Sentence Embeddings",  # its end
        '"matryoshka sentence" training',  # a quoted phrase of it, with another word
    ],
)
def test_a_phrase_of_a_title_ranks_that_paper_first(
    seeded: Workspace, mode: str, query: str
) -> None:
    hit = search(seeded, query, mode=mode, limit=3, explain=True).hits[0]
    assert hit.paper.title == MATRYOSHKA
    assert hit.explanation.title_phrase


def test_a_title_phrase_ignores_case_hyphens_and_punctuation(seeded: Workspace) -> None:
    title = "Detecting Pretraining Data from Large Language Models"
    for query in ("detecting-pretraining data", "DETECTING PRETRAINING DATA FROM"):
        assert titles(seeded, query, limit=1) == [title]


def test_words_of_a_title_out_of_order_are_no_title_phrase(seeded: Workspace) -> None:
    hits = search(seeded, "embeddings sentence matryoshka", limit=20).hits
    assert not any(hit.explanation.title_phrase for hit in hits)
    unordered = search(
        seeded,
        "embeddings sentence matryoshka",
        limit=20,
        config=SearchConfig(title_phrase_first=False),
    ).hits
    assert [h.paper.pk for h in hits] == [h.paper.pk for h in unordered]


# -- papers hidden by moderation --------------------------------------------------------------


def _copy(request: pytest.FixtureRequest, fixture: str, tmp_path: Path) -> Iterator[Workspace]:
    ws = copy_workspace(request.getfixturevalue(fixture), tmp_path / "copy")
    yield ws
    ws.db.engine.dispose()


@pytest.fixture
def writable(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A private, writable copy of the seed pages' workspace on ``backend``."""
    name = "seeded_workspace" if backend == "embedded" else "seeded_postgres"
    yield from _copy(request, name, tmp_path)


@pytest.fixture
def writable_kaggle(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Workspace]:
    """A private, writable copy of the Kaggle sample's workspace on ``backend``."""
    name = "kaggle_workspace" if backend == "embedded" else "kaggle_postgres"
    yield from _copy(request, name, tmp_path)


def _hide(ws: Workspace, pks: list[int]) -> None:
    with ws.db.session() as session:
        for paper in session.scalars(select(Paper).where(Paper.pk.in_(pks))):
            paper.hidden = True


@pytest.mark.parametrize("mode", MODES)
def test_hidden_papers_leave_pages_full_and_the_total_honest(
    writable: Workspace, mode: str
) -> None:
    query = "language models"
    before = search(writable, query, mode=mode, limit=10)
    hidden = [before.hits[0].paper.pk, before.hits[3].paper.pk]
    _hide(writable, hidden)
    after = search(writable, query, mode=mode, limit=10)
    assert len(after.hits) == 10
    assert not set(hidden) & {h.paper.pk for h in after.hits}
    if mode == "dense":  # the nearest that match: the pool of candidates fills up again
        assert after.total == before.total
    else:
        assert after.total == before.total - 2
    assert [h.explanation.fused_rank for h in after.hits] == list(range(1, 11))


def test_hidden_papers_are_left_out_of_browsing(writable_kaggle: Workspace) -> None:
    query = "cat:hep-ph"
    newest = search(writable_kaggle, query, limit=5)
    _hide(writable_kaggle, [newest.hits[0].paper.pk])
    browsed = search(writable_kaggle, query, limit=5)
    assert len(browsed.hits) == 5 and browsed.total == newest.total - 1
    shown = [h.paper.pk for h in browsed.hits]
    assert shown[:4] == [h.paper.pk for h in newest.hits[1:]]
    assert search(writable_kaggle, query, limit=5, offset=4).hits[0].paper.pk == shown[4]


def test_hidden_papers_are_left_out_of_similar_papers_and_lookups(writable: Workspace) -> None:
    paper = paper_by_title(writable, MATRYOSHKA)
    near = similar(writable, paper.id, limit=5)
    _hide(writable, [near[0].paper.pk])
    again = similar(writable, paper.id, limit=5)
    assert len(again) == 5 and near[0].paper.pk not in {h.paper.pk for h in again}
    with pytest.raises(NotFoundError):
        get_paper(writable, near[0].paper.id)
    assert get_paper(writable, near[0].paper.id, include_hidden=True).hidden


# The demo corpus (2,076 HF daily papers with shipped vectors): a title phrase that BM25 and
# cosine alone rank ninth ("Map2World: Segment Map Conditioned Text to 3D World Generation").
@pytest.fixture(scope="module")
def demo_embedded(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    if not demo_files() or not VECTORS_FILE.exists():
        pytest.skip("demo corpus or its vectors not built (paperfeed/assets/demo)")
    ws = Workspace.create(Settings(data_dir=tmp_path_factory.mktemp("demo") / "data"))
    load_demo(ws)
    catch_up(ws)
    return ws


@pytest.fixture(scope="module")
def demo_postgres(
    postgres_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    if not demo_files() or not VECTORS_FILE.exists():
        pytest.skip("demo corpus or its vectors not built (paperfeed/assets/demo)")
    data_dir = tmp_path_factory.mktemp("demo-pg") / "data"
    ws = Workspace.create(Settings(data_dir=data_dir, database_url=postgres_database()))
    load_demo(ws)
    catch_up(ws)
    return ws


@pytest.fixture
def demo(backend: str, request: pytest.FixtureRequest) -> Workspace:
    return request.getfixturevalue("demo_embedded" if backend == "embedded" else "demo_postgres")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("query", ["text to 3D", "Text-to-3D world", '"text to 3d" generation'])
def test_a_title_phrase_in_the_demo_corpus_ranks_first(
    demo: Workspace, mode: str, query: str
) -> None:
    title = titles(demo, query, mode=mode, limit=1)
    assert title == ["Map2World: Segment Map Conditioned Text to 3D World Generation"]


def test_nonsense_in_the_demo_corpus_matches_nothing(demo: Workspace) -> None:
    results = search(demo, NONSENSE, limit=20)
    assert (results.total, results.hits) == (0, [])
    assert len(results.nearest) == SearchConfig().nearest
