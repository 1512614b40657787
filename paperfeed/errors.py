"""Our exception types. Each carries a message a user can act on.

The CLI prints ``str(error)`` as one line and exits non-zero; the API turns it into a JSON
error. Anything that is not a ``PaperfeedError`` is a bug and may show a traceback.
"""


class PaperfeedError(Exception):
    """Base class: a problem the user can fix (bad input, missing file, bad config)."""


class ConfigError(PaperfeedError):
    """Settings are missing or inconsistent."""


class SourceError(PaperfeedError):
    """A whole input cannot be read (missing file, unknown format, not JSON at all)."""


class QueryError(PaperfeedError):
    """A search query cannot be understood."""


class NotFoundError(PaperfeedError):
    """A paper (or other object) asked for by id does not exist."""


class InvalidInputError(PaperfeedError):
    """A form or API field is missing or malformed (the message names the field)."""


class WrongPasswordError(InvalidInputError):
    """The password given to confirm an action is not the account's (a guess, perhaps)."""


class ConflictError(PaperfeedError):
    """The request clashes with what exists (e.g. a username already taken)."""


class AuthRequiredError(PaperfeedError):
    """The action needs a logged-in user."""


class ForbiddenError(PaperfeedError):
    """The logged-in user may not do this (e.g. moderation without the admin role)."""


class RateLimitedError(PaperfeedError):
    """Too many requests of one kind in a short time (e.g. confirmation mails to one address).

    ``retry_after``: seconds until the next attempt may succeed, when known (the web app sends
    it as the ``Retry-After`` header of its 429 answer).
    """

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
