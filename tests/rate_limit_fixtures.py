"""A fixed-window rate limiter to put in front of the test SCIM server (``ScimServer.gate``).

As common limiters in web frameworks do: `quota` requests are let through from the first
request of a window, which then lasts `seconds`; the rest are answered 429 in plain text until
it ends, with the wait (rounded up to whole seconds) in the header `announce` names, or none.
Real time: the client under test really waits, so keep windows short.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class FixedWindow:
    quota: int
    seconds: float
    announce: str | None = "X-Retry-After"  # or "RateLimit-Reset", "Retry-After", None
    admitted: int = 0
    refused: int = 0
    _start: float = -math.inf
    _used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> tuple[int, dict[str, str], bytes] | None:
        with self._lock:
            now = time.monotonic()
            if now >= self._start + self.seconds:
                self._start, self._used = now, 0
            if self._used < self.quota:
                self._used += 1
                self.admitted += 1
                return None
            self.refused += 1
            headers = {"Content-Type": "text/plain; charset=utf-8"}
            if self.announce is not None:
                wait = max(1, math.ceil(self._start + self.seconds - now))
                headers[self.announce] = str(wait)
            return 429, headers, b"Too Many Requests: slow down\n"
