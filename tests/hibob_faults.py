"""The HiBob sandbox with scripted outages and request records: test-only machinery.

``ScriptedSandbox`` is ``HibobSandbox`` plus ``fail_next``, ``drop_next_connection``,
``delay_next``, ``truncate_next``, ``answer_next`` and ``rewrite_next`` (each consumed by the
next request it applies to, optionally only on one path), request counters by endpoint and
every search body received. It uses the sandbox's two hooks, so the sandbox itself (and the
demo) stays a HiBob.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from hibob_sync.sandbox import HibobSandbox
from hibob_sync.sandbox.server import Handler, error, send

FaultKind = Literal["status", "drop_before", "drop_mid", "truncate", "delay", "raw", "rewrite"]
_STATUS_KEYS = {429: "tooManyRequests", 500: "internalError", 502: "badGateway"}


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour for one request."""

    kind: FaultKind
    status: int = 503
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    path: str | None = None  # only requests to this path (e.g. "/v1/people/search") consume it
    action: Callable[[bytes], bytes] | None = None  # "rewrite": the real answer's new bytes


class FaultQueue:
    """First-in first-out faults; each is consumed by the next request it applies to."""

    def __init__(self) -> None:
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()

    def add(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def take(self, path: str) -> list[Fault]:
        """The faults for this request: at most one delay, then at most one failure."""
        taken: list[Fault] = []
        kinds: set[bool] = set()
        with self._lock:
            for fault in list(self._faults):
                is_delay = fault.kind == "delay"
                if (fault.path is not None and fault.path != path) or is_delay in kinds:
                    continue
                self._faults.remove(fault)
                taken.append(fault)
                kinds.add(is_delay)
                if len(kinds) == 2:
                    break
        taken.sort(key=lambda f: f.kind != "delay")
        return taken

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


class ScriptedSandbox(HibobSandbox):
    """HibobSandbox whose next answers tests can script, and which records what it received."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._faults = FaultQueue()
        self._records = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._bodies: list[Any] = []
        self._shaping = threading.local()

    # -- scripting -------------------------------------------------------------------------
    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with ``status`` and a HiBob-style error body."""
        self._faults.add(Fault("status", status=status, headers=dict(headers or {}), path=path), n)

    def drop_next_connection(self, *, mid_answer: bool = False, path: str | None = None) -> None:
        """Close the connection before answering, or after half of the promised body."""
        self._faults.add(Fault("drop_mid" if mid_answer else "drop_before", path=path))

    def delay_next(self, seconds: float, *, path: str | None = None) -> None:
        """Wait before answering the next request (stop() cuts the wait short)."""
        self._faults.add(Fault("delay", seconds=seconds, path=path))

    def truncate_next(self, *, path: str | None = None) -> None:
        """Send half of the next JSON answer with a matching Content-Length (valid HTTP)."""
        self._faults.add(Fault("truncate", path=path))

    def answer_next(
        self,
        status: int,
        body: bytes | str | Any,
        *,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next request with exactly this (e.g. a 200 of the wrong shape)."""
        if isinstance(body, str):
            raw = body.encode("utf-8")
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = json.dumps(body).encode("utf-8")
        self._faults.add(
            Fault("raw", status=status, body=raw, headers=dict(headers or {}), path=path)
        )

    def rewrite_next(self, action: Callable[[bytes], bytes], *, path: str | None = None) -> None:
        """Pass the next real answer's bytes through ``action`` (e.g. plant a bad byte)."""
        self._faults.add(Fault("rewrite", action=action, path=path))

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- records ---------------------------------------------------------------------------
    def request_count(self, endpoint: str | None = None) -> int:
        """Requests received: ``"search"``, ``"fields"``, ``"other"``, or all when None."""
        with self._records:
            return self._counts[endpoint] if endpoint else sum(self._counts.values())

    @property
    def requests_by_endpoint(self) -> dict[str, int]:
        with self._records:
            return dict(self._counts)

    @property
    def search_bodies(self) -> list[Any]:
        """Every search body received, decoded (the raw text when it was not JSON)."""
        with self._records:
            return copy.deepcopy(self._bodies)

    def reset_records(self) -> None:
        with self._records:
            self._counts.clear()
            self._bodies.clear()

    # -- the sandbox's hooks ---------------------------------------------------------------
    def intercept(self, handler: Handler, endpoint: str, path: str, raw: bytes) -> bool:
        with self._records:
            self._counts[endpoint] += 1
            if endpoint == "search":
                try:
                    self._bodies.append(json.loads(raw))
                except ValueError:
                    self._bodies.append(raw.decode("utf-8", "replace"))
        self._shaping.fault = None
        for fault in self._faults.take(path):
            if fault.kind == "delay":
                if self.stopping.wait(fault.seconds):
                    return True
            elif fault.kind == "status":
                key = _STATUS_KEYS.get(fault.status, "serviceUnavailable")
                text = "Service temporarily unavailable, please retry later"
                send(handler, fault.status, error(fault.status, key, text)[1], fault.headers)
                return True
            elif fault.kind == "raw":
                send(handler, fault.status, fault.body, fault.headers)
                return True
            elif fault.kind == "drop_before":
                handler.close_connection = True
                return True
            else:
                self._shaping.fault = fault
        return False

    def send_answer(
        self, handler: Handler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        fault: Fault | None = getattr(self._shaping, "fault", None)
        if fault is None:
            send(handler, status, body, headers)
        elif fault.kind == "truncate":
            send(handler, status, body[: len(body) // 2], headers)
        elif fault.kind == "rewrite" and fault.action is not None:
            send(handler, status, fault.action(body), headers)
        else:  # drop_mid: promise the whole body, send half, hang up
            send(handler, status, body[: len(body) // 2], headers, promised=len(body))
            handler.close_connection = True
