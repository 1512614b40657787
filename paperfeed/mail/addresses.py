"""Email addresses we send to: exactly one plain mailbox each, checked by ``email-validator``.

An address is ``local@domain`` and nothing more: no display name (``Name <a@b.org>``), no
list (``a,b@example.org``, which ``smtplib`` would deliver to ``a``), no quoted local part,
no IP literal, no line break (a header injection), no non-ASCII local part (our SMTP
sender does not negotiate SMTPUTF8). International domain names are kept in their ASCII
(IDNA) form, which every mail server accepts. Deliverability (DNS) is not checked here: the
confirmation mail is the real test of an address.

Anyone may type anyone's address into the subscribe form, so limits per address count per
*mailbox* (``mailbox_key``): ``Victim+1@Example.org`` and ``victim@example.org`` reach the
same inbox at most providers and share one quota.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from paperfeed.errors import InvalidInputError

__all__ = ["MAX_ADDRESS_LENGTH", "mailbox_key", "normalize_address"]

MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward path, less its angle brackets


def normalize_address(address: str, field: str = "email") -> str:
    """``address`` as one plain ``local@domain`` (domain lower-cased, IDNA-encoded), or
    ``InvalidInputError`` saying what is wrong, prefixed with ``field``.

    The sign-up and account forms can share it: it is the one test of an address here.
    """
    address = address.strip()
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidInputError(
            f"{field}: longer than {MAX_ADDRESS_LENGTH} characters, so not an address"
        )
    try:
        valid = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        raise InvalidInputError(
            f"{field}: {address!r} is not one email address like name@example.org ({exc})"
        ) from exc
    return valid.ascii_email or valid.normalized


def mailbox_key(address: str) -> str:
    """The inbox ``address`` reaches, for counting: lower-cased, ``+tag`` dropped.

    For quotas only; mail still goes to the address as given (a ``+tag`` may route it).
    """
    local, _, domain = normalize_address(address).rpartition("@")
    return f"{local.split('+', 1)[0].lower()}@{domain.lower()}"
