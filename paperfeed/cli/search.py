"""Finding papers: `search`, `similar` and `eval` (search quality on a benchmark).

Plain functions: ``paperfeed.cli`` registers them on the app, in the order ``--help`` lists them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from paperfeed.cli._common import (
    _authors_line,
    _escape,
    _open,
    _progress,
    _stages,
    _sync,
    console,
    out,
)
from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError
from paperfeed.workspace import Workspace

if TYPE_CHECKING:
    from paperfeed.search import SearchHit
    from paperfeed.search.engine import SearchResults


def search(
    query: Annotated[
        str, typer.Argument(help='Words, "phrases", -exclusions, author:, cat:, since:, until:')
    ],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many results (paging).")] = 0,
    mode: Annotated[str, typer.Option(help="hybrid, lexical or dense.")] = "hybrid",
    explain: Annotated[bool, typer.Option(help="Show why each result matched.")] = False,
    expand: Annotated[
        bool, typer.Option(help="Also search acronyms' long forms and back (from the papers).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Search titles and abstracts by words and by meaning."""
    from paperfeed.search import SearchConfig, parse_mode
    from paperfeed.search import search as run_search

    workspace = _open()
    _ensure_indexed(workspace)
    results = run_search(
        workspace,
        query,
        limit=limit,
        offset=offset,
        mode=parse_mode(mode),
        explain=explain,
        config=SearchConfig(expand_acronyms=expand),
    )
    show_results(workspace, results, explain=explain, as_json=as_json)


def show_results(
    workspace: Workspace, results: SearchResults, *, explain: bool, as_json: bool
) -> None:
    """Print a page of results (as ``search`` and ``related`` do), with what the query became:
    the pasted paper found in the collection, key terms, acronym expansions (``--explain``).
    ``search --json`` prints the list of results, each in ``/api/v1``'s paper shape (scripts
    read ``[0]["id"]``); ``related --json`` the whole
    ``/api/v1/search`` object, with ``this_paper``. ``--explain`` adds each result's
    ``explain`` (and the object, the query's ``query_explained``)."""
    offset, limit = results.offset, results.limit
    if as_json:
        from paperfeed.web.api import search_out

        data = search_out(workspace, results).model_dump(mode="json")
        if explain:  # the explanations ride along beside each result
            for item, hit in zip(data["results"], results.hits, strict=True):
                item["explain"] = hit.explanation.as_dict()
            data["query_explained"] = _query_explained(results)
        _print_json(data if results.related is not None else data["results"])
        return
    if results.this_paper is not None:
        paper = results.this_paper.paper
        out.print(f"[bold]this paper:[/] {_escape(paper.title)} [dim]{paper.id}[/]")
    if explain:
        for line in _query_lines(results):
            out.print(f"[cyan]{_escape(line)}[/]")
    if not results.hits:
        if results.total:
            console.print(
                f"no results on this page: {results.total} matching papers; "
                f"--offset {max(results.pageable - limit, 0)} for the last page"
            )
        else:
            console.print(
                f"no papers match {results.query!r}; try fewer or different words, or drop a filter"
            )
        if results.nearest:
            out.print("[bold]nearest by meaning[/] [dim](not matches)[/]")
            _print_hits(results.nearest, 1, explain)
        return
    _print_hits(results.hits, offset + 1, explain)
    shown = f"{offset + 1}–{offset + len(results.hits)}"
    counted = f"{results.total}{'' if results.total_exact else '+'} matching"
    more = f"; --offset {offset + limit} for more" if results.has_more else ""
    console.print(f"[dim]{shown} of {counted}{more}[/]")


def _print_hits(hits: list[SearchHit], first: int, explain: bool) -> None:
    for i, hit in enumerate(hits, first):
        paper = hit.paper
        meta = " · ".join(
            x
            for x in (
                paper.id,
                paper.published.date().isoformat() if paper.published else "",
                paper.primary_category or "",
                _authors_line(paper.authors, 3),
            )
            if x
        )
        out.print(f"[bold]{i}. {_escape(paper.title)}[/]\n   [dim]{_escape(meta)}[/]")
        if explain:
            e = hit.explanation
            out.print(
                f"   [cyan]fused #{e.fused_rank} ({e.fused_score:.4f}); "
                f"bm25 #{e.lexical_rank or '-'}; dense #{e.dense_rank or '-'}"
                f"{f' (cos {e.similarity:.3f})' if e.similarity is not None else ''}; "
                f"matched: {', '.join(e.matched_terms) or 'none'}"
                f"{'; title phrase' if e.title_phrase else ''}[/]"
            )


