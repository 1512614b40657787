"""The one shape of a progress callback, shared by every long job and drawn by the CLI.

``progress(stage, done, total)``: ``done`` items finished since the last call in ``stage``
(a step such as "embed" or "ingest FILE"), of ``total`` for the stage, 0 when not known.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress"]

Progress = Callable[[str, int, int], None]
