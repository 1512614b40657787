"""``paperfeed check``: is the database intact, and do the search indexes agree with it?

The database is the source of truth; the indexes are caches of it (``paperfeed.search.index``). This
reads both without changing either and names each disagreement with the command that
repairs it:

- the indexes *behind* the database (papers or vectors newer than the last sync, papers not
  embedded yet): normal while an import runs; ``paperfeed reindex`` catches up;
- the indexes *wrong* (ids the database does not have, papers lost below the last sync's
  mark, counts that differ from what the sync recorded, files that cannot be read):
  ``paperfeed reindex --full`` rebuilds them (any command that opens the indexes also
  rebuilds a damaged part by itself);
- the database itself damaged (SQLite ``PRAGMA quick_check``; skipped on PostgreSQL, which
  checks its own pages): restore the latest backup.

With the PostgreSQL search backend there are no index files: PostgreSQL keeps its indexes
in step with its rows, and only papers waiting for a vector are reported.

Papers hidden by moderation stay in the indexes on purpose (unhiding needs no reindex) and
every search leaves them out; they are counted, not reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from paperfeed.db import DatabaseDamagedError, Embedding, EmbedQueue, Paper
from paperfeed.search import embed
from paperfeed.search.catchup import text_hash
from paperfeed.search.index import OnDisk, read_on_disk
from paperfeed.workspace import Workspace, backend_kind

REINDEX = "paperfeed reindex"
REBUILD = "paperfeed reindex --full"
RESTORE = "paperfeed restore BACKUP --force (from your latest `paperfeed backup`)"
_EXAMPLES = 5  # ids quoted in a problem's message


@dataclass
class Problem:
    part: str  # database, embeddings, lexical index, vector index
    message: str
    repair: str


@dataclass
class CheckReport:
    database: str  # "ok", "not checked (PostgreSQL)", or what quick_check said
    counts: dict[str, int | None] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "database": self.database,
            "counts": self.counts,
            "problems": [asdict(p) for p in self.problems],
        }


def check(workspace: Workspace) -> CheckReport:
    """Check the database, then compare the indexes on disk with it."""
    report = CheckReport(database=_integrity(workspace))
    if report.database not in ("ok", "not checked (PostgreSQL)"):
        report.problems.append(Problem("database", report.database, RESTORE))
        return report  # what the database says cannot be trusted: compare nothing with it
    files = backend_kind(workspace.settings, workspace.db) == "embedded"  # else PostgreSQL's
    # Read first: the database is then the newer side of the comparison.
    on_disk = read_on_disk(workspace.settings.index_dir, workspace.vector_config) if files else None
    try:
        _compare(workspace, on_disk, report)
    except DatabaseDamagedError as exc:
        report.database = str(exc)
        report.problems.append(Problem("database", str(exc), RESTORE))
    return report


def _integrity(workspace: Workspace) -> str:
    if workspace.db.sqlite_file is None:
        return "not checked (PostgreSQL)"
    try:
        with workspace.db.engine.connect() as connection:
            lines = [str(row[0]) for row in connection.exec_driver_sql("PRAGMA quick_check")]
    except DatabaseDamagedError as exc:
        return str(exc)
    if lines == ["ok"]:
        return "ok"
    more = f"; … {len(lines) - _EXAMPLES} more" if len(lines) > _EXAMPLES else ""
    return f"quick_check found damage: {'; '.join(lines[:_EXAMPLES])}{more}"


def _compare(workspace: Workspace, on_disk: OnDisk | None, report: CheckReport) -> None:
    """The vectors against the papers; and, for index files (``on_disk``), each part's ids
    against the database's."""
    db = workspace.db
    seen = on_disk or OnDisk(exists=False, state=None)
    lexical_seen, vectors_seen = seen.seen("lexical"), seen.seen("vectors")
    with db.session() as session:
        papers = _pks(session.scalars(select(Paper.pk)))
        hidden = session.scalar(
            select(func.count()).select_from(Paper).where(Paper.hidden.is_(True))
        )
        vectors = _pks(session.scalars(select(Embedding.paper_pk).where(_current_model())))
        changed = _pks(session.scalars(select(Paper.pk).where(Paper.change_seq > lexical_seen)))
        revectored = _pks(
            session.scalars(
                select(Embedding.paper_pk).where(_current_model(), Embedding.seq > vectors_seen)
            )
        )
        queued = _stale_in_queue(session)
    to_embed = np.union1d(np.setdiff1d(papers, vectors), queued)
    state = seen.state or {}
    report.counts = {
        "papers": len(papers),
        "hidden": hidden or 0,
        "embeddings": len(vectors),
        "to_embed": len(to_embed),
        "lexical_docs": None if seen.lexical_pks is None else len(seen.lexical_pks),
        "vectors": None if seen.vector_pks is None else len(seen.vector_pks),
        "graph": seen.graph_size,
    }
    problems = report.problems
    if len(to_embed):
        problems.append(
            Problem(
                "embeddings",
                f"{len(to_embed)} papers have no vector of their current text "
                f"(e.g. pk {_examples(to_embed)})",
                REINDEX,
            )
        )
    if on_disk is None:
        return  # PostgreSQL's own indexes follow its rows: nothing to compare
    if not on_disk.exists:
        problems.append(Problem("indexes", "the search indexes do not exist yet", REINDEX))
        return
    if on_disk.state is None:
        problems.append(Problem("indexes", "state.json is missing or unreadable", REBUILD))
    if on_disk.lexical_error:
        problems.append(Problem("lexical index", f"unreadable: {on_disk.lexical_error}", REBUILD))
    elif on_disk.lexical_pks is not None:
        _compare_part(
            "lexical index",
            "papers",
            on_disk.lexical_pks,
            papers,
            changed,
            _as_int(state.get("lexical_docs")),
            problems,
        )
    if on_disk.vectors_error:
        problems.append(Problem("vector index", f"unreadable: {on_disk.vectors_error}", REBUILD))
    elif on_disk.vector_pks is not None:
        _compare_part(
            "vector index",
            "embeddings",
            on_disk.vector_pks,
            vectors,
            revectored,
            _as_int(state.get("vectors_count")),
            problems,
        )
        exact_below = workspace.vector_config.exact_below  # the indexes keep no graph below
        if len(on_disk.vector_pks) >= exact_below and on_disk.graph_size is None:
            problems.append(
                Problem(
                    "vector index",
                    f"{len(on_disk.vector_pks)} vectors but no HNSW graph (searches scan them all)",
                    REBUILD,
                )
            )


