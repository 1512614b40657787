"""File helpers shared by the format parsers (through ``paperfeed.formats.common``)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO

from paperfeed.errors import SourceError


def open_text(path: Path) -> IO[str]:
    """Open a text file, transparently decompressing ``.gz``; a clear error if it is missing."""
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a directory, expected a file")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")
