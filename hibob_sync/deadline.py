"""A deadline on a request's whole duration, where a read timeout only bounds each socket read.

A server trickling one byte a second never trips a read timeout, yet holds the request for
ever. So each request runs under a ``deadline``: the connections it uses register with it,
and one watchdog thread shuts their sockets down when it passes. The blocked read then
returns at once and the request fails; ``Deadline.expired`` tells that failure apart from
a dropped connection. The sessions of hibob_sync.http mount ``WatchedAdapter`` so every
connection they open registers itself.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import requests
import requests.adapters
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.poolmanager import ProxyManager

_current = threading.local()


class DeadlinePassed(requests.Timeout):
    """A request that did not end within its whole-duration limit (transient, like a timeout)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the request timed out: it did not end within {seconds:g}s (sync.timeout)"
        )
        self.seconds = seconds


class Deadline:
    """One request's time limit, and the connections that must stop when it passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()

    def attach(self, connection: HTTPConnection) -> None:
        """A connection this request uses; cut at once if the deadline has already passed."""
        with self._lock:
            if connection not in self._connections:
                self._connections.append(connection)
            if self.expired:
                _cut(connection)

    def expire(self) -> None:
        """Called by the watchdog: stop every connection of a request still running."""
        with self._lock:
            if self.finished:
                return
            self.expired = True
            for connection in self._connections:
                _cut(connection)

    def finish(self) -> None:
        with self._lock:
            self.finished = True
            self._connections.clear()


def _cut(connection: HTTPConnection) -> None:
    """Shut the socket down under the reader, which then sees the end of the stream.

    The plain socket's shutdown, also under TLS: SSLSocket.shutdown would change the TLS
    state that the reading thread is using.
    """
    sock: Any = getattr(connection, "sock", None)
    if sock is not None and not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)  # TLS inside TLS (an https proxy)
    if isinstance(sock, socket.socket):
        with suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that expires deadlines in time order (not named like the pools'
    workers: interrupts.stragglers must not count it as a request in flight).

    A finished request's entry stays in the heap until it comes up or the heap is half such
    entries; the thread is woken only when a new deadline is the earliest.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._finished = 0  # entries in the heap whose request has ended
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        with self._condition:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="request-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is deadline:
                self._condition.notify()

    def forget(self, deadline: Deadline) -> None:
        """A request ended: its entry is dropped lazily."""
        with self._condition:  # finished and counted at once, for the count to stay exact
            deadline.finish()
            self._finished += 1
            if self._finished > 64 and 2 * self._finished > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].finished]
                heapq.heapify(self._heap)
                self._finished = 0

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].finished or self._heap[0][0] <= now):
                    _, _, deadline = heapq.heappop(self._heap)
                    if deadline.finished:
                        self._finished -= 1
                    else:
                        deadline.expire()
                self._condition.wait(self._heap[0][0] - now if self._heap else None)


_WATCHDOG = _Watchdog()


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Run a request (sending it and reading its answer) within ``seconds``, in this thread."""
    current = Deadline(seconds)
    previous = getattr(_current, "deadline", None)
    _current.deadline = current
    _WATCHDOG.watch(current)
    try:
        yield current
    finally:
        _current.deadline = previous
        _WATCHDOG.forget(current)


def _attach(connection: HTTPConnection) -> None:
    current: Deadline | None = getattr(_current, "deadline", None)
    if current is not None:
        current.attach(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)  # a kept-alive connection connects no more
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections register with the running request's deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # not SOCKS, which has connections of its own
            manager.pool_classes_by_scheme = _POOLS
        return manager
