"""The web app: HTML pages, the JSON API, Atom feeds, one FastAPI application.

``create_app(workspace)`` wires the routers (``pages``, ``account``, ``api``, ``feeds``) to
one workspace. Errors: a ``PaperfeedError`` becomes a page (or, under ``/api/``, JSON
``{"error": …}``) with the status its kind implies. Each response carries a
``Server-Timing`` header with the time spent in the app (the web benchmark reads it).
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed import __version__
from paperfeed.errors import PaperfeedError
from paperfeed.security import secret_key
from paperfeed.web import account, admin, api, feeds, pages, subscriptions
from paperfeed.web.cache import DataVersion, VersionedCache
from paperfeed.web.context import http_status, paper_count, render
from paperfeed.workspace import Workspace

_HERE = Path(__file__).parent
SESSION_DAYS = 30


def create_app(workspace: Workspace) -> FastAPI:
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
    )

    app.add_middleware(ServerTiming)

    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    routers = (pages.router, account.router, api.router, feeds.router)
    routers += (subscriptions.pages, subscriptions.api)
    for router in (*routers, admin.pages, admin.api):
        app.include_router(router)

    @app.exception_handler(PaperfeedError)
    async def _error(request: Request, exc: PaperfeedError) -> Response:
        status = http_status(exc)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=status)
        if status == 401:
            return RedirectResponse(f"/login?next={_return_to(request)}", status_code=303)
        return render(request, "error.html", status=status, message=str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
            for e in exc.errors()
        )
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": problems, "detail": exc.errors()}, status_code=422)
        return render(request, "error.html", status=400, message=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        if request.url.path.startswith("/api/") or request.url.path.startswith("/static/"):
            return JSONResponse({"error": message}, status_code=exc.status_code)
        return render(request, "error.html", status=exc.status_code, message=message)

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
        )

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
