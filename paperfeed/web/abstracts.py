"""Abstracts for display: links made clickable and the common LaTeX/Markdown left-overs tidied.

Abstracts come from arXiv and Hugging Face as plain text written by authors in TeX habits:
``\\emph{word}``, ``10\\%``, ``1{,}000``, ``Fig.~3``, ``*emphasis*``. ``render_abstract``
turns those into what they mean, makes ``http(s)`` links (and ``\\url{…}``) into links,
and leaves math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``) exactly as written for KaTeX
(``static/math.js``). Everything else is escaped: the output is safe HTML whatever the input.

One pass over the text splits it into math, links and prose; only prose is rewritten, each
rule a regular expression over the already-escaped text, so no rule can produce markup
from the input and none backtracks far (the input is at most an abstract's length).
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# Math first (kept verbatim), then links; the rest is prose. ``$$`` before ``$``; a ``\$``
# is a dollar sign, not math. A math span never crosses a blank line, and is bounded, so an
# unpaired ``$`` leaves the rest as prose instead of swallowing it.
_TOKEN = re.compile(
    r"(?P<math>\$\$[^$]{1,2000}?\$\$|(?<!\\)\$[^$\n]{1,1000}?(?<!\\)\$"
    r"|\\\([\s\S]{1,1000}?\\\)|\\\[[\s\S]{1,2000}?\\\])"
    r"|\\url\{(?P<tex_url>https?://[^\s{}<>\"]{1,2000})\}"
    r"|(?P<url>https?://[^\s<>\"'`{}|\\^]{1,2000})",
    re.IGNORECASE,
)
# Punctuation that ends a sentence rather than the URL it follows.
_URL_TAIL = ".,;:!?)]'"

# Prose rules, applied to escaped text in order. The captured text is already escaped.
_PROSE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\\(?:emph|textit|textsl)\{([^{}]{1,500})\}"), r"<em>\1</em>"),
    (re.compile(r"\\textbf\{([^{}]{1,500})\}"), r"<strong>\1</strong>"),
    (re.compile(r"\\(?:texttt|textsc|textrm|textsf|text|mbox)\{([^{}]{1,500})\}"), r"\1"),
    (re.compile(r"\*\*(?=\S)([^*\n]{1,500}?)(?<=\S)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]{1,500}?)(?<=\S)\*(?![\w*])"), r"<em>\1</em>"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]{1,500}?)(?<=[^\s_])_(?![\w_])"), r"<em>\1</em>"),
    (re.compile(r"\{,\}"), ","),
    # \% \& \# \_: the character itself (not \$, which would start math for KaTeX)
    (re.compile(r"\\([%&#_])"), r"\1"),
    (re.compile(r"(?<!\\)~"), " "),  # a TeX non-breaking space
    (re.compile(r"``"), "\u201c"),  # TeX quotes, the closing one escaped by now
    (re.compile(r"&#39;&#39;"), "\u201d"),
]


def render_abstract(text: str | None) -> Markup:
    """An abstract as safe HTML: links (``rel="nofollow noopener"``, http and https only),
    ``*x*``/``_x_``/``\\emph{x}`` as emphasis, ``\\textbf{x}`` as strong, ``\\%`` as ``%``,
    ``{,}`` as ``,``, ``~`` as a space; math left as written."""
    if not text:
        return Markup("")
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(_prose(text[position : match.start()]))
        if match.group("math") is not None:
            out.append(str(escape(match.group("math"))))
            position = match.end()
        elif match.group("tex_url") is not None:
            out.append(_link(match.group("tex_url")))
            position = match.end()
        else:
            url = match.group("url").rstrip(_URL_TAIL)
            if url.count("(") > url.count(")") and text[match.start() + len(url) :].startswith(")"):
                url += ")"  # a URL with parentheses in it (Wikipedia), not one inside them
            out.append(_link(url))
            position = match.start() + len(url)
    out.append(_prose(text[position:]))
    return Markup("".join(out))


def _link(url: str) -> str:
    href = escape(url)
    return f'<a href="{href}" rel="nofollow noopener">{href}</a>'


def _prose(text: str) -> str:
    html = str(escape(text))
    for pattern, replacement in _PROSE:
        html = pattern.sub(replacement, html)
    return html
