"""The server's cap on glibc malloc arenas, observed through glibc itself (``malloc_stats``
prints one ``Arena N:`` block per arena)."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys, threading
from paperfeed.ops.malloc import limit_malloc_arenas
if sys.argv[1] == "limit":
    print(limit_malloc_arenas())

def churn():
    for _ in range(200):
        junk = [bytearray(100) for _ in range(2000)]
        del junk

threads = [threading.Thread(target=churn) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def arenas_after_threads_churn(mode: str, **env: str) -> tuple[int, str]:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=True,
    )
    arenas = sum(line.startswith("Arena ") for line in result.stderr.splitlines())
    return arenas, result.stdout.strip()


@pytest.fixture(autouse=True)
def _glibc() -> None:
    if sys.platform != "linux" or ctypes.util.find_library("c") != "libc.so.6":
        pytest.skip("glibc only: other C libraries have no malloc arenas to cap")


def test_threads_churning_the_heap_get_arenas_of_their_own_without_the_cap() -> None:
    arenas, _ = arenas_after_threads_churn("none")
    assert arenas > 2  # else the test below would prove nothing


def test_the_cap_holds_the_arenas_at_two() -> None:
    arenas, applied = arenas_after_threads_churn("limit")
    assert applied == "True"
    assert arenas == 2


def test_an_operators_malloc_arena_max_wins() -> None:
    arenas, applied = arenas_after_threads_churn("limit", MALLOC_ARENA_MAX="3")
    assert applied == "False"
    assert arenas <= 3
