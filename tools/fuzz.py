"""A bounded fuzz run of every input parser and the query parser (``make fuzz``).

Runs the properties of ``tests/property`` (``_targets.TARGETS``: the query parser, each ingest
format, each live service's parser, the submit reference) for a time budget each, in batches
of fresh random examples, and prints per target how many examples ran, for how long, and the
distinct failures found (exception and where in paperfeed it was raised), each with its
minimal failing example. Exit status 1 if anything failed.

    .venv/bin/python tools/fuzz.py                  # 30 s per target
    .venv/bin/python tools/fuzz.py --seconds 60 --only query --only format:kaggle
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "property")]

from _targets import TARGETS, Target  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

BATCH = 50  # examples per Hypothesis run; a new run (new randomness) until the budget is spent


@dataclass
class Outcome:
    name: str
    examples: int = 0
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)  # where -> minimal example


def _where(error: BaseException) -> str:
    """``ExceptionType at paperfeed/file.py:function`` for the innermost paperfeed frame."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/paperfeed/" in f.filename and "/tests/" not in f.filename]
    frame = (ours or frames)[-1]
    path = Path(frame.filename)
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    return f"{type(error).__name__} at {shown}:{frame.name}"


def fuzz(target: Target, budget: float, directory: Path) -> Outcome:
    outcome = Outcome(target.name)
    started = time.monotonic()

    @settings(
        max_examples=BATCH,
        deadline=None,
        database=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    @given(target.inputs)
    def run(value: object) -> None:
        outcome.examples += 1
        target.check(value, directory)

    while time.monotonic() - started < budget:
        try:
            run()
        except Exception as error:
            notes = "\n".join(getattr(error, "__notes__", []))
            example = notes.split("\n\nYou can reproduce")[0].strip()
            outcome.failures.setdefault(_where(error), f"{error!r}"[:300] + "\n" + example)
    outcome.seconds = time.monotonic() - started
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="budget per target")
    parser.add_argument("--only", action="append", default=[], help="target name (repeatable)")
    args = parser.parse_args()
    targets = [t for t in TARGETS if not args.only or t.name in args.only]
    if not targets:
        parser.error(f"no such target; known: {', '.join(t.name for t in TARGETS)}")
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(f"fuzz run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit or '?'}, ", end="")
    print(f"{args.seconds:g} s per target\n")
    print(f"{'target':<22} {'examples':>9} {'time (s)':>9} {'failures':>9}")
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="paperfeed-fuzz-") as scratch:
        for target in targets:
            outcome = fuzz(target, args.seconds, Path(scratch))
            outcomes.append(outcome)
            print(
                f"{outcome.name:<22} {outcome.examples:>9} {outcome.seconds:>9.1f} "
                f"{len(outcome.failures):>9}",
                flush=True,
            )
    failed = [o for o in outcomes if o.failures]
    for outcome in failed:
        for where, example in outcome.failures.items():
            print(f"\n[{outcome.name}] {where}\n{example}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
