"""Per-request helpers shared by every router: the workspace, the user, CSRF and rendering.

The session cookie is Starlette's signed cookie (itsdangerous). It carries a CSRF token and,
for a logged-in browser, a random session id; the session itself is a row in the database
(``paperfeed.community.accounts``), so logging out or changing the password ends it wherever the
cookie was copied. (It also carries the user's pk, a hint read without the database;
``current_user`` alone decides who is logged in.) Every state-changing request must echo
the CSRF token, as a ``csrf_token`` form field or an ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from paperfeed import __version__
from paperfeed.catalog.stats import count_papers
from paperfeed.community.accounts import close_session, open_session, session_user
from paperfeed.db import User
from paperfeed.db.session import DatabaseBusyError
from paperfeed.errors import (
    AuthRequiredError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PaperfeedError,
    RateLimitedError,
    SourceError,
)
from paperfeed.web.abstracts import render_abstract
from paperfeed.web.cache import VersionedCache
from paperfeed.web.markup import render_markdown
from paperfeed.workspace import Workspace

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters["markdown"] = render_markdown
TEMPLATES.env.filters["abstract"] = render_abstract
TEMPLATES.env.globals["version"] = __version__
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_COUNT_TTL = 30.0  # seconds the footer's paper count may be stale (databases without a version)
# Stands in for the visitor's CSRF token in a page cached for every anonymous visitor.
_CSRF_PLACEHOLDER = f"csrf-placeholder-{secrets.token_hex(16)}"


# The HTTP status each kind of error implies (others: 400). In the web app a SourceError can
# only come from a live service (arXiv): a bad gateway.
_STATUS = {
    NotFoundError: 404,
    AuthRequiredError: 401,
    ForbiddenError: 403,
    ConflictError: 409,
    RateLimitedError: 429,
    SourceError: 502,
    DatabaseBusyError: 503,
}


def http_status(error: PaperfeedError) -> int:
    return next((s for kind, s in _STATUS.items() if isinstance(error, kind)), 400)


# Starlette's ``State`` holds untyped attributes; ``create_app`` sets these two and the request
# state's ``user`` is set only by the functions below, so the annotations here are the truth.


def workspace_of(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


def cache_of(request: Request) -> VersionedCache:
    """The app's cache of values valid while the data is unchanged (``web.cache``)."""
    cache: VersionedCache = request.app.state.cache
    return cache


def current_user(request: Request) -> User | None:
    """The logged-in user, or None: one query per request, none for anonymous visitors. A
    cookie whose session has ended (log-out, password change, expiry) is dropped."""
    if "user" in request.state._state:
        known: User | None = request.state.user
        return known
    user = None
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        user = session_user(workspace_of(request), session_id)
    if user is None and ("sid" in request.session or "uid" in request.session):
        for key in ("sid", "uid", "auth"):  # "auth": cookies from before server-side sessions
            request.session.pop(key, None)
    request.state.user = user
    return user


def require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise AuthRequiredError("log in first")
    return user


def require_admin(request: Request) -> User:
    user = require_user(request)
    if not user.is_admin:
        raise ForbiddenError("only admins can do this")
    return user


def log_in(request: Request, user: User) -> None:
    """Open a new session for ``user`` in this browser (ending the one it had, if any)."""
    workspace = workspace_of(request)
    old = request.session.get("sid")
    if isinstance(old, str):
        close_session(workspace, old)
    request.session["sid"] = open_session(workspace, user.pk)
    request.session["csrf"] = secrets.token_urlsafe(24)  # a fresh token per login
    request.state.user = user


def log_out(request: Request) -> None:
    """End the session in the database too: a copy of the cookie logs no one in after this."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        close_session(workspace_of(request), session_id)
    request.session.clear()
    request.state.user = None


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


async def verify_csrf(request: Request) -> None:
    """Dependency for state-changing routes: the request must carry the session's token."""
    if request.method not in UNSAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get("csrf_token")
        sent = field if isinstance(field, str) else None  # a file upload is no token
    expected = request.session.get("csrf")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise ForbiddenError(
            "missing or stale CSRF token: reload the page and try again "
            "(API clients send the X-CSRF-Token header from GET /api/v1/me)"
        )


def paper_count(request: Request) -> int:
    """How many papers there are: counted again only after the data changed."""
    cache = cache_of(request)
    if cache.version.current() is not None:
        return cache.get_or_compute("paper_count", lambda: count_papers(workspace_of(request)))
    state = request.app.state
    cached = getattr(state, "paper_count", None)
    if cached is None or time.monotonic() - cached[1] > _COUNT_TTL:
        cached = state.paper_count = (count_papers(workspace_of(request)), time.monotonic())
    return cached[0]


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", current_user(request))
    if "csrf_token" not in context:
        context["csrf_token"] = csrf_token(request)
    context["paper_count"] = paper_count(request)
    context["site_name"] = workspace_of(request).settings.site_name
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


def render_public(
    request: Request, key: Hashable, name: str, context: Callable[[], dict[str, Any]]
) -> HTMLResponse:
    """``render`` for a page every anonymous visitor sees alike (feeds, trending).

    For them the page is rendered once per data version and kept under ``key`` (which must
    name everything the page depends on besides the data), with a placeholder where each
    visitor's own CSRF token goes in on the way out. Logged-in users get ``render``.
    """
    if current_user(request) is not None:
        return render(request, name, **context())

    def page() -> bytes:
        return bytes(
            render(request, name, user=None, csrf_token=_CSRF_PLACEHOLDER, **context()).body
        )

    body = cache_of(request).get_or_compute(("page", name, key), page)
    token = csrf_token(request).encode()
    return HTMLResponse(body.replace(_CSRF_PLACEHOLDER.encode(), token))
