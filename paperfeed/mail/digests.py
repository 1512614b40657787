"""Digests: for each due subscription, the papers new since its watermark, into the outbox.

A paper is *new* for a subscription when its ``first_seen`` is after the subscription's
``watermark``. Building a digest reads freely, then writes in ONE transaction: the outbox
row and the watermark/``last_sent_at`` advance. The advance is conditional on the watermark
still being the one the digest was built from, and the Message-ID
(``digest_message_id``) is unique, so two builders racing, or a rebuild after a
failure, queue the digest at most once.

The new watermark is the newest ``first_seen`` among the papers considered (not the clock),
so a paper committed by an ingest that was still running while we read is not skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed.community import recommend
from paperfeed.community.rank import GRAVITY, upvotes
from paperfeed.db import Embedding, Listing, OutboxMessage, Paper, Subscription, rowcount
from paperfeed.db.models import utcnow
from paperfeed.db.session import DatabaseBusyError, DatabaseDamagedError, DiskFullError
from paperfeed.errors import PaperfeedError
from paperfeed.mail import render, tokens
from paperfeed.mail.subscriptions import PERIOD_LENGTH, describe
from paperfeed.search import embed
from paperfeed.search.catchup import behind, catch_up
from paperfeed.workspace import Workspace

# A job run at the same hour every day drifts by minutes; without slack a daily digest sent
# at 08:00:05 would not be due at 08:00:01 the next day and would slip a whole day.
DUE_SLACK = timedelta(hours=1)
SEARCH_DEPTH = 500  # search hits ranked before keeping the new ones
# Kinds that can only pick papers with a vector (and in the index): a digest of these kinds
# waits for papers still being embedded instead of moving its watermark past them.
NEEDS_VECTORS = ("search", "for_you")


@dataclass
class DigestItem:
    paper_id: str
    title: str
    authors: str
    reason: str
    url: str


@dataclass
class DigestReport:
    queued: list[str] = field(default_factory=list)  # Message-IDs put in the outbox
    nothing_new: int = 0  # due subscriptions with nothing new (no mail)
    skipped: int = 0  # due subscriptions that could not be built (see notes)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.queued)} digests queued, {self.nothing_new} with nothing new, "
            f"{self.skipped} skipped"
        )


class _Raced(Exception):
    """Another builder moved this subscription's watermark first: roll back, queue nothing."""


def is_due(subscription: Subscription, now: datetime) -> bool:
    if subscription.status != "active":
        return False
    if subscription.last_sent_at is None:
        return True
    period = PERIOD_LENGTH[subscription.params.get("period", "daily")]
    return now >= subscription.last_sent_at + period - DUE_SLACK


def build_due_digests(workspace: Workspace, now: datetime | None = None) -> DigestReport:
    """Queue a digest for every active subscription that is due (see ``is_due``)."""
    now = now or utcnow()
    report = DigestReport()
    with workspace.db.session() as session:
        due = [
            s
            for s in session.scalars(
                select(Subscription).where(Subscription.status == "active").order_by("pk")
            )
            if is_due(s, now)
        ]
        session.expunge_all()
    if any(s.kind in NEEDS_VECTORS for s in due) and behind(workspace):
        catch_up(workspace)  # search and the recommender see indexed papers
    for subscription in due:
        try:
            _build_one(workspace, subscription, now, report)
        except (_Raced, IntegrityError):
            report.notes.append(f"subscription {subscription.pk}: built by another process")
        except (DatabaseBusyError, DiskFullError, DatabaseDamagedError):
            raise  # the database, not this subscription: every later one would fail the same
        except PaperfeedError as exc:  # e.g. a saved query the index cannot run: the others go on
            report.skipped += 1
            report.notes.append(f"subscription {subscription.pk}: {exc}")
    return report


