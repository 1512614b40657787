"""Comment Markdown to safe HTML: CommonMark with raw HTML off, then an allow-list sanitiser."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("strikethrough")
_TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "hr", "li", "ol",
    "p", "pre", "strong", "ul",
}  # fmt: skip


def render_markdown(source: str) -> Markup:
    """HTML for a comment. Raw HTML in the source is shown as text, never run."""
    html = _MARKDOWN.render(source)
    return Markup(
        nh3.clean(
            html,
            tags=_TAGS,
            attributes={"a": {"href", "title"}},
            url_schemes={"http", "https", "mailto"},
            link_rel="nofollow noopener ugc",
        )
    )
