"""Abstracts as the pages show them: links, TeX and Markdown left-overs tidied, math kept,
everything else escaped."""

from __future__ import annotations

import re
import time

import pytest
from _web_helpers import Site
from sqlalchemy import select, update

from paperfeed.db import Paper
from paperfeed.web.abstracts import render_abstract


def test_links_become_links_that_pass_on_no_rank_and_no_opener() -> None:
    html = render_abstract("Code at https://github.com/org/repo. See (https://x.org/a_(b)).")
    assert html == (
        'Code at <a href="https://github.com/org/repo" rel="nofollow noopener">'
        "https://github.com/org/repo</a>. See (<a "
        'href="https://x.org/a_(b)" rel="nofollow noopener">https://x.org/a_(b)</a>).'
    )
    assert render_abstract(r"Data: \url{https://data.org/~me/set}") == (
        'Data: <a href="https://data.org/~me/set" rel="nofollow noopener">'
        "https://data.org/~me/set</a>"
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "javascript:alert(1)",
        r"\url{javascript:alert(1)}",
        "JaVaScRiPt:alert(1) and data:text/html,<script>alert(1)</script>",
        'https://x.org/"onmouseover="alert(1)',
        "https://x.org/<script>alert(1)</script>",
        r"\emph{<script>alert('x')</script>} *<img src=x onerror=alert(1)>*",
        r"\textbf{\emph{unbalanced} {{{ }}}} } { $ \( \[ https://",
        "$<script>alert(1)</script>$ and $$<b>x</b>$$",
    ],
)
def test_hostile_abstracts_come_out_as_text(hostile: str) -> None:
    html = str(render_abstract(hostile))
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "javascript:" not in "".join(re.findall(r"<[^>]*>", html)).lower()  # in no tag
    for tag in re.findall(r"<(\w+)", html):
        assert tag in {"a", "em", "strong"}, html
    for attributes in re.findall(r"<a ([^>]*)>", html):
        assert re.fullmatch(r'href="https?://[^"<>]*" rel="nofollow noopener"', attributes)


def test_tex_and_markdown_leftovers_are_tidied() -> None:
    text = (
        r"We \emph{propose} a \textbf{fast} method: 10\% better, 1{,}000 runs, Fig.~3, "
        r"*really* and _truly_ ``new'' (snake_case_name stays, 2*3*4 too)."
    )
    assert render_abstract(text) == (
        "We <em>propose</em> a <strong>fast</strong> method: 10% better, 1,000 runs, Fig. 3, "
        "<em>really</em> and <em>truly</em> \u201cnew\u201d (snake_case_name stays, 2*3*4 too)."
    )


def test_math_is_left_exactly_as_written_for_katex() -> None:
    text = r"Loss $\mathcal{L} = \sum_i x_i^2 \cdot 10\%$ and $$a~b {,} *c*$$ with \(O(n)\) \[x_1\]"
    html = str(render_abstract(text))
    for math in (r"$\mathcal{L} = \sum_i x_i^2 \cdot 10\%$", "$$a~b {,} *c*$$", r"\(O(n)\)"):
        assert math in html
    assert r"\[x_1\]" in html and "<em>" not in html
    # An escaped dollar is a dollar, and starts no math.
    assert render_abstract(r"costs \$5 or *so*") == r"costs \$5 or <em>so</em>"
    assert render_abstract("a < b & $x < y$") == "a &lt; b &amp; $x &lt; y$"


def test_long_abstracts_render_quickly() -> None:
    worst = ["*_{" * 3500, "$" * 10_000, "https://" * 1300, r"\emph{" * 1700, "~{,}\\%" * 1600]
    for text in worst:
        started = time.perf_counter()
        html = str(render_abstract(text))
        assert time.perf_counter() - started < 0.5, text[:20]
        assert "<script" not in html
    assert render_abstract("") == "" and render_abstract(None) == ""


def test_the_paper_page_and_the_cards_show_the_tidied_abstract(site: Site) -> None:
    with site.workspace.db.session() as session:
        paper_id = session.scalar(select(Paper.id).order_by(Paper.id).limit(1))
        session.execute(
            update(Paper)
            .where(Paper.id == paper_id)
            .values(abstract=r"A \emph{new} model; code: https://github.com/o/r. <b>x</b>")
        )
    page = site.client().get(f"/papers/{paper_id}").text
    expected = (
        'A <em>new</em> model; code: <a href="https://github.com/o/r" rel="nofollow noopener">'
        "https://github.com/o/r</a>. &lt;b&gt;x&lt;/b&gt;"
    )
    assert f'<p class="abstract-full">{expected}</p>' in page