def _compare_part(
    part: str,
    what: str,
    indexed: np.ndarray,
    expected: np.ndarray,
    newer: np.ndarray,
    recorded: int,
    problems: list[Problem],
) -> None:
    """One index's ids against the database's: extra ids, lost ones, ones not synced yet."""
    unique = np.unique(indexed)
    if len(unique) != len(indexed):
        problems.append(
            Problem(part, f"{len(indexed) - len(unique)} ids are indexed more than once", REBUILD)
        )
    if len(indexed) != recorded:
        problems.append(
            Problem(
                part,
                f"holds {len(indexed)} entries, the last sync recorded {recorded}",
                REBUILD,
            )
        )
    extra = np.setdiff1d(unique, expected)
    if len(extra):
        problems.append(
            Problem(
                part,
                f"{len(extra)} ids are not {what} in the database (e.g. pk {_examples(extra)})",
                REBUILD,
            )
        )
    missing = np.setdiff1d(expected, unique)
    lost = np.setdiff1d(missing, newer)  # older than the last sync, yet not there
    if len(lost):
        problems.append(
            Problem(
                part,
                f"{len(lost)} {what} the last sync covered are missing (e.g. pk {_examples(lost)})",
                REBUILD,
            )
        )
    if len(newer):
        problems.append(
            Problem(
                part,
                f"behind the database: {len(newer)} {what} new or changed since the last sync",
                REINDEX,
            )
        )


def _current_model() -> ColumnElement[bool]:
    return Embedding.model == embed.MODEL_ID


def _stale_in_queue(session: Session) -> np.ndarray:
    """Queued papers whose vector is not of their current text (a queued paper may already
    have one: given with the demo corpus, or made before a change that kept the text)."""
    rows = session.execute(
        select(Paper.pk, Paper.title, Paper.abstract, Embedding.text_hash)
        .join(EmbedQueue, EmbedQueue.paper_pk == Paper.pk)
        .outerjoin(Embedding, (Embedding.paper_pk == Paper.pk) & _current_model())
    )
    return _pks(pk for pk, title, abstract, digest in rows if digest != text_hash(title, abstract))


def _pks(rows: object) -> np.ndarray:
    return np.unique(np.fromiter(rows, dtype=np.int64))  # type: ignore[call-overload]


def _examples(pks: np.ndarray) -> str:
    shown = ", ".join(str(int(pk)) for pk in pks[:_EXAMPLES])
    return shown + (", …" if len(pks) > _EXAMPLES else "")


def _as_int(value: object) -> int:
    return value if isinstance(value, int) else 0
