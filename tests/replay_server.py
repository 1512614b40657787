"""A real local HTTP server for tests of live sources: replays recorded responses, injects faults.

Tests of HTTP code should go through a real socket, so that what is tested is what httpx does
with real bytes (a connection dropped mid-body, a 503 with ``Retry-After``, a 304), not what a
mock thinks it does. ``ReplayServer`` listens on 127.0.0.1 on an ephemeral port in a
background thread and knows nothing about any particular service: tests (or helpers such as
``arxiv_replay`` in ``tests/live/conftest.py``) register answers by path and query, or with a
matcher, and queue one-shot faults. Every request is logged (path, query, headers, arrival
time) so tests can check the User-Agent and the spacing of requests.

    with ReplayServer() as server:
        server.add("/api/query", Response(body="<feed/>"), query={"id_list": "1605.08386"})
        server.fail_next(503, retry_after=1)
        ...  # the first request gets 503, the next one the feed
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Headers a recording may carry that describe the original transfer, not the content.
_HOP_BY_HOP = {"connection", "content-length", "content-encoding", "transfer-encoding"}
_GARBAGE = b"<?xml version='1.0' encoding='UTF-8'?>\n<feed><entry><title>cut off"


@dataclass(slots=True)
class Response:
    """What the server answers. ``etag`` / ``last_modified`` turn on conditional GET: a
    request with a matching ``If-None-Match`` / ``If-Modified-Since`` gets 304."""

    status: int = 200
    body: str | bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None

    @property
    def content(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded exchange: ``{"url", "status_code", "body", "headers"?}`` as JSON."""

    url: str
    response: Response

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))


