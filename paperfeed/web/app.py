"""A minimal web app over the foundation: the daily feed, search and paper pages, plus JSON.

The full site (accounts, votes, comments, trending) is built on this in its own issue.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from paperfeed import __version__
from paperfeed.errors import NotFoundError, PaperfeedError, QueryError
from paperfeed.rank import daily_feed
from paperfeed.search import get_paper, search, similar
from paperfeed.stats import count_papers
from paperfeed.workspace import Workspace

_HERE = Path(__file__).parent
PAGE_SIZE = 20


def create_app(workspace: Workspace) -> FastAPI:
    app = FastAPI(title="paperfeed", version=__version__)
    templates = Jinja2Templates(directory=_HERE / "templates")
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context["paper_count"] = count_papers(workspace)
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.exception_handler(PaperfeedError)
    async def _error(request: Request, exc: PaperfeedError) -> HTMLResponse | JSONResponse:
        status = 404 if isinstance(exc, NotFoundError) else 400
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=status)
        return render(request, "error.html", status=status, message=str(exc))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def feed_page(request: Request, day: date | None = None) -> HTMLResponse:
        return render(request, "feed.html", feed=daily_feed(workspace, day))

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, q: str = "", page: int = Query(1, ge=1)) -> HTMLResponse:
        if not q.strip():
            return render(request, "search.html", q="", results=None, page=1)
        try:
            results = search(workspace, q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        except QueryError as exc:
            return render(
                request, "search.html", status=400, q=q, results=None, page=page, error=str(exc)
            )
        return render(request, "search.html", q=q, results=results, page=page, page_size=PAGE_SIZE)

    @app.get("/papers/{paper_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def paper_page(request: Request, paper_id: str) -> HTMLResponse:
        paper = get_paper(workspace, paper_id)
        try:
            neighbours = similar(workspace, paper.id, 8)
        except NotFoundError:
            neighbours = []
        return render(request, "paper.html", paper=paper, similar=neighbours)

    @app.get("/api/v1/search")
    def api_search(
        q: str, limit: int = Query(10, ge=1, le=100), offset: int = Query(0, ge=0)
    ) -> dict[str, Any]:
        """Search with the CLI's query syntax."""
        results = search(workspace, q, limit=limit, offset=offset)
        return {
            "query": q,
            "total": results.total,
            "offset": offset,
            "results": [{**_paper_json(h.paper), "score": round(h.score, 6)} for h in results.hits],
        }

    @app.get("/api/v1/papers/{paper_id:path}")
    def api_paper(paper_id: str) -> dict[str, Any]:
        """One paper by arXiv id."""
        return _paper_json(get_paper(workspace, paper_id))

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "papers": count_papers(workspace)}

    return app


def _paper_json(paper: Any) -> dict[str, Any]:
    return {
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": paper.authors,
        "categories": paper.categories,
        "published": paper.published.isoformat() if paper.published else None,
        "abs_url": paper.abs_url,
        "pdf_url": paper.pdf_url,
        "code_url": paper.code_url,
    }
