"""Rate limits: how often one account, and one client address, may do each kind of thing.

Counters live in the database (``rate_counters``), not in process memory, so a limit holds
across the processes of ``paperfeed serve --workers N`` and across hosts sharing one
PostgreSQL. Each limit is a fixed window: ``count`` events per ``period`` seconds, the window
starting at a multiple of the period. One event is one atomic upsert (``INSERT … ON CONFLICT
DO UPDATE … RETURNING``), so concurrent requests never lose a count. At a window boundary a
client can get up to twice ``count`` in a short burst; the figures below allow for that.

Every action is limited per client address; actions of logged-in users also per account,
since one account can come from many addresses. The per-address figures are the larger ones:
many people can share one address (a campus, an office behind NAT). Log-in counts *failed*
attempts, per username tried and per address, so the right password still works after a
guesser's attempts on someone else's account from elsewhere.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paperfeed.db.models import RateCounter
from paperfeed.errors import RateLimitedError
from paperfeed.workspace import Workspace

MINUTE, HOUR = 60, 3600


@dataclass(frozen=True)
class Limit:
    count: int
    period: int  # seconds


@dataclass(frozen=True)
class Action:
    """What is limited, and how much. ``noun`` names the events in the refusal message."""

    noun: str
    per_address: Limit
    per_account: Limit | None = None


ACTIONS: dict[str, Action] = {
    # Ten wrong passwords per quarter hour holds a guesser to under 1,000 guesses a day per
    # account, against the 10^6+ that the password policy's weakest accepted password takes;
    # someone who forgot theirs has tried a handful long before. Per address, more: one
    # address may be a whole office, and a username typo counts against the address only.
    "login": Action(
        "failed log-ins",
        per_account=Limit(10, 15 * MINUTE),
        per_address=Limit(50, 15 * MINUTE),
    ),
    # Each attempt costs an argon2 hash (~64 MiB, ~50 ms) and a success makes an account:
    # 30 an hour per address lets a class sign up behind one address, not a script make
    # hundreds.
    "signup": Action("sign-ups", per_address=Limit(30, HOUR)),
    # Each subscription mails a confirmation to any address given (capped per recipient
    # separately, in paperfeed.mail); a reader sets up a few, not dozens.
    "subscribe": Action("subscriptions", per_account=Limit(20, HOUR), per_address=Limit(40, HOUR)),
    # A lively discussion is a comment every minute or two; this stops a flood, not a debate.
    "comment": Action(
        "comments", per_account=Limit(20, 10 * MINUTE), per_address=Limit(60, 10 * MINUTE)
    ),
    # Voting (and un-voting) through a whole day's feed is ~30-60 clicks; 120 per ten minutes
    # lets a reader do that twice and stops scripts that sweep the catalogue.
    "vote": Action(
        "votes", per_account=Limit(120, 10 * MINUTE), per_address=Limit(300, 10 * MINUTE)
    ),
    "save": Action(
        "library changes",
        per_account=Limit(120, 10 * MINUTE),
        per_address=Limit(300, 10 * MINUTE),
    ),
    # A submission may fetch from arXiv, which asks for one request per 3 s from all of us.
    "submit": Action("submissions", per_account=Limit(10, HOUR), per_address=Limit(20, HOUR)),
}

_PRUNE_EVERY = 60.0  # seconds between deletions of expired counters, per process
_prune_lock = threading.Lock()
_next_prune = 0.0


def enabled(workspace: Workspace) -> bool:
    return workspace.settings.rate_limits


def hit(workspace: Workspace, action: str, address: str | None, account: str | None = None) -> None:
    """Count one ``action`` by ``address`` (and ``account``); ``RateLimitedError`` if that
    goes past a limit. Refused attempts count too: a client that keeps trying stays refused."""
    if enabled(workspace):
        _raise_if_over(action, _count(workspace, action, address, account, add=True), add=True)


def check(
    workspace: Workspace, action: str, address: str | None, account: str | None = None
) -> None:
    """``RateLimitedError`` if the limit is already used up; counts nothing (see ``record``)."""
    if enabled(workspace):
        _raise_if_over(action, _count(workspace, action, address, account, add=False), add=False)


def record(
    workspace: Workspace, action: str, address: str | None, account: str | None = None
) -> None:
    """Count one ``action`` without refusing it: for events known only afterwards (a failed
    log-in), checked by ``check`` before the next attempt."""
    if enabled(workspace):
        _count(workspace, action, address, account, add=True)


def _keys(action: str, address: str | None, account: str | None) -> list[tuple[str, Limit]]:
    rules = ACTIONS[action]
    keys = [(_key(action, "address", address or "unknown"), rules.per_address)]
    if account is not None and rules.per_account is not None:
        keys.append((_key(action, "account", account), rules.per_account))
    return keys


def _key(action: str, scope: str, who: str) -> str:
    key = f"{action}:{scope}:{who}"
    if len(key) > 200:  # the column holds 255; whatever a client sent stays bounded
        key = f"{action}:{scope}:sha256:{hashlib.sha256(who.encode(errors='replace')).hexdigest()}"
    return key


def _count(
    workspace: Workspace, action: str, address: str | None, account: str | None, add: bool
) -> list[tuple[int, Limit, int]]:
    """(events in the current window, the limit, window start) for each key."""
    now = time.time()
    out = []
    with workspace.db.session() as session:
        for key, limit in _keys(action, address, account):
            start = int(now) // limit.period * limit.period
            count: int | None
            if add:
                count = _increment(session, key, start, limit)
            else:
                count = session.scalar(
                    select(RateCounter.count).where(
                        RateCounter.key == key, RateCounter.window_start == start
                    )
                )
            out.append((int(count or 0), limit, start))
        if add:
            _prune_now_and_then(session)
    return out


def _raise_if_over(action: str, counts: list[tuple[int, Limit, int]], add: bool) -> None:
    # Counting this event (``add``), the limit is passed at count + 1; peeking, at count.
    allowed = 0 if add else 1
    over = [(limit, start) for count, limit, start in counts if count + allowed > limit.count]
    if not over:
        return
    now = time.time()
    wait = max(math.ceil(start + limit.period - now) for limit, start in over)
    limit = over[0][0]
    raise RateLimitedError(
        f"too many {ACTIONS[action].noun}: at most {limit.count} in "
        f"{_duration(limit.period)}; try again in {_duration(wait)}",
        retry_after=max(wait, 1),
    )


def _increment(session: Session, key: str, start: int, limit: Limit) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(RateCounter)
        .values(
            key=key,
            window_start=start,
            count=1,
            expires_at=datetime.fromtimestamp(start + limit.period, UTC),
        )
        .on_conflict_do_update(
            index_elements=[RateCounter.key, RateCounter.window_start],
            set_={"count": RateCounter.count + 1},
        )
        .returning(RateCounter.count)
    )
    return int(session.scalar(statement) or 0)


def _prune_now_and_then(session: Session) -> None:
    """Delete counters of windows that have ended, at most once a minute per process."""
    global _next_prune
    with _prune_lock:
        if time.monotonic() < _next_prune:
            return
        _next_prune = time.monotonic() + _PRUNE_EVERY
    session.execute(delete(RateCounter).where(RateCounter.expires_at < datetime.now(UTC)))


def _duration(seconds: int) -> str:
    if seconds >= HOUR and seconds % HOUR == 0:
        hours = seconds // HOUR
        return "an hour" if hours == 1 else f"{hours} hours"
    if seconds >= 2 * MINUTE:
        return f"{math.ceil(seconds / MINUTE)} minutes"
    return "a second" if seconds <= 1 else f"{seconds} seconds"
