"""When a failed attempt is tried again, and for how long: the run's wait budget for 429s, a
bounded number of attempts for everything else (tenacity's wait and stop for http.send).

A 429 is not an outage: the server is up and says when to come back. A request waits as long
as the server asks, however many times it asks, while the run's one wait budget
(``sync.max_wait``) lasts; the budget is shared by every request of the run (listing, lookups
and all writers) and counted as wall time during which some request waited: 32 writers waiting
out the same 10 s window spend 10 s of it, not 320. A 5xx or a dropped connection is what an
outage looks like, and keeps ``max_attempts`` within ``max_total_wait``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import tenacity

POLL_429 = 1.0  # the longest wait between tries when a 429 says nothing of when to come back


class TransientHTTPError(Exception):
    """An answer worth retrying; carries the server's requested wait, if any."""

    def __init__(self, status: int | None, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class WaitBudget:
    """All the waiting one run may do for rate limits (thread-safe; see module docstring)."""

    def __init__(
        self,
        total: float,
        clock: Callable[[], float] = time.monotonic,
        name: str = "sync.max_wait",  # where the total comes from, for the error
    ) -> None:
        self.total = max(0.0, total)
        self.name = name
        self.spent = 0.0
        self.refused = 0  # requests that gave up: the budget could not cover their wait
        self._clock = clock
        self._until = -float("inf")  # the end of the latest wait taken
        self._holds: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, seconds: float) -> bool:
        """Spend what a wait of `seconds` from now adds to the waiting already under way;
        False (nothing spent) when that is more than is left."""
        with self._lock:
            now = self._clock()
            extra = max(0.0, now + seconds - max(now, self._until))
            if self.spent + extra > self.total + 1e-9:
                return False
            self.spent += extra
            self._until = max(self._until, now + seconds)
            return True

    def give_up(self) -> None:
        """A request gave up because its wait did not fit."""
        with self._lock:
            self.refused += 1

    def hold(self, key: str, seconds: float) -> None:
        """The server `key` has no request left until `seconds` from now (Remaining: 0)."""
        with self._lock:
            until = self._clock() + seconds
            self._holds[key] = max(self._holds.get(key, until), until)

    def held(self, key: str) -> float:
        """How long a request to `key` should wait before going (0: go now)."""
        with self._lock:
            until = self._holds.get(key)
            if until is None:
                return 0.0
            left = until - self._clock()
            if left <= 0:
                del self._holds[key]
                return 0.0
            return left

    def report(self) -> dict[str, float]:
        """For the run summary: the budget, what was waited, and the requests that gave up."""
        with self._lock:
            return {
                "max_wait": round(self.total, 1),
                "waited": round(self.spent, 1),
                "gave_up": self.refused,
            }


@dataclass(frozen=True)
class Bounds:
    """The bounds of one request's retries (from HttpSettings)."""

    max_attempts: int
    max_total_wait: float
    max_retry_after: float
    backoff_initial: float
    backoff_max: float


def rate_limited(exc: BaseException | None) -> bool:
    """A 429: the server is up and asks to slow down."""
    return isinstance(exc, TransientHTTPError) and exc.status == 429


class Wait(tenacity.wait.wait_base):
    """A 429 waits what the server asked (else polls about every second, to see the window
    reopen); other failures honour a requested wait up to max_retry_after, or back off
    exponentially with full jitter."""

    def __init__(self, bounds: Bounds, rng: random.Random | None = None) -> None:
        self._bounds = bounds
        self._rng = rng or random.Random()
        self._jitter = tenacity.wait_random_exponential(
            multiplier=bounds.backoff_initial, max=bounds.backoff_max
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        asked = exc.retry_after if isinstance(exc, TransientHTTPError) else None
        if rate_limited(exc):
            if asked is not None:
                return asked
            return min(POLL_429, self._bounds.backoff_max) * self._rng.uniform(0.5, 1.0)
        if asked is not None:
            return min(asked, self._bounds.max_retry_after)
        return float(self._jitter(retry_state))


class Stop(tenacity.stop.stop_base):
    """A 429 stops only when the run's budget cannot cover the wait it asks; any other
    failure after max_attempts of its own kind, or once their waits reach max_total_wait.

    One per request (it counts that request's attempts). It runs after Wait, so the wait
    about to be slept is known, and taken from the budget here.
    """

    def __init__(self, bounds: Bounds, budget: WaitBudget) -> None:
        self._bounds = bounds
        self._budget = budget
        self.failures = 0  # attempts that failed other than by a 429
        self.waited = 0.0  # seconds slept after them
        self.out_of_budget = False

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        upcoming = retry_state.upcoming_sleep
        if rate_limited(exc):
            if self._budget.take(upcoming):
                return False
            self.out_of_budget = True
            self._budget.give_up()
            return True
        self.failures += 1
        if self.failures >= self._bounds.max_attempts or self.waited >= self._bounds.max_total_wait:
            return True
        self.waited += upcoming
        return False
