"""Fewer glibc malloc arenas for the long-running server.

glibc gives threads that contend for the heap arenas of their own, up to eight per core, and
an arena keeps the pages it got while anything allocated above them lives. ``paperfeed
serve`` answers requests on a pool of up to 40 threads, so its heap kept growing under a
steady load although every cache it has is bounded: 1.9 MB a minute over a 30-minute run of
``bench/load.py``, never levelling off. With two arenas the same load stayed flat and the
server used about 150 MB less (bench/RESULTS.md). Two suffice: the GIL lets one thread at a
time allocate Python objects, and the native libraries (tantivy, onnxruntime, numpy) allocate
mostly in large blocks, which glibc maps apart from the arenas.
"""

from __future__ import annotations

import ctypes
import os

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap this process's glibc malloc arenas at ``arenas``, and through ``MALLOC_ARENA_MAX``
    those of the processes it starts (uvicorn's workers). Call it before threads start.

    Returns whether the cap is now in force: False when ``MALLOC_ARENA_MAX`` was already set
    (the operator's value wins; glibc applied it at start) or the C library is not glibc.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)
    return bool(mallopt(_M_ARENA_MAX, arenas))
