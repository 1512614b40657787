"""A lock with an expiry, kept in the database: at most one live holder per name.

The holder renews the lease well before it expires; a holder that dies stops renewing, and
once the lease has expired another process may take it. Two plain statements make it work
the same on SQLite and PostgreSQL: an INSERT for a name nobody holds (the primary key lets
only one through), and an UPDATE that takes the row only if it expired or is already ours
(one statement, so only one of two racing processes changes the row).

Expiry is judged by each process's own clock: keep the hosts' clocks in sync (NTP) when
workers on several hosts share one database.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError

from paperfeed.db.models import WorkerLease, utcnow
from paperfeed.db.session import Database, rowcount

WORKER = "worker"  # the lease ``paperfeed worker`` holds: one worker per deployment


@dataclass(frozen=True)
class Holder:
    holder: str
    acquired_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        return (
            f"{self.holder} (since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, "
            f"lease until {self.expires_at:%H:%M:%S} UTC)"
        )


class Lease:
    """``acquire`` / ``renew`` / ``release`` one named lease for ``seconds`` at a time."""

    def __init__(self, db: Database, name: str, seconds: float, holder: str | None = None):
        self.db = db
        self.name = name
        self.seconds = seconds
        # host:pid plus a random part, so a restarted process with a recycled pid is not
        # mistaken for the old holder.
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    def acquire(self) -> bool:
        """Take the lease if nobody holds it, it expired, or it is ours already."""
        now = utcnow()
        expires = now + timedelta(seconds=self.seconds)
        try:
            with self.db.session() as session:
                session.add(
                    WorkerLease(
                        name=self.name, holder=self.holder, acquired_at=now, expires_at=expires
                    )
                )
            return True
        except IntegrityError:
            pass  # somebody has (or had) it: take it over only if it lapsed
        with self.db.session() as session:
            result = session.execute(
                update(WorkerLease)
                .where(
                    WorkerLease.name == self.name,
                    or_(WorkerLease.expires_at < now, WorkerLease.holder == self.holder),
                )
                .values(holder=self.holder, acquired_at=now, expires_at=expires)
            )
            return rowcount(result) == 1

    def renew(self) -> bool:
        """Extend our lease; False if it is no longer ours (we stalled past its expiry)."""
        now = utcnow()
        with self.db.session() as session:
            result = session.execute(
                update(WorkerLease)
                .where(WorkerLease.name == self.name, WorkerLease.holder == self.holder)
                .values(expires_at=now + timedelta(seconds=self.seconds))
            )
            return rowcount(result) == 1

    def release(self) -> None:
        """Give the lease up now (the next process need not wait for it to expire)."""
        with self.db.session() as session:
            session.execute(
                delete(WorkerLease).where(
                    WorkerLease.name == self.name, WorkerLease.holder == self.holder
                )
            )

    def current(self) -> Holder | None:
        """Who holds the lease now, if anyone (an expired lease counts as nobody)."""
        with self.db.session() as session:
            row = session.get(WorkerLease, self.name)
            if row is None or row.expires_at < utcnow():
                return None
            return Holder(row.holder, row.acquired_at, row.expires_at)


def worker_holder(db: Database, seconds: float) -> Holder | None:
    """The worker holding its lease now, if any (submissions and mail are queued for it)."""
    return Lease(db, WORKER, seconds).current()
