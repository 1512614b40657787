"""User accounts: sign-up, log-in, sessions and password changes, with argon2 password hashes.

Passwords: at least 8 characters, and not easy to guess — zxcvbn (Dropbox's estimator, which
knows the common-password lists, keyboard patterns and repeats) must put them at 10^6
guesses or more, and they must not contain the username. Hashing and verifying are held to
``ARGON2_AT_ONCE`` per process, so a burst of log-ins waits in line instead of taking
64 MiB each.

Sessions: a logged-in browser holds a random session id (in the web app's signed cookie);
the database keeps only its SHA-256 (``user_sessions``), so the row is the session. Log-out
deletes it, a password change deletes all of the user's sessions, and each ends after
``SESSION_DAYS`` unless used in its second half, which renews it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from paperfeed.bounds import has_unprintable
from paperfeed.db import User
from paperfeed.db.models import UserSession
from paperfeed.errors import ConflictError, InvalidInputError, NotFoundError, WrongPasswordError
from paperfeed.mail.addresses import normalize_address
from paperfeed.workspace import Workspace

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only bounds the work per attempt
# zxcvbn's score: 2 means at least 10^6 guesses. With log-ins throttled to ten failures per
# quarter hour per account (paperfeed.community.throttle), that is decades of online guessing.
MIN_PASSWORD_SCORE = 2
_ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; a prefix's strength is a lower bound
SESSION_DAYS = 30

# Each argon2 hash or verification takes 64 MiB (argon2-cffi's default memory cost) for
# 50-500 ms of one core; two at a time per process bounds that at 128 MiB on 2 cores.
ARGON2_AT_ONCE = 2
_argon2_slots = threading.BoundedSemaphore(ARGON2_AT_ONCE)
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


def check_password(password: str, username: str | None = None) -> str:
    """The password if it may be used by ``username``; else InvalidInputError saying why."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(f"password: at most {MAX_PASSWORD_LENGTH} characters")
    if has_unprintable(password):
        raise InvalidInputError("password: control characters or broken text are not allowed")
    if username and username.strip().lower() in password.lower():
        raise InvalidInputError("password: must not contain the username")
    from zxcvbn import zxcvbn  # loads its word lists (~0.2 s): only when a password is set

    inputs = [username] if username else []
    strength = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=inputs)
    if strength["score"] < MIN_PASSWORD_SCORE:
        feedback = strength["feedback"]
        why = feedback["warning"] or "it is easy to guess"
        hint = " ".join(feedback["suggestions"]) or "Use a few words that do not go together."
        raise InvalidInputError(f"password: too easy to guess. {why.rstrip('.')}. {hint}")
    return password


def create_user(
    workspace: Workspace, username: str, password: str, email: str | None = None
) -> User:
    """Create an account; the first one, and any named in ``PAPERFEED_ADMIN_USERS``, is admin."""
    username = check_username(username)
    check_password(password, username)
    email = normalize_address(email) if email and email.strip() else None
    admins = {n.strip().lower() for n in workspace.settings.admin_users.split(",") if n.strip()}
    with workspace.db.session() as session:
        taken = session.scalar(select(User.pk).where(func.lower(User.username) == username.lower()))
        if taken is not None:
            raise ConflictError(f"username {username!r} is taken")
        first = session.scalar(select(func.count(User.pk))) == 0
        user = User(
            username=username,
            email=email,
            password_hash=_hash(password),
            is_admin=first or username.lower() in admins,
        )
        session.add(user)
        session.flush()
        session.refresh(user)
        session.expunge(user)
    return user


def authenticate(workspace: Workspace, username: str, password: str) -> User | None:
    """The user if the password is right, else ``None`` (same cost for a wrong password
    and a missing user; a name no account can have is refused without hashing)."""
    username = username.strip()
    if not USERNAME_PATTERN.match(username) or not _usable(password):
        return None
    with workspace.db.session() as session:
        user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
        if user is None:
            _verify(_DUMMY_HASH, password)
            return None
        if not _verify(user.password_hash, password):
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hash(password)
            session.flush()
            session.refresh(user)
        session.expunge(user)
    return user


def change_password(workspace: Workspace, user_pk: int, current: str, new: str) -> User:
    """Set a new password and end every session of the user (whoever knew the old password
    may have logged in with it); the web app then opens a new one for the browser asking."""
    with workspace.db.session() as session:
        user = session.get(User, user_pk)
        if user is None or not _verify(user.password_hash, current):
            raise WrongPasswordError("current password: wrong password")
        check_password(new, user.username)
        user.password_hash = _hash(new)
        session.execute(delete(UserSession).where(UserSession.user_pk == user_pk))
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


def open_session(workspace: Workspace, user_pk: int) -> str:
    """A new session for the user; returns its id, which only the browser keeps."""
    session_id = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with workspace.db.session() as session:
        # Expired sessions of anyone go here, where a row is written anyway (indexed).
        session.execute(delete(UserSession).where(UserSession.expires_at < now))
        session.add(
            UserSession(
                id_hash=_session_hash(session_id),
                user_pk=user_pk,
                created_at=now,
                expires_at=now + timedelta(days=SESSION_DAYS),
            )
        )
    return session_id


def session_user(workspace: Workspace, session_id: str) -> User | None:
    """The user whose live session ``session_id`` is, else None: one query, and an update
    of the expiry when the session is in its second half (at most every 15 days)."""
    now = datetime.now(UTC)
    id_hash = _session_hash(session_id)
    with workspace.db.session() as session:
        row = session.execute(
            select(User, UserSession.expires_at)
            .join(UserSession, UserSession.user_pk == User.pk)
            .where(UserSession.id_hash == id_hash, UserSession.expires_at > now)
        ).first()
        if row is None:
            return None
        user, expires_at = row
        if expires_at - now < timedelta(days=SESSION_DAYS / 2):
            session.execute(
                update(UserSession)
                .where(UserSession.id_hash == id_hash)
                .values(expires_at=now + timedelta(days=SESSION_DAYS))
            )
        session.expunge(user)
    return user


def close_session(workspace: Workspace, session_id: str) -> None:
    """End a session: its id logs no one in any more, wherever the cookie was copied."""
    with workspace.db.session() as session:
        session.execute(delete(UserSession).where(UserSession.id_hash == _session_hash(session_id)))


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode(errors="replace")).hexdigest()


def _usable(password: str) -> bool:
    """Whether a password given at log-in is worth hashing: bounded, and encodable."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        password.encode()
    except UnicodeEncodeError:  # a lone surrogate: no account can have it
        return False
    return True


def _hash(password: str) -> str:
    with _argon2_slots:
        return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    if not _usable(password):
        return False
    try:
        with _argon2_slots:
            return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
