"""Index files on disk: telling intact ones from damaged ones before they are used.

A damaged file must never reach the libraries that read it: usearch can crash the whole
process on a graph file with flipped bytes, and tantivy panics or silently answers wrong on
a segment whose middle is garbage (both observed). So each part is verified when it is
opened: the vector files against the SHA-256 digests ``VectorIndex.save`` records beside
them, tantivy's segment files against the CRC-32 each one carries in its footer. A part that
fails is reported as ``IndexDamagedError`` and rebuilt from the database (``Indexes``).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path

from paperfeed.errors import PaperfeedError

# Every segment of our schema has these files: postings, positions (titles and abstracts
# record them, for phrases), terms, stored fields, fast fields, field norms.
SEGMENT_FILES = ("idx", "pos", "term", "store", "fast", "fieldnorm")
_FOOTER_MAGIC = 1337  # tantivy's footer ends with the footer's length and this number
_CHUNK = 1 << 20


class IndexDamagedError(PaperfeedError):
    """An index file is missing, truncated or corrupt; the part is rebuilt from the database."""


def sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def verify_tantivy(path: Path) -> int:
    """Check every file of every segment ``meta.json`` names: present, with a footer, and
    its contents matching the footer's CRC-32 (tantivy's own check, which tantivy-py does
    not expose). Returns the number of documents ``meta.json`` records (deletions counted
    out). Raises ``IndexDamagedError``."""
    meta_file = path / "meta.json"
    if not meta_file.exists():
        return 0  # no index yet (tantivy creates one)
    try:
        meta = json.loads(meta_file.read_text())
        segments = meta["segments"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexDamagedError(f"{meta_file}: unreadable ({exc})") from None
    docs = 0
    for segment in segments:
        try:
            name = str(segment["segment_id"]).replace("-", "")
            deletes = segment.get("deletes")
            files = [f"{name}.{ext}" for ext in SEGMENT_FILES]
            if deletes:
                files.append(f"{name}.{deletes['opstamp']}.del")
            docs += int(segment["max_doc"]) - int((deletes or {}).get("num_deleted_docs", 0))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IndexDamagedError(f"{meta_file}: unreadable segment entry ({exc})") from None
        for file in files:
            _verify_footer(path / file)
    return docs


def _verify_footer(file: Path) -> None:
    try:
        size = file.stat().st_size
        with file.open("rb") as handle:
            if size < 8:
                raise IndexDamagedError(f"{file}: truncated ({size} bytes)")
            handle.seek(size - 8)
            footer_len, magic = struct.unpack("<II", handle.read(8))
            if magic != _FOOTER_MAGIC or footer_len + 8 > size:
                raise IndexDamagedError(f"{file}: no tantivy footer (truncated or overwritten)")
            handle.seek(size - 8 - footer_len)
            footer = json.loads(handle.read(footer_len))
            expected = int(footer["crc"])
            body = size - 8 - footer_len
            handle.seek(0)
            crc = 0
            while body > 0:
                chunk = handle.read(min(_CHUNK, body))
                if not chunk:
                    raise IndexDamagedError(f"{file}: shorter than its footer says")
                crc = zlib.crc32(chunk, crc)
                body -= len(chunk)
    except FileNotFoundError:
        raise IndexDamagedError(f"{file}: missing") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexDamagedError(f"{file}: unreadable ({exc})") from None
    if crc != expected:
        raise IndexDamagedError(f"{file}: contents do not match its checksum")
