"""Subscription addresses: one plain mailbox each, one quota per mailbox, one recipient per mail.

Against a real SMTP server (aiosmtpd on loopback) that records each message's envelope.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _mail_helpers import T0, RecordingHandler, SmtpServer, mail_settings, outbox
from aiosmtpd.controller import Controller

from paperfeed.db import OutboxMessage, Subscription
from paperfeed.errors import InvalidInputError, RateLimitedError
from paperfeed.mail.addresses import MAX_ADDRESS_LENGTH, mailbox_key, normalize_address
from paperfeed.mail.sender import drain_outbox
from paperfeed.mail.subscriptions import subscribe
from paperfeed.workspace import Workspace


class EnvelopeHandler(RecordingHandler):
    """A ``RecordingHandler`` that also keeps each message's envelope recipients."""

    def __init__(self) -> None:
        super().__init__()
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.recipients.append(list(envelope.rcpt_tos))  # type: ignore[attr-defined]
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def envelope_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.handler = EnvelopeHandler()
    server.controller = Controller(server.handler, hostname="127.0.0.1", port=server.port)
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def ws(tmp_path: Path, envelope_server: SmtpServer) -> Iterator[Workspace]:
    workspace = Workspace.create(mail_settings(tmp_path / "data", envelope_server.port))
    yield workspace
    workspace.db.engine.dispose()


# -- one plain address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("reader@example.org", "reader@example.org"),
        ("  Reader@Example.ORG ", "Reader@example.org"),  # the local part keeps its case
        ("reader+papers@example.org", "reader+papers@example.org"),
        ("reader@b\u00fccher.example", "reader@xn--bcher-kva.example"),  # IDNA for SMTP
    ],
)
def test_an_address_is_stored_in_its_normal_form(given: str, stored: str) -> None:
    assert normalize_address(given) == stored


@pytest.mark.parametrize(
    "address",
    [
        "Victim <victim@example.org>",
        "<victim@example.org>",
        "a,b@example.org",
        "a@example.org,b@example.org",
        "a@example.org b@example.org",
        "a@example.org;b@example.org",
        '"victim@example.org"@attacker.example',
        '"a b"@example.org',
        "victim@example.org\r\nBcc: everyone@example.org",
        "victim@example.org\nBcc: everyone@example.org",
        "victim@example.org\x00",
        "victim\ud800@example.org",
        "victim@[127.0.0.1]",
        "victim@localhost",
        "r\u00e9sum\u00e9@example.org",  # SMTPUTF8, which the sender does not speak
        "victim@@example.org",
        "@example.org",
        "victim@",
        "",
        "x" * 250 + "@example.org",
        "x" * 10_000,
    ],
)
def test_anything_but_one_plain_address_is_refused_naming_the_field(address: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^email: "):
        normalize_address(address)


def test_the_field_name_in_the_message_is_the_callers() -> None:
    with pytest.raises(InvalidInputError, match=r"^recipient: "):
        normalize_address("a,b@example.org", field="recipient")


def test_an_address_of_the_maximum_length_is_accepted() -> None:
    address = f"{'a' * 64}@{'d' * 63}.{'d' * 63}.{'e' * 57}.org"
    assert len(address) == MAX_ADDRESS_LENGTH
    assert normalize_address(address) == address
    with pytest.raises(InvalidInputError):
        normalize_address("a" + address)


@pytest.mark.parametrize(
    "spelling",
    [
        "victim@example.org",
        "Victim@Example.ORG",
        "VICTIM@EXAMPLE.ORG",
        "victim+1@example.org",
        "Victim+Papers+More@example.org",
    ],
)
def test_every_spelling_of_a_mailbox_has_one_quota_key(spelling: str) -> None:
    assert mailbox_key(spelling) == "victim@example.org"


def test_different_mailboxes_have_different_keys() -> None:
    keys = {mailbox_key(a) for a in ("a@example.org", "b@example.org", "a@example.net", "ab@x.org")}
    assert len(keys) == 4


# -- subscriptions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["Victim <victim@example.org>", "a,b@example.org", "v@example.org\r\nBcc: x@example.org"],
)
def test_a_subscription_to_anything_but_one_address_queues_nothing(
    ws: Workspace, address: str
) -> None:
    with pytest.raises(InvalidInputError, match="email:"):
        subscribe(ws, address, "trending", {})
    assert outbox(ws) == []


