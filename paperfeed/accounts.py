"""User accounts: sign-up, log-in and password changes, with argon2 password hashes.

Sessions themselves are the web layer's business (signed cookies); what they need from here is
:func:`session_token`, a short digest of the password hash, so that changing a password ends
every other session that was opened with the old one.
"""

from __future__ import annotations

import hashlib
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.db import User
from paperfeed.errors import ConflictError, InvalidInputError, NotFoundError
from paperfeed.workspace import Workspace

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only bounds the work per attempt

_hasher = PasswordHasher()
# Verified against when the username does not exist, so a miss costs as much as a hit.
_DUMMY_HASH = _hasher.hash("paperfeed: no such user")


def check_username(username: str) -> str:
    username = username.strip()
    if not USERNAME_PATTERN.match(username):
        raise InvalidInputError(
            "username: 3 to 32 characters, letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(f"password: at most {MAX_PASSWORD_LENGTH} characters")
    return password


def create_user(
    workspace: Workspace, username: str, password: str, email: str | None = None
) -> User:
    """Create an account; the first one, and any named in ``PAPERFEED_ADMIN_USERS``, is admin."""
    username = check_username(username)
    check_password(password)
    email = (email or "").strip() or None
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise InvalidInputError("email: not an email address")
    admins = {n.strip().lower() for n in workspace.settings.admin_users.split(",") if n.strip()}
    with workspace.db.session() as session:
        taken = session.scalar(select(User.pk).where(func.lower(User.username) == username.lower()))
        if taken is not None:
            raise ConflictError(f"username {username!r} is taken")
        first = session.scalar(select(func.count(User.pk))) == 0
        user = User(
            username=username,
            email=email,
            password_hash=_hasher.hash(password),
            is_admin=first or username.lower() in admins,
        )
        session.add(user)
        session.flush()
        session.refresh(user)
        session.expunge(user)
    return user


def authenticate(workspace: Workspace, username: str, password: str) -> User | None:
    """The user if the password is right, else ``None`` (same cost either way)."""
    with workspace.db.session() as session:
        user = session.scalar(
            select(User).where(func.lower(User.username) == username.strip().lower())
        )
        if user is None:
            _verify(_DUMMY_HASH, password)
            return None
        if not _verify(user.password_hash, password):
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
            session.flush()
            session.refresh(user)
        session.expunge(user)
    return user


def change_password(workspace: Workspace, user_pk: int, current: str, new: str) -> User:
    check_password(new)
    with workspace.db.session() as session:
        user = session.get(User, user_pk)
        if user is None or not _verify(user.password_hash, current):
            raise InvalidInputError("current password: wrong password")
        user.password_hash = _hasher.hash(new)
        session.flush()
        session.refresh(user)
        session.expunge(user)
    return user


def get_user(workspace: Workspace, user_pk: int) -> User | None:
    with workspace.db.session() as session:
        user = session.get(User, user_pk)
        if user is not None:
            session.expunge(user)
        return user


def get_user_by_name(workspace: Workspace, username: str) -> User:
    """The account called ``username`` (any case); NotFoundError if there is none."""
    with workspace.db.session() as session:
        user = _by_name(session, username)
        session.expunge(user)
    return user


def _by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.username) == username.strip().lower()))
    if user is None:
        raise NotFoundError(f"no user named {username!r}")
    return user


def list_users(workspace: Workspace) -> list[User]:
    with workspace.db.session() as session:
        users = list(session.scalars(select(User).order_by(User.pk)))
        session.expunge_all()
    return users


def set_admin(workspace: Workspace, username: str, is_admin: bool) -> User:
    with workspace.db.session() as session:
        user = _by_name(session, username)
        user.is_admin = is_admin
        session.flush()
        session.expunge(user)
    return user


def session_token(user: User) -> str:
    """Changes whenever the password does; stored in the session and checked on each request."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
