"""Service users, HTTP Basic checks and the per-user rate limit of the sandbox."""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from hibob_sync.sandbox.catalogue import ALL_CATEGORIES, resolve_category

PeopleScope = Literal["employed", "all"]


@dataclass(frozen=True)
class ServiceUser:
    """A HiBob service user; ``categories`` None means it is in no permission group."""

    user_id: str
    token: str = field(repr=False)
    categories: frozenset[str] | None
    people_scope: PeopleScope = "all"


def make_user(
    user_id: str,
    token: str,
    categories: Iterable[str] | None = ALL_CATEGORIES,
    people_scope: PeopleScope = "all",
) -> ServiceUser:
    """Build a user, accepting category IDs or display names."""
    if people_scope not in ("employed", "all"):
        raise ValueError("people_scope must be 'employed' or 'all'")
    granted = None if categories is None else frozenset(resolve_category(c) for c in categories)
    return ServiceUser(user_id, token, granted, people_scope)


def authenticate(header: str | None, users: dict[str, ServiceUser]) -> ServiceUser | None:
    """The service user named by a Basic ``Authorization`` header, if its token matches."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[len("Basic ") :].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user_id, sep, token = decoded.partition(":")
    user = users.get(user_id)
    if not sep or user is None:
        return None
    if not hmac.compare_digest(user.token.encode("utf-8"), token.encode("utf-8")):
        return None
    return user


@dataclass(frozen=True)
class RateDecision:
    """Whether a request may go on, and the headers HiBob's gateway reports."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """A fixed window per service user (HiBob: 50 searches a minute); the clock is injectable."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def check(self, user_id: str) -> RateDecision:
        """Count one request and decide."""
        with self._lock:
            now = self.clock()
            start, used = self._windows.get(user_id, (now, 0))
            if now >= start + self.window:
                start, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[user_id] = (start, used)
            reset = math.ceil(start + self.window)
            return RateDecision(
                allowed=allowed,
                limit=self.limit,
                remaining=max(0, self.limit - used),
                reset=reset,
                retry_after=max(1, math.ceil(start + self.window - now)),
            )

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