def test_the_confirmation_quota_counts_per_mailbox_whatever_the_spelling(ws: Workspace) -> None:
    for spelling in ("victim@example.org", "Victim@EXAMPLE.org", "victim+1@example.org"):
        subscribe(ws, spelling, "trending", {})
    for spelling in ("VICTIM+2@example.org", "victim@example.org", " victim+x@Example.Org "):
        with pytest.raises(RateLimitedError, match="3 confirmation mails"):
            subscribe(ws, spelling, "search", {"query": "diffusion"})
    assert len(outbox(ws)) == 3
    # Mailboxes that merely look alike are not affected.
    for other in ("victim2@example.org", "victi@example.org", "victim@example.net"):
        subscribe(ws, other, "trending", {})
    assert len(outbox(ws)) == 6
    with ws.db.session() as session:  # an hour later the mailbox may ask again
        session.query(OutboxMessage).update({"created_at": T0})
    subscribe(ws, "victim+3@example.org", "trending", {})


def test_like_wildcards_in_a_local_part_match_only_themselves(ws: Workspace) -> None:
    for _ in range(3):
        subscribe(ws, "a_b%c@example.org", "trending", {})
    subscribe(ws, "axbyc@example.org", "trending", {})  # would match an unescaped a_b%c
    with pytest.raises(RateLimitedError):
        subscribe(ws, "A_B%C+x@example.org", "trending", {})


def test_the_normal_form_is_stored_and_mail_goes_to_the_address_given(
    ws: Workspace, envelope_server: SmtpServer
) -> None:
    sub = subscribe(ws, "  Reader+Papers@Example.ORG ", "trending", {})
    assert sub.email == "Reader+Papers@example.org"
    with ws.db.session() as session:
        assert session.get(Subscription, sub.pk).email == "Reader+Papers@example.org"
    assert drain_outbox(ws).sent == 1
    handler = envelope_server.handler
    assert handler.recipients == [["Reader+Papers@example.org"]]  # type: ignore[attr-defined]
    assert handler.messages[0]["To"] == "Reader+Papers@example.org"


# -- the sender ------------------------------------------------------------------------------


def _queue(ws: Workspace, to_addr: str, message_id: str) -> None:
    with ws.db.session() as session:
        session.add(
            OutboxMessage(
                kind="digest",
                message_id=message_id,
                to_addr=to_addr,
                subject="papers",
                body_text="text\n",
                body_html="<p>html</p>\n",
                headers={},
                status="pending",
                next_attempt_at=T0,
                created_at=T0,
            )
        )


@pytest.mark.parametrize(
    "to_addr",
    ["a,b@example.org", "Victim <victim@example.org>", "a@example.org b@example.org"],
)
def test_a_queued_mail_to_anything_but_one_address_fails_unsent(
    ws: Workspace, envelope_server: SmtpServer, to_addr: str
) -> None:
    """Rows queued before addresses were checked this strictly: smtplib would have sent
    ``a,b@example.org`` to ``a`` (it reduces each recipient with ``parseaddr``)."""
    _queue(ws, to_addr, "<bad@papers.example.org>")
    _queue(ws, "reader@example.org", "<good@papers.example.org>")
    report = drain_outbox(ws)
    assert (report.sent, report.failed, report.retrying) == (1, 1, 0)
    assert envelope_server.handler.recipients == [["reader@example.org"]]  # type: ignore[attr-defined]
    [bad] = [row for row in outbox(ws) if row.message_id == "<bad@papers.example.org>"]
    assert bad.status == "failed"
    assert bad.last_error is not None and "recipient:" in bad.last_error


def test_each_mail_has_exactly_one_envelope_recipient(
    ws: Workspace, envelope_server: SmtpServer
) -> None:
    for i, address in enumerate(["one@example.org", "Two@Example.org", "three+x@example.org"]):
        _queue(ws, address, f"<m{i}@papers.example.org>")
    assert drain_outbox(ws).sent == 3
    recipients = envelope_server.handler.recipients  # type: ignore[attr-defined]
    assert recipients == [["one@example.org"], ["Two@example.org"], ["three+x@example.org"]]
