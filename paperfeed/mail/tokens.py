"""Signed tokens for the links in mails, over the site secret (``paperfeed.security``).

A confirm token expires after ``CONFIRM_MAX_AGE``; an unsubscribe token never does (a
digest read months later must still unsubscribe in one click). Both name the subscription
and its address, so a token cannot be replayed against another subscription, and distinct
salts keep one kind from being accepted as the other.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed.errors import InvalidInputError
from paperfeed.security import secret_key
from paperfeed.workspace import Workspace

CONFIRM_MAX_AGE = 7 * 86400
_CONFIRM_SALT = "paperfeed.mail.confirm"
_UNSUBSCRIBE_SALT = "paperfeed.mail.unsubscribe"


def _serializer(workspace: Workspace, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(workspace), salt=salt)


def confirm_token(workspace: Workspace, subscription_pk: int, email: str) -> str:
    return _serializer(workspace, _CONFIRM_SALT).dumps([subscription_pk, email])


def unsubscribe_token(workspace: Workspace, subscription_pk: int, email: str) -> str:
    return _serializer(workspace, _UNSUBSCRIBE_SALT).dumps([subscription_pk, email])


def read_confirm_token(workspace: Workspace, token: str) -> tuple[int, str]:
    try:
        value = _serializer(workspace, _CONFIRM_SALT).loads(token, max_age=CONFIRM_MAX_AGE)
    except SignatureExpired as exc:
        raise InvalidInputError(
            "this confirmation link has expired (links last 7 days); subscribe again"
        ) from exc
    except BadSignature as exc:
        raise InvalidInputError("this confirmation link is not valid") from exc
    return _pair(value, "confirmation")


def read_unsubscribe_token(workspace: Workspace, token: str) -> tuple[int, str]:
    try:
        value = _serializer(workspace, _UNSUBSCRIBE_SALT).loads(token)
    except BadSignature as exc:
        raise InvalidInputError("this unsubscribe link is not valid") from exc
    return _pair(value, "unsubscribe")


def _pair(value: object, what: str) -> tuple[int, str]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
    ):
        raise InvalidInputError(f"this {what} link is not valid")
    return value[0], value[1]