def _build_one(
    workspace: Workspace, subscription: Subscription, now: datetime, report: DigestReport
) -> None:
    settings = workspace.settings
    since = subscription.watermark or subscription.confirmed_at or subscription.created_at
    with workspace.db.session() as session:
        candidates, newest = _new_papers(session, since, now, subscription.kind in NEEDS_VECTORS)
    picked = _pick(workspace, subscription, candidates)
    if isinstance(picked, str):
        report.skipped += 1
        report.notes.append(f"subscription {subscription.pk}: {picked}")
        return
    if not picked and not settings.digest_send_empty:
        report.nothing_new += 1
        if newest is not None:  # new papers, none for this subscriber: don't look again
            with workspace.db.session() as session:
                _advance(session, subscription, since, newest, subscription.last_sent_at)
        return
    row = _digest_message(workspace, subscription, since, picked)
    with workspace.db.session() as session:
        session.add(row)
        session.flush()  # the unique Message-ID is checked here
        # An empty digest (digest_send_empty) moves the watermark to now, so the next one
        # gets a new Message-ID.
        _advance(session, subscription, since, newest or now, now)
    report.queued.append(row.message_id)


def _advance(
    session: Session,
    subscription: Subscription,
    since: datetime,
    watermark: datetime,
    last_sent_at: datetime | None,
) -> None:
    """Move the watermark, only if it is still ``since`` (else another builder won)."""
    current = (
        Subscription.watermark == since
        if subscription.watermark is not None
        else Subscription.watermark.is_(None)
    )
    result = session.execute(
        update(Subscription)
        .where(Subscription.pk == subscription.pk, Subscription.status == "active", current)
        .values(watermark=watermark, last_sent_at=last_sent_at)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        raise _Raced()


def _new_papers(
    session: Session, since: datetime, now: datetime, ready_only: bool = False
) -> tuple[list[int], Any]:
    """The visible papers first seen in ``(since, now]``, and the newest ``first_seen``.

    ``ready_only``: the window ends just before the first paper that has no vector yet
    (an ingest commits papers before they are embedded), so that paper and the ones after
    it are still new for the next digest rather than skipped for good.
    """
    window = [Paper.first_seen > since, Paper.first_seen <= now]
    if ready_only:
        embedded = select(Embedding.paper_pk).where(Embedding.model == embed.MODEL_ID)
        waiting = session.scalar(
            select(func.min(Paper.first_seen)).where(*window, Paper.pk.not_in(embedded))
        )
        if waiting is not None:
            window.append(Paper.first_seen < waiting)
    pks = list(session.scalars(select(Paper.pk).where(*window, Paper.hidden.is_(False))))
    newest = session.scalar(select(func.max(Paper.first_seen)).where(*window))
    return pks, newest


def _pick(
    workspace: Workspace, subscription: Subscription, candidates: list[int]
) -> list[tuple[int, str]] | str:
    """The chosen papers as ``(pk, reason)``, best first; a string says why none could be."""
    if not candidates:
        return []
    cap = workspace.settings.digest_max_papers
    pickers: dict[str, Callable[..., list[tuple[int, str]] | str]] = {
        "trending": _pick_trending,
        "search": _pick_search,
        "for_you": _pick_for_you,
    }
    return pickers[subscription.kind](workspace, subscription, candidates, cap)


def _pick_trending(
    workspace: Workspace, subscription: Subscription, candidates: list[int], cap: int
) -> list[tuple[int, str]]:
    """New papers by the trending score of ``paperfeed.community.rank`` (upvotes, decayed by
    age)."""
    today = utcnow().date()
    with workspace.db.session() as session:
        rows = session.execute(
            select(Paper.pk, upvotes(), func.min(Listing.day), Paper.first_seen)
            .outerjoin(Listing, Listing.paper_pk == Paper.pk)
            .where(Paper.pk.in_(candidates))
            .group_by(Paper.pk)
        ).all()
    scored = []
    for pk, votes, first_day, first_seen in rows:
        age = max((today - (first_day or first_seen.date())).days, 0)
        scored.append((int(votes) / (age + 2) ** GRAVITY, pk, int(votes)))
    scored.sort(key=lambda row: (-row[0], -row[1]))
    return [(pk, _votes_reason(votes)) for _, pk, votes in scored[:cap]]


def _votes_reason(votes: int) -> str:
    if votes == 0:
        return "new, no upvotes yet"
    return f"trending: {votes} upvote{'s' if votes != 1 else ''}"


def _pick_search(
    workspace: Workspace, subscription: Subscription, candidates: list[int], cap: int
) -> list[tuple[int, str]]:
    """New papers the saved query finds, by relevance (the one search entry point).

    With words in the query, a paper must match them lexically: the dense ranker scores
    every paper, so on its own it would put any new paper in every alert.
    """
    from paperfeed.search import search

    query = subscription.params["query"]
    results = search(workspace, query, limit=SEARCH_DEPTH, explain=True)
    wanted = set(candidates)
    needs_words = bool(results.parsed.text)
    picked = []
    for hit in results.hits:
        if hit.paper.pk not in wanted:
            continue
        if needs_words and hit.explanation.lexical_rank is None:
            continue
        terms = hit.explanation.matched_terms
        reason = f"matches \u2018{query}\u2019" + (f" ({', '.join(terms)})" if terms else "")
        picked.append((hit.paper.pk, reason))
        if len(picked) == cap:
            break
    return picked


def _pick_for_you(
    workspace: Workspace, subscription: Subscription, candidates: list[int], cap: int
) -> list[tuple[int, str]] | str:
    """The recommender's pick among the new papers
    (``paperfeed.community.recommend.rank_for_user``)."""
    if subscription.user_pk is None:
        return "a for-you digest needs an account (the subscription has none)"
    picks = recommend.rank_for_user(
        workspace, subscription.user_pk, candidate_pks=candidates, limit=cap
    )
    if not picks:
        with workspace.db.session() as session:
            cold = not recommend.positives_of(session, subscription.user_pk)
        if cold:  # nothing to learn from yet: the trending papers, saying how to get picks
            hint = " (upvote or save papers to get picks of your own)"
            trending = _pick_trending(workspace, subscription, candidates, cap)
            return [(pk, reason + hint) for pk, reason in trending]
    return [(rec.pk, rec.reason) for rec in picks]


def _digest_message(
    workspace: Workspace,
    subscription: Subscription,
    since: datetime,
    picked: list[tuple[int, str]],
) -> OutboxMessage:
    settings = workspace.settings
    with workspace.db.session() as session:
        papers = {
            p.pk: p
            for p in session.scalars(select(Paper).where(Paper.pk.in_([pk for pk, _ in picked])))
        }
        session.expunge_all()
    items = [
        DigestItem(
            paper_id=papers[pk].id,
            title=papers[pk].title,
            authors=_authors(papers[pk].authors),
            reason=reason,
            url=render.paper_url(settings, papers[pk].id),
        )
        for pk, reason in picked
        if pk in papers
    ]
    stop = tokens.unsubscribe_token(workspace, subscription.pk, subscription.email)
    title = _title(subscription, len(items))
    text, html = render.render(
        "digest",
        title=title,
        items=items,
        notes=[],
        email=subscription.email,
        description=describe(subscription),
        site_name=settings.site_name,
        site_url=render.site_url(settings),
        unsubscribe_url=render.unsubscribe_url(settings, stop),
    )
    domain = render.mail_domain(settings)
    return OutboxMessage(
        subscription_pk=subscription.pk,
        kind="digest",
        message_id=digest_message_id(subscription.pk, since, domain),
        to_addr=subscription.email,
        subject=f"{settings.site_name}: {title}",
        body_text=text,
        body_html=html,
        headers=render.unsubscribe_headers(settings, stop, one_click=True),
        status="pending",
        next_attempt_at=utcnow(),
    )


def digest_message_id(subscription_pk: int, since: datetime, domain: str) -> str:
    """``<digest-{pk}-{watermark}@{domain}>``, the watermark in ISO 8601 *basic* format
    (``20260302T080000.000000Z``): the extended form's colons are not allowed in a Message-ID.
    """
    stamp = since.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"<digest-{subscription_pk}-{stamp}@{domain}>"


def _title(subscription: Subscription, count: int) -> str:
    papers = f"{count} new paper{'s' if count != 1 else ''}"
    if subscription.kind == "trending":
        return f"trending, {papers}"
    if subscription.kind == "search":
        return f"{papers} matching \u2018{subscription.params['query']}\u2019"
    return f"{papers} picked for you"


def _authors(authors: list[str]) -> str:
    if len(authors) <= 3:
        return ", ".join(authors)
    return ", ".join(authors[:3]) + " et al."
