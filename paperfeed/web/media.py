"""``/media/{name}``: the images the live sources cached under the data directory.

Pages never load anything from another site (the Content-Security-Policy allows images from
this origin only), so a paper's thumbnail is served from here or not at all. A name is the
sha256 of where the image came from plus its type's extension (``paperfeed.live.media``):
nothing else is looked up, so no path reaches the file system. The bytes behind a name do not
change, hence a year of caching.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from paperfeed.bounds import MEDIA_NAME, MEDIA_TYPES
from paperfeed.errors import NotFoundError
from paperfeed.live.media import media_dir
from paperfeed.web.context import workspace_of

router = APIRouter()
_TYPE_OF = {extension: kind for kind, extension in MEDIA_TYPES.items()}
CACHE_CONTROL = "public, max-age=31536000, immutable"


def media_url(name: str | None) -> str | None:
    """This site's URL of a cached media file (None: nothing cached, so nothing shown)."""
    return f"/media/{name}" if name and MEDIA_NAME.fullmatch(name) else None


@router.get("/media/{name}", include_in_schema=False)
def media(request: Request, name: str) -> FileResponse:
    if not MEDIA_NAME.fullmatch(name):
        raise NotFoundError("no such image")
    path = media_dir(workspace_of(request).settings.data_dir) / name
    if not path.is_file():
        raise NotFoundError("no such image")
    kind = _TYPE_OF[name.rsplit(".", 1)[1]]
    return FileResponse(path, media_type=kind, headers={"Cache-Control": CACHE_CONTROL})
