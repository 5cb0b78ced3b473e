"""A local HiBob look-alike on loopback: real HTTP, HiBob's shapes.

It answers ``POST /v1/people/search`` and ``GET /v1/company/people/fields`` the way HiBob
documents them (Basic auth by service user, silent omission of unreadable or unknown fields,
active-only unless asked and permitted, a per-user rate limit). Outages and request records
are a test harness's business: it subclasses ``HibobSandbox`` and uses the two hooks.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from hibob_sync.sandbox.access import (
    PeopleScope,
    RateLimiter,
    ServiceUser,
    authenticate,
    make_user,
)
from hibob_sync.sandbox.admin import ADMIN_PATH, authorised
from hibob_sync.sandbox.admin import handle as admin_request
from hibob_sync.sandbox.catalogue import ALL_CATEGORIES, catalogue_json
from hibob_sync.sandbox.company import Company, generate_company
from hibob_sync.sandbox.search import (
    AnswerOptions,
    BadRequest,
    BirthDates,
    Shape,
    SubPaths,
    parse_search,
    render,
)

log = logging.getLogger(__name__)

SEARCH_PATH = "/v1/people/search"
FIELDS_PATH = "/v1/company/people/fields"
ENDPOINTS = {("POST", SEARCH_PATH): "search", ("GET", FIELDS_PATH): "fields"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], sandbox: HibobSandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, a kept-alive client's
        # delayed ACK stalls every answer after the first by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.sandbox._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.sandbox._handle(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox: " + format, *args)


class HibobSandbox:
    """The sandbox server; start/stop it or use it as a context manager. Thread-safe."""

    def __init__(
        self,
        company: Company | None = None,
        *,
        employees: int = 50,
        seed: int = 0,
        user_id: str | None = None,
        token: str | None = None,
        answer_shape: Shape = "hybrid",
        subpaths: SubPaths = "value",
        root_at_top: bool = True,
        display_date_format: str = "%d/%m/%Y",
        birth_dates: BirthDates = "full",
        rate_limit: int = 50,
        rate_window: float = 60.0,
        retry_after_header: bool = False,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_token: str | None = None,
    ) -> None:
        self.company = company if company is not None else generate_company(employees, seed)
        self.answer_shape: Shape = answer_shape
        self.subpaths: SubPaths = subpaths
        self.root_at_top = root_at_top
        self.display_date_format = display_date_format
        self.birth_dates: BirthDates = birth_dates
        self.retry_after_header = retry_after_header
        self.limiter = RateLimiter(rate_limit, rate_window, clock)
        self.user_id = user_id
        self.token = token
        self.admin_token = admin_token  # set: roster changes on ADMIN_PATH (sandbox/admin.py)
        self._host, self._port = host, port
        self._users: dict[str, ServiceUser] = {}
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()
        if user_id is not None and token is not None:
            self.add_service_user(user_id, token)

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> HibobSandbox:
        """Bind (port 0 = any free port) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self.stopping.clear()
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> HibobSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL a client is configured with, like ``https://api.hibob.com/v1``."""
        return f"http://{self._host}:{self.port}/v1"

    # -- service users and limits ----------------------------------------------------------
    def add_service_user(
        self,
        user_id: str,
        token: str,
        categories: Iterable[str] | None = ALL_CATEGORIES,
        people_scope: PeopleScope = "all",
    ) -> None:
        """Register a service user; ``categories`` None = in no permission group (403)."""
        user = make_user(user_id, token, categories, people_scope)
        with self._lock:
            self._users[user_id] = user

    def remove_service_user(self, user_id: str) -> None:
        with self._lock:
            self._users.pop(user_id, None)

    @property
    def rate_limit(self) -> int:
        return self.limiter.limit

    @rate_limit.setter
    def rate_limit(self, value: int) -> None:
        self.limiter.limit = value

    # -- request handling ------------------------------------------------------------------
    def _handle(self, handler: Handler, method: str) -> None:
        path = urlsplit(handler.path).path
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        if self.admin_token is not None and path == ADMIN_PATH:
            if authorised(handler.headers.get("Authorization"), self.admin_token):
                send(handler, *admin_request(self.company, method, raw))
            else:
                send(handler, *error(401, "unauthorized", "Invalid sandbox admin token"))
            return
        endpoint = ENDPOINTS.get((method, path), "other")
        if self.intercept(handler, endpoint, path, raw):
            return
        status, body, headers = self._answer(handler, method, path, endpoint, raw)
        self.send_answer(handler, status, body, headers)

    # -- hooks for a test harness (tests/hibob_scripted.py scripts outages through them) -------
    def intercept(self, handler: Handler, endpoint: str, path: str, raw: bytes) -> bool:
        """Called before each answer; True means the request was answered (or dropped)."""
        return False

    def send_answer(
        self, handler: Handler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        """Write the answer HiBob would give."""
        send(handler, status, body, headers)

    def _answer(
        self, handler: Handler, method: str, path: str, endpoint: str, raw: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            users = dict(self._users)
        user = authenticate(handler.headers.get("Authorization"), users)
        if user is None:
            return error(401, "unauthorized", "Invalid service user ID or token")
        if endpoint == "fields":
            return 200, json.dumps(catalogue_json(self.root_at_top)).encode("utf-8"), {}
        if endpoint == "other":
            if path in (SEARCH_PATH, FIELDS_PATH):
                return error(405, "methodNotAllowed", f"{method} is not allowed on {path}")
            return error(404, "notFound", f"No such resource: {path}")
        decision = self.limiter.check(user.user_id)
        headers = decision.headers()
        if not decision.allowed:
            if self.retry_after_header:
                headers["Retry-After"] = str(decision.retry_after)
            status, body, _ = error(429, "tooManyRequests", "Rate limit exceeded")
            return status, body, headers
        if user.categories is None:
            status, body, _ = error(
                403, "forbidden", "The service user has no permission to view people"
            )
            return status, body, headers
        try:
            request = parse_search(raw)
        except BadRequest as exc:
            status, body, _ = error(400, exc.key, exc.error)
            return status, body, headers
        options = AnswerOptions(
            self.answer_shape,
            self.subpaths,
            self.root_at_top,
            self.display_date_format,
            self.birth_dates,
        )
        employed_only = user.people_scope == "employed"
        see_inactive = request.show_inactive and not employed_only
        company = self.company
        snapshot = company.snapshot()
        key = (
            company.uid,
            snapshot.version,
            request,
            user.categories,
            see_inactive,
            employed_only,
            options,
        )
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is None:
            cached = render(
                snapshot, request, user.categories, see_inactive, options, employed_only
            )
            with self._lock:
                self._cache[key] = cached
                while len(self._cache) > 8:
                    self._cache.popitem(last=False)
        return 200, cached, headers


def error(status: int, key: str, text: str) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps({"key": key, "error": text}).encode("utf-8"), {}


def send(
    handler: Handler,
    status: int,
    body: bytes,
    headers: dict[str, str],
    *,
    promised: int | None = None,
) -> None:
    """Write one answer (a client that went away is not an error).

    ``promised`` announces a longer body than is sent: tests use it to hang up mid-answer.
    """
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(body) if promised is None else promised))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True  # the client went away (e.g. its read timed out)