def _print_json(data: object) -> None:
    out.print_json(data=data) if out.is_terminal else print(json.dumps(data, ensure_ascii=False))


def _query_explained(results: SearchResults) -> dict[str, object]:
    return {
        "related_work": results.related is not None,
        **(results.related.as_dict() if results.related else {}),
        "expanded": [{"written": a, "added": b} for a, b in results.expanded],
    }


def _query_lines(results: SearchResults) -> list[str]:
    lines = []
    if results.related is not None:
        terms = ", ".join(f"{w}×{n}" if n > 1 else w for w, n in results.related.terms)
        lines.append(f"find related work: whole text embedded; key terms: {terms or 'none'}")
    for written, added in results.expanded:
        lines.append(f"vocabulary: {written} → also {added}")
    return lines


def similar(
    paper_id: Annotated[str, typer.Argument(metavar="ID")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Papers closest in meaning to a paper."""
    from paperfeed.search import similar as run_similar

    workspace = _open()
    _ensure_indexed(workspace)
    hits = run_similar(workspace, paper_id, limit)
    if as_json:
        from paperfeed.web.api import papers_out

        shaped = papers_out(workspace, [h.paper for h in hits], scores=[h.score for h in hits])
        _print_json([p.model_dump(mode="json") for p in shaped])
        return
    for i, hit in enumerate(hits, 1):
        out.print(
            f"{i}. [bold]{_escape(hit.paper.title)}[/] [dim]{hit.paper.id} · cos {hit.score:.3f}[/]"
        )


def evaluate(
    dataset_dir: Annotated[Path, typer.Argument(help="A BEIR dataset directory.")],
    split: Annotated[str, typer.Option(help="Which qrels to score (test, train, dev).")] = "test",
    rankers: Annotated[
        str, typer.Option(help="Comma-separated: lexical, dense, hybrid-rrf, hybrid.")
    ] = "lexical,dense,hybrid-rrf,hybrid",
    queries: Annotated[
        int | None, typer.Option("--queries", min=1, help="Only the first N judged queries.")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Keep the ingested corpus here and reuse it next time (default: temp)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score search quality on a BEIR benchmark: nDCG@10, Recall@100, MRR@10 per ranker.

    Ingest, indexing and every query take the product's own path (docs/quality.md).
    """
    import tempfile

    from paperfeed.search.eval import RANKERS, Dataset, prepare
    from paperfeed.search.eval import as_json as results_json
    from paperfeed.search.eval import evaluate as run_eval

    dataset = Dataset.load(dataset_dir)
    chosen = [m.strip() for m in rankers.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in RANKERS]
    if unknown or not chosen:
        name = unknown[0] if unknown else rankers
        raise PaperfeedError(f"unknown ranker {name!r}; use {', '.join(RANKERS)}")
    with tempfile.TemporaryDirectory(prefix="paperfeed-eval-") as tmp:
        settings = Settings(data_dir=workdir or Path(tmp))
        workspace = Workspace.create(settings)
        console.print(f"indexing {dataset.name} into {settings.data_dir} …")
        with _progress() as progress:
            prepare(dataset, workspace, _stages(progress))
            results = run_eval(workspace, dataset, split, chosen, queries, _stages(progress))
        workspace.db.engine.dispose()
    if as_json:
        print(json.dumps(results_json(dataset, split, results)))
        return
    table = Table(title=f"{dataset.name} · {split} · {results[0].queries} queries")
    for column in ("ranker", "nDCG@10", "Recall@100", "MRR@10", "p50 ms"):
        table.add_column(column, justify="left" if column == "ranker" else "right")
    for r in results:
        table.add_row(
            r.ranker,
            f"{r.ndcg_at_10:.4f}",
            f"{r.recall_at_100:.4f}",
            f"{r.mrr_at_10:.4f}",
            f"{r.p50_ms:.1f}",
        )
    out.print(table)


def _ensure_indexed(workspace: Workspace) -> None:
    from paperfeed.search.catchup import behind

    if behind(workspace):
        _sync(workspace)
