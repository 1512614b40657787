"""A polite HTTP client: every live source fetches through it.

The services we poll (arXiv above all) ask the same things of clients: say who you are (a
``User-Agent`` with a contact address), space your requests (arXiv: one every 3 s), back off
when told to (429/503 with ``Retry-After``) and do not re-download what has not changed
(``ETag`` / ``Last-Modified``). Keeping those promises in one place means a new source cannot
forget them. Failures come out as ``SourceError`` with the URL and what went wrong, never as
an httpx traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.errors import ConfigError, SourceError

_EXCERPT_CHARS = 200


class HttpStatusError(SourceError):
    """The server answered with an error status. Keeps the status and body, because some
    APIs (arXiv among them) explain the problem in the body of a 400."""

    def __init__(self, message: str, *, url: str, status: int, text: str) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.text = text


@dataclass(frozen=True, slots=True)
class HttpResult:
    """A successful (2xx) or not-modified (304) answer.

    On 304 ``text`` is empty and ``etag`` / ``last_modified`` fall back to the validators the
    caller sent, so the caller can store them unconditionally.
    """

    url: str
    status: int
    text: str
    etag: str | None = None
    last_modified: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class PoliteClient:
    """One ``httpx.Client`` with a User-Agent, per-host pacing, retries and conditional GET.

    ``min_interval`` is the least time between two requests to the same host, in seconds:
    one number for every host, or ``{host: seconds}`` (hosts not named are not paced).
    ``retries`` is how many times a failed request is tried again after the first try; only
    failures that may pass are retried (connection errors, timeouts, 429 and 5xx). The wait
    before a retry is ``Retry-After`` when the server sends one, else ``backoff * 2**n``;
    either way at most ``max_wait`` seconds. ``sleep`` and ``clock`` are injectable so tests
    need not really wait. Safe to share between threads.
    """

    def __init__(
        self,
        user_agent: str,
        timeout: float,
        min_interval: Mapping[str, float] | float = 0.0,
        retries: int = 4,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not user_agent.strip():
            raise ConfigError("an HTTP User-Agent is required (set PAPERFEED_USER_AGENT)")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self._client = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=timeout,
            follow_redirects=True,
        )
        if isinstance(min_interval, Mapping):
            self._intervals = {host.lower(): float(s) for host, s in min_interval.items()}
            self._default_interval = 0.0
        else:
            self._intervals = {}
            self._default_interval = float(min_interval)
        self._retries = retries
        self._backoff = backoff
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}  # host -> earliest time of its next request

    @property
    def user_agent(self) -> str:
        return self._client.headers["User-Agent"]

    def get(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> HttpResult:
        """GET ``url``; pass the ``etag`` / ``last_modified`` of a previous answer to get a
        304 (``result.not_modified``) instead of the same body again."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            request = self._client.build_request("GET", url, params=params, headers=headers)
        except httpx.InvalidURL as error:
            raise SourceError(f"GET {url}: invalid URL ({error})") from error
        shown = str(request.url)
        tries = self._retries + 1
        for attempt in range(1, tries + 1):
            self._wait_turn(request.url.host)
            status_error: HttpStatusError | None = None
            try:
                response = self._client.send(request)
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as error:
                raise SourceError(f"GET {shown}: {error}") from error
            except httpx.TransportError as error:  # connect/read errors, timeouts, drops
                problem = _describe(error)
                wait = self._backoff_wait(attempt)
            except httpx.HTTPError as error:  # undecodable body, redirect loop: won't pass
                raise SourceError(f"GET {shown}: {error}") from error
            else:
                if response.is_success or response.status_code == 304:
                    return _result(response, shown, etag, last_modified)
                status_error = _status_error(response, shown)
                if not _retryable(response.status_code):
                    raise status_error
                problem = _status_line(response)
                retry_after = _retry_after(response.headers.get("Retry-After"))
                wait = self._backoff_wait(attempt) if retry_after is None else retry_after
            if attempt < tries:
                self._sleep(min(wait, self._max_wait))
                continue
            message = f"GET {shown} failed after {tries} tries: {problem}"
            if status_error is not None:
                raise HttpStatusError(
                    message, url=shown, status=status_error.status, text=status_error.text
                )
            raise SourceError(message)
        raise AssertionError("unreachable")  # the last try returns or raises

    def get_bytes(self, url: str, max_bytes: int) -> tuple[str, bytes]:
        """GET a file (an image): its Content-Type (without parameters) and body, read no
        further than ``max_bytes``. Paced like ``get``, tried once: a file missed now is
        asked for again by the next harvest."""
        try:
            request = self._client.build_request("GET", url)
        except httpx.InvalidURL as error:
            raise SourceError(f"GET {url}: invalid URL ({error})") from error
        shown = str(request.url)
        self._wait_turn(request.url.host)
        try:
            response = self._client.send(request, stream=True)
            try:
                if not response.is_success:
                    raise SourceError(f"GET {shown}: {_status_line(response)}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise SourceError(f"GET {shown}: {declared} bytes (limit {max_bytes})")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise SourceError(f"GET {shown}: more than {max_bytes} bytes")
            finally:
                response.close()
        except httpx.HTTPError as error:
            raise SourceError(f"GET {shown}: {error}") from error
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return kind, bytes(body)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _interval(self, host: str) -> float:
        """The host's own interval, else that of the nearest paced domain above it (a
        service's CDN hosts, cdn-thumbnails.huggingface.co, are spaced as the service)."""
        labels = host.lower().split(".")
        for start in range(len(labels) - 1):
            interval = self._intervals.get(".".join(labels[start:]))
            if interval is not None:
                return interval
        return self._default_interval

    def _wait_turn(self, host: str) -> None:
        """Sleep until ``host`` may be asked again. Each caller reserves its slot under the
        lock and sleeps outside it, so threads pace each other without blocking other hosts."""
        interval = self._interval(host)
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + interval
        if slot > now:
            self._sleep(slot - now)

    def _backoff_wait(self, attempt: int) -> float:
        wait: float = self._backoff * 2 ** (attempt - 1)  # (int ** int is typed Any)
        return wait


def default_user_agent(settings: Settings) -> str:
    """The configured User-Agent, else one naming paperfeed and the operator's address
    (arXiv and Crossref ask for a way to reach whoever runs a client)."""
    if settings.user_agent:
        return settings.user_agent
    return f"paperfeed/{__version__} (mailto:{settings.contact_email})"


def _result(
    response: httpx.Response, url: str, etag: str | None, last_modified: str | None
) -> HttpResult:
    not_modified = response.status_code == 304
    return HttpResult(
        url=url,
        status=response.status_code,
        text="" if not_modified else response.text,
        etag=response.headers.get("ETag") or (etag if not_modified else None),
        last_modified=response.headers.get("Last-Modified")
        or (last_modified if not_modified else None),
        headers=dict(response.headers),
    )


def _retryable(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def _status_error(response: httpx.Response, url: str) -> HttpStatusError:
    text = response.text
    excerpt = " ".join(text.split())
    if len(excerpt) > _EXCERPT_CHARS:
        excerpt = excerpt[:_EXCERPT_CHARS] + "…"
    message = f"GET {url}: {_status_line(response)}" + (f": {excerpt}" if excerpt else "")
    return HttpStatusError(message, url=url, status=response.status_code, text=text)


def _status_line(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _describe(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.TimeoutException):
        kind = "timed out"
    elif isinstance(error, httpx.ConnectError):
        kind = "cannot connect"
    elif isinstance(error, httpx.RemoteProtocolError):
        kind = "connection broken"
    else:
        kind = "network error"
    detail = str(error) or type(error).__name__
    return f"{kind} ({detail})"
