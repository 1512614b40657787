"""The web app: HTML pages, the JSON API, Atom feeds, one FastAPI application.

``create_app(workspace)`` wires the routers (``pages``, ``account``, ``api``, ``feeds``,
``people``, ``media``, …) to
one workspace. Errors: a ``PaperfeedError`` becomes a page (or, under ``/api/``, JSON
``{"error": …}``) with the status its kind implies; a 429 carries ``Retry-After``. Each
response carries a ``Server-Timing`` header with the time spent in the app (the web
benchmark reads it) and the security headers of ``SecurityHeaders``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed import __version__
from paperfeed.bounds import clean_text
from paperfeed.community.accounts import SESSION_DAYS
from paperfeed.errors import PaperfeedError
from paperfeed.security import secret_key
from paperfeed.web import account, admin, api, feeds, media, pages, people, subscriptions
from paperfeed.web.cache import DataVersion, VersionedCache
from paperfeed.web.context import TEMPLATES, http_status, paper_count, render
from paperfeed.workspace import PRIVATE_UMASK, Workspace

_HERE = Path(__file__).parent

# Everything a page loads comes from this origin (KaTeX, our JS and CSS, under /static); no
# inline script anywhere, so an injected <script> cannot run. Images may be data: URLs (the
# SVG icons in Swagger UI's stylesheet). Styles set from script through the DOM (KaTeX's
# sizes) are not inline styles and need no 'unsafe-inline'.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Sent only over https (a browser ignores it over http, and it must not pin a site that
# is not served over TLS): a year, the figure browsers' preload lists ask for. Not for
# subdomains: other services may live under this host's name.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def create_app(workspace: Workspace) -> FastAPI:
    os.umask(PRIVATE_UMASK)  # files the app makes (database journals, indexes) stay private
    app = FastAPI(
        title=workspace.settings.site_name,
        version=__version__,
        description="Research-paper discovery: daily feed, trending, hybrid search, "
        "votes, comments and a personal library. Query syntax as in the CLI.",
        docs_url=None,  # served below with the vendored Swagger UI: no CDN
        redoc_url=None,
    )
    app.state.workspace = workspace
    app.state.cache = VersionedCache(DataVersion(workspace.db))
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(workspace),
        session_cookie="paperfeed_session",
        max_age=SESSION_DAYS * 86400,
        same_site="lax",
        https_only=workspace.settings.secure_cookies,
    )

    app.add_middleware(SecurityHeaders)
    app.add_middleware(ServerTiming)

    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    for router in (
        pages.router,
        account.router,
        api.router,
        feeds.router,
        subscriptions.pages,
        subscriptions.api,
        admin.pages,
        admin.api,
        media.router,
        people.pages,
        people.api,
    ):
        app.include_router(router)

    @app.exception_handler(PaperfeedError)
    async def _error(request: Request, exc: PaperfeedError) -> Response:
        status = http_status(exc)
        response: Response
        if request.url.path.startswith("/api/"):
            response = JSONResponse({"error": str(exc)}, status_code=status)
        elif status == 401:
            return RedirectResponse(f"/login?next={_return_to(request)}", status_code=303)
        else:
            response = render(request, "error.html", status=status, message=str(exc))
        retry_after = getattr(exc, "retry_after", None)  # rate limits, a busy database
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # Only where and what: the rejected input itself may be bytes or hold lone surrogates,
        # neither of which JSON-to-UTF-8 can carry.
        detail = [
            {
                "loc": [clean_text(str(p)) for p in e["loc"]],
                "msg": clean_text(e["msg"]),
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        problems = "; ".join(f"{'.'.join(d['loc'][1:]) or d['loc'][0]}: {d['msg']}" for d in detail)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": problems, "detail": detail}, status_code=422)
        return render(request, "error.html", status=400, message=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        if request.url.path.startswith("/api/") or request.url.path.startswith("/static/"):
            return JSONResponse({"error": message}, status_code=exc.status_code)
        return render(request, "error.html", status=exc.status_code, message=message)

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        """Swagger UI, vendored, started by a script file (FastAPI's page has an inline one,
        which the Content-Security-Policy refuses)."""
        context = {"title": f"{app.title} API", "openapi_url": app.openapi_url or "/openapi.json"}
        return TEMPLATES.TemplateResponse(request, "api_docs.html", context)

    @app.get("/healthz", include_in_schema=False)
    def health(request: Request) -> dict[str, object]:
        return {"status": "ok", "papers": paper_count(request)}

    @app.get("/about", response_class=HTMLResponse, include_in_schema=False)
    def about(request: Request) -> HTMLResponse:
        return render(request, "about.html")

    return app


class ServerTiming:
    """Adds ``Server-Timing: app;dur=<ms>``: the time from the request to the start of the
    response (routing, the view, rendering). Plain ASGI, as ``@app.middleware("http")`` would
    pass every response through an extra task and memory stream (~0.2 ms per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                MutableHeaders(scope=message)["Server-Timing"] = f"app;dur={elapsed:.2f}"
            await send(message)

        await self.app(scope, receive, send_timed)


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every response (pages, API, static files, errors), and
    ``Strict-Transport-Security`` to those served over https (``X-Forwarded-Proto`` from a
    trusted proxy counts: uvicorn's proxy headers set the scheme)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        self.hsts = (b"strict-transport-security", STRICT_TRANSPORT_SECURITY.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers + ([self.hsts] if scope.get("scheme") == "https" else [])

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    if name.decode() not in headers:
                        headers.raw.append((name, value))
            await send(message)

        await self.app(scope, receive, send_secured)


def app_from_env() -> FastAPI:
    """The app over the workspace the ``PAPERFEED_*`` settings name: the factory each
    uvicorn worker process calls (``paperfeed serve --workers N``). The data directory must
    be initialised already (``serve`` does that before starting the workers)."""
    from paperfeed.config import get_settings

    return create_app(Workspace.open(get_settings()))


def _return_to(request: Request) -> str:
    """Where log-in should send the user back to: the page asked for or, after a form post
    (whose URL answers POST only), the same-site page the form was on, else home."""
    if request.method in ("GET", "HEAD"):
        return quote(request.url.path)
    referer = request.headers.get("referer", "")
    if not referer.startswith(str(request.base_url)):
        return "/"
    page = urlsplit(referer)
    return quote(page.path + (f"?{page.query}" if page.query else ""), safe="/")
