"""A small reverse proxy on loopback that makes network cost visible and countable.

Put in front of the HiBob sandbox or scim2-server, it sleeps a fixed latency before each
request (loopback has none, so without it a sync that sends 10,000 requests looks as cheap
as one that sends 10), counts requests by kind, times each upstream call (so the target
server's own share of a run is known), can keep the list pages a run read (the benchmark
re-plans on exactly that data), can cap writes per second the way a SaaS API does
(429 + Retry-After past the cap) or every SCIM request per fixed window the way web framework
rate limiters do (a burst, then 429 until the window ends), and can answer user writes or list
pages itself (a "stub" target, to see what a client does when the server costs nothing:
scim2-server sorts every user for every page, which makes its CPU, not the client, set the
time of a quiet night).
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

HIBOB = "hibob"
SCIM_LIST = "scim_list"
SCIM_WRITE = "scim_write"
SCIM_OTHER = "scim_other"

# Headers that describe one hop, not the message; the proxy sets its own.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "date", "server"}
)

Classifier = Callable[[str, str, str], str]  # (method, path, query) -> kind


def hibob_kind(method: str, path: str, query: str) -> str:
    """Every HiBob call counts alike: the sync makes a catalogue call and one search."""
    return HIBOB


def scim_kind(method: str, path: str, query: str) -> str:
    """A SCIM request's kind: a list page, a write, or anything else (discovery, filters)."""
    path = path.rstrip("/")
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        return SCIM_WRITE  # POST /Users, PUT/PATCH /Users/{id}, POST /Bulk
    if method == "GET" and path.endswith("/Users") and "filter=" not in query:
        return SCIM_LIST
    return SCIM_OTHER


class WriteCap:
    """At most `per_second` writes in each fixed one-second window, like many SaaS APIs."""

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._window = -1
        self._used = 0
        self._lock = threading.Lock()

    def admit(self) -> float | None:
        """None when the write may go; else the seconds until the next window opens."""
        with self._lock:
            now = self._clock()
            window = math.floor(now)
            if window != self._window:
                self._window, self._used = window, 0
            if self._used < self.per_second:
                self._used += 1
                return None
            return window + 1 - now


