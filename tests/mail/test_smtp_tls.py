"""Encrypted and authenticated SMTP: STARTTLS (port 587 style) and implicit TLS (465 style),
with a login, against aiosmtpd servers whose certificates come from a throwaway CA
(trustme). The CA reaches the sender through ``PAPERFEED_SMTP_CA_FILE``."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from _mail_helpers import T0, RecordingHandler, free_port, mail_settings, outbox, queue_mails
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from paperfeed.mail.sender import drain_outbox
from paperfeed.workspace import Workspace

USER, PASSWORD = "paperfeed", "s3cret-relay-password"


@dataclass
class Authenticator:
    """Accepts USER/PASSWORD only, and remembers who logged in and whether over TLS."""

    logins: list[tuple[str, bool]] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = (data.login.decode(), data.password.decode()) == (USER, PASSWORD)
        if ok:
            self.logins.append((USER, session.ssl is not None))
        return AuthResult(success=ok, handled=False)


@dataclass
class TlsServer:
    handler: RecordingHandler
    authenticator: Authenticator
    port: int


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "relay-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def _serve(ca: trustme.CA, implicit: bool) -> Iterator[TlsServer]:
    server = TlsServer(RecordingHandler(), Authenticator(), free_port())
    tls = _server_context(ca)
    options: dict[str, Any] = {"ssl_context": tls} if implicit else {"tls_context": tls}
    controller = Controller(
        server.handler,
        hostname="127.0.0.1",
        port=server.port,
        require_starttls=not implicit,
        auth_required=True,
        # aiosmtpd counts only STARTTLS as TLS here; on an implicit-TLS port all is encrypted.
        auth_require_tls=not implicit,
        authenticator=server.authenticator,
        **options,
    )
    controller.start()
    yield server
    server.handler.release()
    controller.stop()


@pytest.fixture
def starttls_server(ca: trustme.CA) -> Iterator[TlsServer]:
    yield from _serve(ca, implicit=False)


@pytest.fixture
def implicit_tls_server(ca: trustme.CA) -> Iterator[TlsServer]:
    yield from _serve(ca, implicit=True)


def _workspace(tmp_path: Path, port: int, **smtp: Any) -> Workspace:
    return Workspace.create(mail_settings(tmp_path / "data", port, **smtp))


def test_starttls_and_login_deliver(
    tmp_path: Path, starttls_server: TlsServer, ca_file: Path
) -> None:
    ws = _workspace(
        tmp_path,
        starttls_server.port,
        smtp_starttls=True,
        smtp_username=USER,
        smtp_password=PASSWORD,
        smtp_ca_file=ca_file,
    )
    ids = queue_mails(ws, 2)
    report = drain_outbox(ws, now=T0)
    assert (report.sent, report.retrying, report.failed) == (2, 0, 0), report.errors
    assert sorted(starttls_server.handler.ids()) == sorted(ids)
    assert starttls_server.authenticator.logins == [(USER, True)]  # once, inside TLS


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # see _serve
def test_implicit_tls_and_login_deliver(
    tmp_path: Path, implicit_tls_server: TlsServer, ca_file: Path
) -> None:
    ws = _workspace(
        tmp_path,
        implicit_tls_server.port,
        smtp_ssl=True,
        smtp_username=USER,
        smtp_password=PASSWORD,
        smtp_ca_file=ca_file,
    )
    ids = queue_mails(ws, 1)
    assert drain_outbox(ws, now=T0).sent == 1
    assert implicit_tls_server.handler.ids() == ids
    # (aiosmtpd marks only STARTTLS sessions as TLS; this port speaks nothing but TLS.)
    assert [user for user, _ in implicit_tls_server.authenticator.logins] == [USER]


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"smtp_password": "wrong"}, "refused the session: 535"),
        ({"smtp_username": None}, "refused the session: 530"),  # a login is required
        ({"smtp_ca_file": None}, "CERTIFICATE_VERIFY_FAILED"),  # the relay's CA not trusted
        ({"smtp_starttls": False}, "does it need PAPERFEED_SMTP_STARTTLS"),  # no AUTH in clear
        ({"smtp_ca_file": Path("/nonexistent/ca.pem")}, "PAPERFEED_SMTP_CA_FILE"),
    ],
)
def test_a_refused_session_keeps_the_mail_for_a_retry_and_says_why(
    tmp_path: Path,
    starttls_server: TlsServer,
    ca_file: Path,
    settings: dict[str, Any],
    error: str,
) -> None:
    smtp = {
        "smtp_starttls": True,
        "smtp_username": USER,
        "smtp_password": PASSWORD,
        "smtp_ca_file": ca_file,
    }
    ws = _workspace(tmp_path, starttls_server.port, **(smtp | settings))
    queue_mails(ws, 2)
    report = drain_outbox(ws, now=T0)
    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)  # the round stops
    first, second = outbox(ws)
    assert (first.status, first.attempts) == ("pending", 1)
    assert error in (first.last_error or ""), first.last_error
    assert (second.status, second.attempts) == ("pending", 0)  # not even tried
    assert starttls_server.handler.messages == []
