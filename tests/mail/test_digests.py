"""Digests: only what is new since the watermark, queued in the transaction that moves it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from _mail_helpers import T0, SmtpServer, add_paper, link_token, outbox, parts, subscription
from sqlalchemy.exc import IntegrityError

from paperfeed.mail import digests, tokens
from paperfeed.mail.digests import build_due_digests
from paperfeed.mail.sender import drain_outbox
from paperfeed.mail.subscriptions import confirm, subscribe, unsubscribe
from paperfeed.workspace import Workspace

DAY = timedelta(days=1)


def _active(ws: Workspace, kind: str, params: dict, email: str = "a@example.org") -> int:
    sub = subscribe(ws, email, kind, params)
    confirm(ws, tokens.confirm_token(ws, sub.pk, sub.email), now=T0)
    with ws.db.session() as session:  # the confirmation mail is not what these tests look at
        from paperfeed.db import OutboxMessage

        session.query(OutboxMessage).delete()
    return sub.pk


def _corpus(ws: Workspace) -> None:
    # Older than a week before the subscription (its first digest looks back one period).
    old = T0 - 8 * DAY
    add_paper(ws, "2603.00001", "Old diffusion paper", "Diffusion models, seen before.", old)
    add_paper(ws, "2603.00002", "Old graph paper", "Graph networks.", old, upvotes=99)
    add_paper(
        ws,
        "2603.00003",
        "Fast diffusion sampling",
        "Diffusion models sample faster.",
        T0 + DAY,
        upvotes=5,
    )
    add_paper(ws, "2603.00004", "Protein folding at scale", "Proteins fold.", T0 + DAY, 42)
    add_paper(ws, "2603.00005", "Quiet new paper", "Nobody voted for this.", T0 + DAY)


def test_trending_digest_lists_only_new_papers_ranked_with_reasons(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    _corpus(mail_ws)
    pk = _active(mail_ws, "trending", {"period": "daily"})
    report = build_due_digests(mail_ws, now=T0 + 2 * DAY)
    assert len(report.queued) == 1
    assert report.queued[0] == f"<digest-{pk}-20260301T080000.000000Z@papers.example.org>"
    sub = subscription(mail_ws, pk)
    assert sub.watermark == T0 + DAY  # the newest paper considered, not the clock
    assert sub.last_sent_at == T0 + 2 * DAY

    assert drain_outbox(mail_ws).sent == 1
    [message] = smtp_server.handler.messages
    assert message["Message-ID"] == report.queued[0]
    assert message["Subject"] == "paperfeed: trending, 3 new papers"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(message)
    for body in (text, html):
        assert "Old diffusion paper" not in body and "Old graph paper" not in body
        assert body.index("Protein folding") < body.index("Fast diffusion") < body.index("Quiet")
        assert "trending: 42 upvotes" in body and "trending: 5 upvotes" in body
        assert "https://papers.example.org/papers/2603.00004" in body
    token = link_token(message["List-Unsubscribe"], "/unsubscribe")
    assert link_token(text, "/unsubscribe") == token
    assert unsubscribe(mail_ws, token).status == "unsubscribed"


def test_search_digest_lists_only_matching_new_papers(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    _corpus(mail_ws)
    _active(mail_ws, "search", {"query": "diffusion"})
    report = build_due_digests(mail_ws, now=T0 + 2 * DAY)  # indexes the new papers first
    assert len(report.queued) == 1, report
    drain_outbox(mail_ws)
    [message] = smtp_server.handler.messages
    assert message["Subject"] == "paperfeed: 1 new paper matching \u2018diffusion\u2019"
    text, html = parts(message)
    for body in (text, html):
        assert "Fast diffusion sampling" in body
        assert "matches \u2018diffusion\u2019 (diffusion)" in body
        for other in ("Old diffusion paper", "Protein folding", "Quiet new paper"):
            assert other not in body


def test_nothing_new_means_no_mail_and_nothing_due_twice(mail_ws: Workspace) -> None:
    _corpus(mail_ws)
    pk = _active(mail_ws, "search", {"query": "transformers"})
    report = build_due_digests(mail_ws, now=T0 + 2 * DAY)
    assert (report.queued, report.nothing_new) == ([], 1)
    assert outbox(mail_ws) == []
    assert subscription(mail_ws, pk).watermark == T0 + DAY  # seen, not for this subscriber

    trending = _active(mail_ws, "trending", {"period": "weekly"}, email="b@example.org")
    add_paper(mail_ws, "2603.00006", "Even newer", "New.", T0 + 2 * DAY)
    assert len(build_due_digests(mail_ws, now=T0 + 3 * DAY).queued) == 1
    assert build_due_digests(mail_ws, now=T0 + 4 * DAY).queued == []  # weekly: not due yet
    add_paper(mail_ws, "2603.00007", "Newer still", "New.", T0 + 4 * DAY)
    assert len(build_due_digests(mail_ws, now=T0 + 10 * DAY).queued) == 1
    assert subscription(mail_ws, trending).watermark == T0 + 4 * DAY


def test_a_failure_after_building_leaves_nothing_half_done(
    mail_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _corpus(mail_ws)
    pk = _active(mail_ws, "trending", {})

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut between the outbox insert and the watermark")

    with monkeypatch.context() as patch:
        patch.setattr(digests, "_advance", crash)
        with pytest.raises(RuntimeError):
            build_due_digests(mail_ws, now=T0 + 2 * DAY)
    assert outbox(mail_ws) == []
    sub = subscription(mail_ws, pk)
    assert (sub.watermark, sub.last_sent_at) == (T0 - DAY, None)

    # Built again, it is the same digest, with the same Message-ID, queued once.
    report = build_due_digests(mail_ws, now=T0 + 2 * DAY)
    assert report.queued == [f"<digest-{pk}-20260301T080000.000000Z@papers.example.org>"]
    assert [row.message_id for row in outbox(mail_ws)] == report.queued


def test_two_builders_racing_queue_the_digest_once(mail_ws: Workspace) -> None:
    _corpus(mail_ws)
    pk = _active(mail_ws, "trending", {})
    stale = subscription(mail_ws, pk)  # what a second builder read before the first wrote
    first = build_due_digests(mail_ws, now=T0 + 2 * DAY)
    second = digests.DigestReport()
    with pytest.raises((IntegrityError, digests._Raced)):  # unique Message-ID / watermark check
        digests._build_one(mail_ws, stale, T0 + 2 * DAY, second)
    assert len(first.queued) == 1 and second.queued == []
    assert len(outbox(mail_ws)) == 1


def test_for_you_whose_account_was_deleted_is_skipped_with_a_note(mail_ws: Workspace) -> None:
    from paperfeed.community.accounts import create_user
    from paperfeed.db import User

    _corpus(mail_ws)
    user = create_user(mail_ws, "ada", "correct horse battery", "a@example.org")
    sub = subscribe(mail_ws, "a@example.org", "for_you", {}, user_pk=user.pk)
    confirm(mail_ws, tokens.confirm_token(mail_ws, sub.pk, sub.email), now=T0)
    with mail_ws.db.session() as session:
        session.delete(session.get(User, user.pk))  # the subscription's user_pk becomes NULL
    report = build_due_digests(mail_ws, now=T0 + 2 * DAY)
    assert report.queued == [] and report.skipped == 1
    assert "needs an account" in report.notes[0]


def test_with_digest_send_empty_an_empty_digest_goes_out_each_period(
    mail_ws: Workspace, smtp_server: SmtpServer
) -> None:
    mail_ws.settings.digest_send_empty = True
    pk = _active(mail_ws, "trending", {})
    first = build_due_digests(mail_ws, now=T0 + DAY).queued
    second = build_due_digests(mail_ws, now=T0 + 2 * DAY).queued
    assert len(first) == len(second) == 1 and first != second  # each its own Message-ID
    assert subscription(mail_ws, pk).watermark == T0 + 2 * DAY
    drain_outbox(mail_ws)
    text, html = parts(smtp_server.handler.messages[0])
    assert "Nothing new since the last mail." in text and "Nothing new" in html


def test_a_search_digest_waits_for_papers_that_are_not_embedded_yet(
    mail_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest commits papers before they are embedded: the digest must not skip them."""
    _corpus(mail_ws)
    pk = _active(mail_ws, "search", {"query": "diffusion"})
    with monkeypatch.context() as patched:  # as if the embedding had not happened yet
        patched.setattr(digests, "behind", lambda workspace: False)
        report = build_due_digests(mail_ws, now=T0 + 2 * DAY)
    assert report.queued == [] and report.nothing_new == 1
    assert subscription(mail_ws, pk).watermark == T0 - DAY  # not moved past the waiting papers

    report = build_due_digests(mail_ws, now=T0 + 2 * DAY)  # now they get embedded first
    assert len(report.queued) == 1
    [row] = outbox(mail_ws)
    assert "Fast diffusion sampling" in row.body_text


def test_for_you_without_votes_yet_sends_trending_papers_and_says_how_to_get_picks(
    mail_ws: Workspace,
) -> None:
    from paperfeed.community.accounts import create_user

    _corpus(mail_ws)
    user = create_user(mail_ws, "ada", "correct horse battery", "a@example.org")
    sub = subscribe(mail_ws, "a@example.org", "for_you", {}, user_pk=user.pk)
    confirm(mail_ws, tokens.confirm_token(mail_ws, sub.pk, sub.email), now=T0)
    report = build_due_digests(mail_ws, now=T0 + 2 * DAY)
    assert len(report.queued) == 1
    digest = next(row for row in outbox(mail_ws) if row.kind == "digest")
    assert digest.body_text.index("Protein folding") < digest.body_text.index("Fast diffusion")
    assert "trending: 42 upvotes (upvote or save papers to get picks of your own)" in (
        digest.body_text
    )
