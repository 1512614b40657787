"""Where one search spends its time: ``search(..., trace=SearchTrace())``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["UNTRACED", "SearchTrace"]


@dataclass
class SearchTrace:
    """Where one ``search`` call spent its time: pass one as ``search(..., trace=)``.

    ``stages`` holds the seconds of each stage the call ran, in the order it ran them:
    ``parse``, ``refresh`` (catching up with other processes' index writes), then either
    ``browse`` (a filters-only query) or ``lexical``, ``embed query``, ``filters`` (the papers
    passing a query's filters, for dense retrieval), ``dense`` and ``fusion``; then
    ``load papers`` and, with ``explain``, ``explain``. A mode skips the stages it does not
    need. ``counts`` holds the candidates each retriever returned (``lexical``, ``dense``,
    ``browse``: the papers matching), ``filters``, the papers passing the filters, and
    ``graph``, the neighbours the embedded index asked its HNSW graph for (none: an exact
    scan answered).
    """

    stages: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    _last: float = field(default=0.0, repr=False, compare=False)

    @property
    def total(self) -> float:
        """Seconds in all stages: at most the call's wall time (the result object is built
        outside every stage)."""
        return sum(self.stages.values())

    def start(self) -> None:
        """Empty the trace; the first stage starts now."""
        self.stages.clear()
        self.counts.clear()
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Record ``stage`` as having run from the end of the previous one until now."""
        now = time.perf_counter()
        self.stages[stage] = now - self._last
        self._last = now

    def count(self, what: str, number: int) -> None:
        self.counts[what] = number


class _Untraced(SearchTrace):
    """What ``search`` records into when the caller passed no trace: nothing."""

    def start(self) -> None:
        pass

    def lap(self, stage: str) -> None:
        pass

    def count(self, what: str, number: int) -> None:
        pass


UNTRACED: SearchTrace = _Untraced()
"""What ``search`` records into when the caller passed no trace: nothing."""
