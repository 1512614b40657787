"""Helpers for the live-source tests (imported as ``_live_helpers``, like ``_core_helpers``)."""

from __future__ import annotations

from pathlib import Path

# Real arXiv API answers recorded in 2026 (see the README there).
ARXIV_DATA = Path(__file__).resolve().parents[1] / "data" / "arxiv_api"


class FakeClock:
    """A monotonic clock that only moves when slept on, so pacing and back-off are tested
    without waiting. Pass ``clock=fake`` and ``sleep=fake.sleep``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
