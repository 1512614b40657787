"""A local copy of the images a live source names (Hugging Face thumbnails and media).

Pages never hot-link another site, so an image is shown only once it is fetched into
``<data_dir>/media/`` and served by our own ``/media/{name}``. Fetching goes through the
polite client (its User-Agent and per-host spacing), takes images only (``image/png``,
``jpeg``, ``gif``, ``webp``: checked on the answer's Content-Type and on the bytes' own
signature), and stops reading at ``bounds.MAX_MEDIA_BYTES``. A file is named by the sha256 of
its source URL, so an image already fetched is never asked for again. A failed fetch is no
error of the harvest: the paper is stored without that image.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from paperfeed.bounds import MAX_MEDIA_BYTES, MEDIA_TYPES, safe_url
from paperfeed.errors import SourceError
from paperfeed.live.http import PoliteClient

# The first bytes of each type we keep: the Content-Type alone is the server's word.
_SIGNATURES = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "webp": (b"RIFF",),
}


def media_dir(data_dir: Path) -> Path:
    return data_dir / "media"


def cache_image(client: PoliteClient, url: str, directory: Path) -> str | None:
    """The name of the cached copy of the image at ``url`` (fetched now if need be), or None
    when it is not an http(s) link, not an image, too large, or could not be fetched."""
    if safe_url(url) is None:
        return None
    stem = hashlib.sha256(url.encode()).hexdigest()
    for extension in MEDIA_TYPES.values():
        if (directory / f"{stem}.{extension}").is_file():
            return f"{stem}.{extension}"
    try:
        kind, body = client.get_bytes(url, MAX_MEDIA_BYTES)
    except SourceError:
        return None
    found = MEDIA_TYPES.get(kind)
    if found is None or not body.startswith(_SIGNATURES[found]):
        return None
    if found == "webp" and body[8:12] != b"WEBP":
        return None
    name = f"{stem}.{found}"
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, directory / name)  # readers never see half a file
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return name
