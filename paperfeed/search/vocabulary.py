"""The collection's own vocabulary: acronyms its papers define, to expand queries both ways.

Papers define their acronyms as "reinforcement learning from human feedback (RLHF)"; the
definitions are mined from every abstract (the Schwartz & Hearst algorithm: the long form
is the shortest run of words before the parenthesis whose letters spell the short form, the
first letter at a word start) into ``paper_acronyms``, kept up to date by ``update`` from
``search.catchup`` (papers changed since the last run, by ``change_seq``).

A query naming an acronym ("RLHF") then also searches its most common expansion, and a
query naming an expansion also searches its acronym (``expand``). Spellings are compared by
``key``: case, accents, hyphens and compounds ("text-to-3D", "text to 3D", "text2image")
fold alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select

from paperfeed.db import Database, Paper
from paperfeed.db.changes import insert_for
from paperfeed.db.models import PaperAcronym, VocabularyState
from paperfeed.search.query import ParsedQuery

BATCH = 2000  # papers mined per transaction
MAX_SHORT = 10  # characters of an acronym
MAX_LONG = 255  # characters of an expansion (the column's width)
MAX_NGRAM = 8  # words of an expansion looked for in a query
ORIGINAL_WEIGHT = 1  # the query's own words count this many times, an added term once
EXPAND_DENSE = True  # the embedding model reads the added terms too
MAX_QUERY_WORDS = 5  # longer queries (sentences) carry their own context: not expanded
MIN_PAPERS = 1  # papers that must define a pair before queries are expanded with it
MIN_SHARE = 0.5  # an acronym expands only to a long form at least this share of papers use
_STATE = "acronyms"
_PAREN = re.compile(r"\(\s*([^()\s;,]{2,12})\s*\)")
_WORD = re.compile(r"[^\W_]+")
_BREAK = re.compile(r"[.;:!?()\[\]]")  # a long form never spans these
_DIGIT_WORD = re.compile(r"(?<=[A-Za-z])([24])(?=[A-Za-z])")  # T2I: text-to-image
_COMPOUND = re.compile(r"(?<=[a-z])([24])(?=[a-z])")  # text2image, peer4peer


def key(text: str) -> str:
    """``text`` folded for comparison: lower case, no accents, punctuation as spaces,
    "2"/"4" between letters as "to"/"for", a final plural "s" dropped."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = _COMPOUND.sub(lambda m: " to " if m.group(1) == "2" else " for ", text)
    words = _WORD.findall(text)
    if words and len(words[-1]) > 3 and words[-1].endswith("s") and not words[-1].endswith("ss"):
        words[-1] = words[-1][:-1]
    return " ".join(words)


def acronym_key(short: str) -> str:
    """An acronym folded: "LLMs" and "LLM" alike, case ignored."""
    if len(short) > 2 and short.endswith("s") and short[:-1].upper() == short[:-1]:
        short = short[:-1]
    folded = unicodedata.normalize("NFKD", short)
    return "".join(c for c in folded.lower() if c.isalnum())


def looks_like_acronym(word: str) -> bool:
    """At least two capitals, or a capital and a digit ("RLHF", "NeRF", "T2I", "3DGS")."""
    if not 2 <= len(word) <= MAX_SHORT or not word[0].isalnum():
        return False
    upper = sum(c.isupper() for c in word)
    return upper >= 2 or (upper >= 1 and any(c.isdigit() for c in word))


def definitions(text: str) -> Iterator[tuple[str, str]]:
    """Each (acronym, long form) ``text`` defines as "long form (ACRONYM)"."""
    for match in _PAREN.finditer(text):
        short = match.group(1).strip("-")
        if not looks_like_acronym(short):
            continue
        before = _BREAK.split(text[: match.start()])[-1]
        words = before.split()
        letters = sum(c.isalnum() for c in short)
        words = words[-min(letters + 5, letters * 2) :]
        spelled = short.rstrip("s") if short[:-1].isupper() else short
        spelled = _DIGIT_WORD.sub(lambda m: "t" if m.group(1) == "2" else "f", spelled)
        long = _long_form(spelled, " ".join(words))
        if long and len(long) <= MAX_LONG and key(long) != key(short) and " " in key(long):
            yield short, long


def _long_form(short: str, candidate: str) -> str | None:
    """Schwartz & Hearst's best long form: match ``short``'s letters right to left."""
    s, i = len(short) - 1, len(candidate) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while i >= 0 and (
            candidate[i].lower() != c or (s == 0 and i > 0 and candidate[i - 1].isalnum())
        ):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    start = candidate.rfind(" ", 0, i + 1) + 1
    return candidate[start:].strip(" ,-") or None


# -- the table, kept up to date ---------------------------------------------------------------
def update(db: Database) -> int:
    """Mine the papers changed since the last run; returns how many papers were read."""
    with db.reading() as session:
        seen = session.scalar(
            select(VocabularyState.seen_seq).where(VocabularyState.name == _STATE)
        )
        seen = int(seen or 0)
        changed = session.execute(
            select(Paper.change_seq, Paper.pk)
            .where(Paper.change_seq > seen)
            .order_by(Paper.change_seq, Paper.pk)
        ).all()
    for start in range(0, len(changed), BATCH):
        chunk = changed[start : start + BATCH]
        following = changed[start + BATCH] if start + BATCH < len(changed) else None
        # Everything numbered below the next paper's version is done once this chunk is.
        done = chunk[-1][0] if following is None else following[0] - 1
        _mine(db, [pk for _, pk in chunk], max(done, seen))
    return len(changed)


