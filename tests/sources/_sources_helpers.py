"""Small helpers shared by the source tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

from collections.abc import Iterable

from paperfeed.catalog.records import PaperRecord, ParseProblem


def split(
    items: Iterable[PaperRecord | ParseProblem],
) -> tuple[list[PaperRecord], list[ParseProblem]]:
    """Separate a parser's output into records and problems."""
    records: list[PaperRecord] = []
    problems: list[ParseProblem] = []
    for item in items:
        (problems if isinstance(item, ParseProblem) else records).append(item)
    return records, problems
