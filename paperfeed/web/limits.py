"""Rate limits at the web edge: ``limit("vote")`` as a route dependency counts the request
against ``paperfeed.community.throttle``'s limits for that action, per account (when logged in)
and per client address, and answers 429 with ``Retry-After`` past them (pages and API alike).

The client address is ``request.client.host``. Behind a reverse proxy that is the proxy's,
unless the proxy is trusted (``PAPERFEED_FORWARDED_ALLOW_IPS``, default 127.0.0.1): then
uvicorn sets it from ``X-Forwarded-For``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from paperfeed.community import throttle
from paperfeed.web.context import current_user, workspace_of


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit(action: str) -> Any:
    """A dependency (for a route's ``dependencies=[…]``) that counts one ``action``."""
    if action not in throttle.ACTIONS:
        raise ValueError(f"no rate limit named {action!r}")

    def count(request: Request) -> None:
        user = current_user(request)
        account = str(user.pk) if user is not None else None
        throttle.hit(workspace_of(request), action, client_address(request), account)

    return Depends(count)