def load_recording(path: Path) -> Recording:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    body: str = data["body"]
    recorded: dict[str, str] = dict(data.get("headers") or {})
    content_type = next(
        (v for k, v in recorded.items() if k.lower() == "content-type"), _guess_type(body)
    )
    headers = {
        k: v
        for k, v in recorded.items()
        if k.lower() not in _HOP_BY_HOP and k.lower() != "content-type"
    }
    response = Response(
        status=int(data["status_code"]), body=body, content_type=content_type, headers=headers
    )
    return Recording(url=data["url"], response=response)


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the server saw it. Header names are lower-cased; ``query`` keeps the last
    value of a repeated parameter (``raw_query`` has them all); ``at`` is ``time.monotonic()``
    on arrival."""

    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]
    body: bytes
    at: float


Answer = Response | Callable[[Request], Response]
Matcher = Callable[[Request], bool]


@dataclass(frozen=True, slots=True)
class _Fault:
    kind: str  # "status" | "drop" | "malformed" | "stall"
    status: int = 503
    retry_after: str | None = None
    body: bytes = b""
    seconds: float = 0.0


class ReplayServer:
    """Answers by route; one-shot faults, queued, override the next requests in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, frozenset[tuple[str, str]] | None], Answer] = {}
        self._matchers: list[tuple[Matcher, Answer]] = []
        self._faults: deque[_Fault] = deque()
        self._log: list[Request] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> ReplayServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.replay = self  # type: ignore[attr-defined]
        self._httpd = httpd
        # A short poll interval: shutdown() waits up to one interval, once per test.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="replay-server"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, no trailing slash."""
        if self._httpd is None:
            raise RuntimeError("the replay server is not running; call start()")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url_for(self, path: str) -> str:
        return self.url + path

    # --- answers ---------------------------------------------------------------------------

    def add(self, path: str, answer: Answer, query: Mapping[str, str] | None = None) -> None:
        """Answer requests for ``path`` whose query is exactly ``query`` (None: any query).
        ``answer`` is a ``Response`` or a function of the ``Request`` returning one."""
        key = (path, None if query is None else frozenset(query.items()))
        with self._lock:
            self._routes[key] = answer

    def add_recording(self, recording: Recording) -> None:
        """Answer the recorded URL's path and exact query with the recorded response."""
        self.add(recording.path, recording.response, recording.query)

    def add_matcher(self, matcher: Matcher, answer: Answer) -> None:
        """Answer requests ``matcher`` accepts; tried after exact routes, in the order added."""
        with self._lock:
            self._matchers.append((matcher, answer))

    # --- faults (one-shot, in the order queued) --------------------------------------------

    def fail_next(
        self,
        status: int = 503,
        retry_after: float | str | None = None,
        body: str = "",
        times: int = 1,
    ) -> None:
        """The next ``times`` requests get ``status`` (with ``Retry-After`` if given: seconds
        or an HTTP date) instead of their answer."""
        header = None if retry_after is None else _retry_after_text(retry_after)
        self._queue(_Fault("status", status=status, retry_after=header, body=body.encode()), times)

    def drop_next(self, times: int = 1) -> None:
        """Send the headers and half the body, then close the connection."""
        self._queue(_Fault("drop"), times)

    def malformed_next(self, times: int = 1) -> None:
        """A complete, well-framed HTTP answer whose body is cut in half (broken XML/JSON)."""
        self._queue(_Fault("malformed"), times)

    def stall_next(self, seconds: float, times: int = 1) -> None:
        """Wait ``seconds`` before answering (to make a client time out)."""
        self._queue(_Fault("stall", seconds=seconds), times)

    def _queue(self, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    # --- the log ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # --- used by the handler ---------------------------------------------------------------

    def _take(self, request: Request) -> tuple[_Fault | None, Response | None]:
        with self._lock:
            self._log.append(request)
            fault = self._faults.popleft() if self._faults else None
            answer = self._routes.get((request.path, frozenset(_pairs(request.raw_query))))
            if answer is None:
                answer = next((a for m, a in self._matchers if m(request)), None)
            if answer is None:
                answer = self._routes.get((request.path, None))
        if answer is None:
            return fault, None
        return fault, answer(request) if callable(answer) else answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real servers: httpx reuses connections
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; the request log is on the ReplayServer

    def _serve(self, head: bool = False) -> None:
        replay: ReplayServer = self.server.replay  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(_pairs(parts.query)),
            raw_query=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            at=time.monotonic(),
        )
        fault, response = replay._take(request)
        try:
            self._answer(request, fault, response, head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. after a stall)

    def _answer(
        self, request: Request, fault: _Fault | None, response: Response | None, head: bool
    ) -> None:
        if fault is not None and fault.kind == "stall":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send(fault.status, fault.body, "text/plain; charset=utf-8", headers, head)
            return
        if response is None:
            body = f"replay server: no answer for {request.method} {self.path}\n".encode()
            if fault is not None and fault.kind == "malformed":
                self._send(200, _GARBAGE, "application/xml", {}, head)
            else:
                self._send(404, body, "text/plain; charset=utf-8", {}, head)
            return
        headers = dict(response.headers)
        if response.etag:
            headers["ETag"] = response.etag
        if response.last_modified:
            headers["Last-Modified"] = response.last_modified
        if _not_modified(request, response):
            self._send(304, b"", None, headers, head=True)
            return
        body = response.content
        if fault is not None and fault.kind == "drop":
            self._drop(response, body, headers)
            return
        if fault is not None and fault.kind == "malformed":
            body = body[: len(body) // 2] or _GARBAGE
        self._send(response.status, body, response.content_type, headers, head)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str],
        head: bool,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and status != 304:
            self.wfile.write(body)

    def _drop(self, response: Response, body: bytes, headers: Mapping[str, str]) -> None:
        self.close_connection = True
        if not body:  # nothing to cut short: hang up before answering at all
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()


def _pairs(query: str) -> list[tuple[str, str]]:
    return parse_qsl(query, keep_blank_values=True)


def _not_modified(request: Request, response: Response) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if response.etag and if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return "*" in tags or response.etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    # Exact comparison: clients echo the Last-Modified they were given, as paperfeed does.
    return bool(response.last_modified and if_modified_since == response.last_modified)


def _retry_after_text(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


def _guess_type(body: str) -> str:
    text = body.lstrip()
    if text.startswith("<"):
        return "application/xml; charset=utf-8"
    if text.startswith(("{", "[")):
        return "application/json"
    return "text/plain; charset=utf-8"