class FixedWindowCap:
    """At most `quota` SCIM requests (reads too) per window of `seconds`, the window counted
    from its first request, as common web framework rate limiters do; the rest get 429 in
    plain text, the wait (whole seconds) in the header `announce` (None: no word of it)."""

    def __init__(
        self,
        quota: int,
        seconds: float,
        announce: str | None = "X-Retry-After",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quota = quota
        self.seconds = seconds
        self.announce = announce
        self._clock = clock
        self._start = -math.inf
        self._used = 0
        self._lock = threading.Lock()

    def admit(self) -> float | None:
        """None when the request may go; else the seconds until the window ends."""
        with self._lock:
            now = self._clock()
            if now >= self._start + self.seconds:
                self._start, self._used = now, 0
            if self._used < self.quota:
                self._used += 1
                return None
            return self._start + self.seconds - now


@dataclass
class ProxyStats:
    """What went through the proxy since the last reset."""

    counts: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    throttled: int = 0  # 429 answers the proxy gave itself (write cap)
    upstream: list[tuple[float, float]] = field(default_factory=list)  # (start, end) per call
    writes: list[tuple[float, float]] = field(default_factory=list)  # admitted writes
    pages: list[bytes] = field(default_factory=list)  # list answers kept when capturing


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Time during which at least one interval was open (the union of the intervals)."""
    total = 0.0
    end = -math.inf
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


class LatencyProxy:
    """A threaded reverse proxy to http://127.0.0.1:`upstream_port` (see module docstring)."""

    def __init__(
        self,
        upstream_port: int,
        *,
        classify: Classifier,
        latency: float = 0.0,
        write_cap: int | None = None,
        window_cap: FixedWindowCap | None = None,
        capture_lists: bool = False,
        stub_writes: bool = False,
    ) -> None:
        self.upstream_port = upstream_port
        self.classify = classify
        self.latency = latency
        self.cap = WriteCap(write_cap) if write_cap else None
        self.window_cap = window_cap
        self.capture_lists = capture_lists
        self.stub_writes = stub_writes
        self.stub_users: list[Any] | None = None  # list pages answered from these
        self.stub_max_results = 0
        self._stats = ProxyStats()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return int(self._server.server_address[1])

    def url(self, base_path: str) -> str:
        """The proxied form of an upstream base path, e.g. "/v2" -> http://127.0.0.1:P/v2."""
        return f"http://127.0.0.1:{self.port}{base_path}"

    def start(self) -> LatencyProxy:
        self._server = _Server(("127.0.0.1", 0), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def answer_lists_from(self, pages: list[bytes], max_results: int) -> None:
        """From now on answer list pages itself, from the users of these pages (kept in order,
        each once), at most `max_results` a page, as the server announced."""
        users: dict[str, Any] = {}
        for page in pages:
            for resource in json.loads(page).get("Resources") or []:
                users.setdefault(resource["id"], resource)
        self.stub_users = list(users.values())
        self.stub_max_results = max_results

    def take_stats(self) -> ProxyStats:
        """The stats so far, and a fresh start for the next run."""
        with self._lock:
            stats, self._stats = self._stats, ProxyStats()
        return stats

    # -- used by the handler threads --------------------------------------------------------

    def _count(self, kind: str) -> None:
        with self._lock:
            self._stats.counts[kind] += 1

    def _throttled(self) -> None:
        with self._lock:
            self._stats.throttled += 1
            self._stats.statuses[429] += 1

    def _record(self, kind: str, status: int, started: float, ended: float, data: bytes) -> None:
        with self._lock:
            self._stats.statuses[status] += 1
            self._stats.upstream.append((started, ended))
            if kind == SCIM_WRITE:
                self._stats.writes.append((started, ended))
            if self.capture_lists and kind == SCIM_LIST and status == 200:
                self._stats.pages.append(data)

    def _forward(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        # A fresh connection per call: scim2-server's wsgiref server speaks HTTP/1.0 and
        # closes after each answer anyway, and a fresh one never replays a POST by mistake.
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=600)
        try:
            upstream.request(method, target, body or None, headers)
            answer = upstream.getresponse()
            return answer.status, answer.reason, answer.getheaders(), answer.read()
        finally:
            upstream.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], proxy: LatencyProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer, which no real server does.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        kind = proxy.classify(self.command, path, query)
        proxy._count(kind)
        if proxy.latency:
            time.sleep(proxy.latency)
        if proxy.cap is not None and kind == SCIM_WRITE:
            wait = proxy.cap.admit()
            if wait is not None:
                proxy._throttled()
                retry_after = str(max(1, math.ceil(wait)))
                data = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],'
                data += b'"status":"429","detail":"too many writes"}'
                self._reply(429, "Too Many Requests", [("Retry-After", retry_after)], data)
                return
        window = proxy.window_cap
        if window is not None and kind != HIBOB:
            wait = window.admit()
            if wait is not None:
                proxy._throttled()
                said = [(window.announce, str(max(1, math.ceil(wait))))] if window.announce else []
                plain = [("Content-Type", "text/plain; charset=utf-8")]
                self._reply(429, "Too Many Requests", plain + said, b"Too Many Requests\n")
                return
        if proxy.stub_writes and kind == SCIM_WRITE and self.command in ("POST", "PUT"):
            self._stub(path, body)
            return
        if proxy.stub_users is not None and kind == SCIM_LIST:
            self._stub_list(proxy.stub_users, proxy.stub_max_results, query)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        started = time.perf_counter()
        status, reason, answer_headers, data = proxy._forward(
            self.command, self.path, body, headers
        )
        proxy._record(kind, status, started, time.perf_counter(), data)
        kept = [(k, v) for k, v in answer_headers if k.lower() not in _HOP_BY_HOP]
        self._reply(status, reason, kept, data)

    def _stub(self, path: str, body: bytes) -> None:
        """Answer a user POST/PUT as a server would (the resource with an id), at no cost."""
        resource = json.loads(body) if body else {}
        resource["id"] = path.rstrip("/").rsplit("/", 1)[-1] if self.command == "PUT" else ""
        resource["id"] = resource["id"] or uuid.uuid4().hex
        resource["meta"] = {"resourceType": "User", "location": f"/v2/Users/{resource['id']}"}
        data = json.dumps(resource).encode()
        status = (201, "Created") if self.command == "POST" else (200, "OK")
        self._reply(*status, [("Content-Type", "application/scim+json")], data)

    def _stub_list(self, users: list[Any], max_results: int, query: str) -> None:
        """A list page as RFC 7644 3.4.2.4 pages (1-based startIndex, count capped)."""
        params = dict(parse_qsl(query))
        start = max(1, int(params.get("startIndex") or 1))
        count = min(max_results, max(0, int(params.get("count") or max_results)))
        resources = users[start - 1 : start - 1 + count]
        page = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(users),
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
        data = json.dumps(page).encode()
        self._reply(200, "OK", [("Content-Type", "application/scim+json")], data)

    def _reply(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes) -> None:
        try:
            self.send_response(status, reason)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client went away

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the benchmark prints its own progress."""
