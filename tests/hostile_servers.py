"""Small hostile HTTP servers on loopback (a pytest plugin), for what the clients do with them.

``hostile(respond, host="127.0.0.1")`` starts a threaded server on a random port whose every
request is recorded (``.requests``, and ``.connections`` counts connections even where no
request came) and answered by ``respond(handler)``; the fixture stops them all. Ready-made
answers: ``redirect``, ``trickle``, ``endless_chunked``, ``gzip_bomb`` and ``refuse`` (what a
recording proxy answers). ``run_child`` runs the CLI as its own process and reports its peak
memory, for answers whose danger is memory.
"""

from __future__ import annotations

import functools
import gzip
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Seen:
    """One request a hostile server received (``target``: the request line's path or URL)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def owner(self) -> HostileServer:
        owner: HostileServer = self.server.owner  # type: ignore[attr-defined]
        return owner

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.owner.record(Seen(self.command, self.path, dict(self.headers), body))
        try:
            self.owner.respond(self)
        except OSError:  # the client went away (as it should, from an endless answer)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_CONNECT = _serve

    def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.owner.count_connection()  # type: ignore[attr-defined]
        return True


class HostileServer:
    """A loopback server answering every request with ``respond`` (see module docstring)."""

    def __init__(self, respond: Callable[[Handler], None], host: str = "127.0.0.1") -> None:
        self.respond = respond
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._connections = 0
        self._server = _Server((host, 0), Handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self.host = host
        self.port: int = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def count_connection(self) -> None:
        with self._lock:
            self._connections += 1

    @property
    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


HostileFactory = Callable[..., HostileServer]


@pytest.fixture
def hostile() -> Iterator[HostileFactory]:
    servers: list[HostileServer] = []

    def make(respond: Callable[[Handler], None], host: str = "127.0.0.1") -> HostileServer:
        server = HostileServer(respond, host)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


# -- ready-made answers --------------------------------------------------------------------


def refuse(handler: Handler) -> None:
    """What a recording proxy answers: 502, so nothing goes further."""
    handler.answer(502, b"recorded", {"Content-Type": "text/plain"})


def redirect(status: int, location: str) -> Callable[[Handler], None]:
    def respond(handler: Handler) -> None:
        handler.answer(status, b"", {"Location": location})

    return respond


def trickle(where: str, every: float = 0.05) -> Callable[[Handler], None]:
    """One byte at a time, ``every`` seconds apart: of the status line and headers
    (``where="headers"``) or of a long JSON body; never slow enough for a read timeout."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"

    def respond(handler: Handler) -> None:
        handler.close_connection = True
        stream = (head if where == "headers" else b"") + b"[" + b" " * 99_998 + b"]"
        if where != "headers":
            handler.wfile.write(head)
        for byte in stream:
            if handler.owner.stopping.wait(every):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()

    return respond


def endless_chunked(handler: Handler) -> None:
    """A chunked answer that never ends (until the client hangs up or the test ends)."""
    handler.close_connection = True
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b" " * 65536
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    while not handler.owner.stopping.is_set():
        handler.wfile.write(framed)


@functools.cache
def gzip_bomb(size: int = 1 << 30) -> bytes:
    """About 1 MB of gzip that inflates to ``size`` bytes of JSON white space: one member for
    each MiB, one after another (a gzip stream may hold many)."""
    member = gzip.compress(b" " * (1 << 20), compresslevel=9)
    return member * (size >> 20)


# -- the CLI in a process of its own -----------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    exit_code: int
    stdout: str
    stderr: str
    peak_mb: float  # the process's peak resident memory


def run_child(config: Path, *args: str, timeout: float = 120.0) -> ChildRun:
    """``hibob-sync --config CONFIG ARGS`` as cron starts it (credentials from the environment)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hibob_sync", "--config", str(config), *args],
            env=dict(os.environ),
            stdout=out,
            stderr=err,
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            usage.ru_maxrss / 1024,  # KiB on Linux
        )