def _mine(db: Database, pks: list[int], seen: int) -> None:
    with db.session() as session:
        connection = session.connection()
        papers = connection.execute(
            select(Paper.pk, Paper.title, Paper.abstract).where(Paper.pk.in_(pks))
        ).all()
        connection.execute(delete(PaperAcronym).where(PaperAcronym.paper_pk.in_(pks)))
        rows: dict[tuple[int, str, str], dict[str, object]] = {}
        for pk, title, abstract in papers:
            for short, long in definitions(f"{title}. {abstract or ''}"):
                a_key, e_key = acronym_key(short), key(long)
                if a_key and e_key and len(a_key) <= 32:
                    rows.setdefault(
                        (pk, a_key, e_key),
                        {
                            "paper_pk": pk,
                            "acronym_key": a_key,
                            "expansion_key": e_key,
                            "acronym": short,
                            "expansion": long,
                        },
                    )
        if rows:
            connection.execute(insert(PaperAcronym), list(rows.values()))
        state = insert_for(session)(VocabularyState.__table__).values(name=_STATE, seen_seq=seen)
        connection.execute(
            state.on_conflict_do_update(index_elements=["name"], set_={"seen_seq": seen})
        )


# -- expanding queries --------------------------------------------------------------------
@dataclass
class Expansion:
    """What a query gained from the vocabulary: (what the user wrote, what was added)."""

    parsed: ParsedQuery  # for the lexical backends
    dense_text: str  # for the embedding model
    added: list[tuple[str, str]] = field(default_factory=list)


def expand(db: Database, parsed: ParsedQuery) -> Expansion:
    """``parsed`` with the expansions of its acronyms and the acronyms of its long forms
    added as free terms (both rankers see them); filters are left as they are."""
    words = [w for text in [*parsed.terms, *parsed.phrases] for w in text.split()]
    if len(words) > MAX_QUERY_WORDS:
        return Expansion(parsed, parsed.text)  # a sentence: its other words give the context
    acronyms = {
        acronym_key(w): w.strip(",.;:") for w in words if looks_like_acronym(w.strip(",.;:"))
    }
    spans = list(_ngrams(words))
    ngrams = {folded: text for folded, text, _ in spans}
    if not acronyms and not ngrams:
        return Expansion(parsed, parsed.text)
    added: list[tuple[str, str]] = []
    with db.reading() as session:
        if acronyms:
            found = session.execute(
                select(
                    PaperAcronym.acronym_key,
                    PaperAcronym.expansion_key,
                    func.min(PaperAcronym.expansion),
                    func.count(),
                )
                .where(PaperAcronym.acronym_key.in_(acronyms))
                .group_by(PaperAcronym.acronym_key, PaperAcronym.expansion_key)
            ).all()
            for a_key, long in _best(found).items():
                if key(long) not in ngrams:  # the query spells it out already
                    added.append((acronyms[a_key], long))
        if ngrams:
            found = session.execute(
                select(
                    PaperAcronym.expansion_key,
                    PaperAcronym.acronym_key,
                    func.min(PaperAcronym.acronym),
                    func.count(),
                )
                .where(PaperAcronym.expansion_key.in_(ngrams))
                .group_by(PaperAcronym.expansion_key, PaperAcronym.acronym_key)
            ).all()
            best = _best(found)
            taken: set[int] = set()
            for e_key, text, covered in spans:  # longest first: "large language models"
                short = best.get(e_key)  # before "language models"
                if short and not taken & covered:
                    if acronym_key(short) not in acronyms:  # else written out already
                        added.append((text, short))
                    taken |= covered
    added.extend(_compound_variants(words))
    if not added:
        return Expansion(parsed, parsed.text)
    originals = [t for t in parsed.terms for _ in range(ORIGINAL_WEIGHT)]
    terms = [*originals, *(new for _, new in added)]
    expanded = ParsedQuery(
        terms=terms,
        phrases=parsed.phrases,
        excluded=parsed.excluded,
        authors=parsed.authors,
        categories=parsed.categories,
        since=parsed.since,
        until=parsed.until,
    )
    dense = " ".join([parsed.text, *(new for _, new in added)]) if EXPAND_DENSE else parsed.text
    return Expansion(expanded, dense, added)


def _best(rows: Iterable[tuple[str, str, str, int]]) -> dict[str, str]:
    """Per key, the most used counterpart (as written), if at least ``MIN_SHARE`` use it."""
    per_key: dict[str, Counter[str]] = defaultdict(Counter)
    written: dict[tuple[str, str], str] = {}
    for this, other, spelled, count in rows:
        per_key[this][other] += count
        written[this, other] = spelled
    best = {}
    for this, counts in per_key.items():
        other, count = counts.most_common(1)[0]
        if count >= MIN_SHARE * sum(counts.values()) and count >= MIN_PAPERS:
            best[this] = written[this, other]
    return best


def _ngrams(words: list[str]) -> Iterator[tuple[str, str, set[int]]]:
    """(key, as written, word positions) of every run of up to ``MAX_NGRAM`` words that
    folds to several words, longest first."""
    for n in range(MAX_NGRAM, 0, -1):
        for i in range(len(words) - n + 1):
            text = " ".join(words[i : i + n])
            folded = key(text)
            if " " in folded:  # one word may fold to several: "text2image", "text-to-3D"
                yield folded, text, set(range(i, i + n))


def _compound_variants(words: list[str]) -> Iterator[tuple[str, str]]:
    """A compound written as one word ("text2image") also searched as its words."""
    for word in words:
        if _COMPOUND.search(word.lower()):
            yield word, key(word)


__all__ = ["Expansion", "definitions", "expand", "key", "update"]
