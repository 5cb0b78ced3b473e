"""Queued faults the sandbox injects into its next answers, so tests can script outages."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["status", "drop_before", "drop_mid", "truncate", "delay", "raw"]


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour for one request."""

    kind: FaultKind
    status: int = 503
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    path: str | None = None  # only requests to this path (e.g. "/v1/people/search") consume it


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
