"""Every common way a server says "wait", read from an answer's headers (pure: the clock is
passed in).

Servers announce a wait or a window in many fields: ``Retry-After`` (RFC 9110: seconds or an
HTTP date), ``X-Retry-After`` and ``Retry-After-Ms`` (frameworks and proxies),
``RateLimit-Reset`` / ``RateLimit-Remaining`` / ``RateLimit-Limit`` (the earlier IETF drafts),
``RateLimit: "name";r=0;t=8`` and ``RateLimit-Policy: "name";q=100;w=10``
(draft-ietf-httpapi-ratelimit-headers-11: structured-field lists whose items carry r, the
requests remaining, t, the seconds until the quota resets, q, the quota, and w, the window)
and ``X-RateLimit-Reset`` / ``X-RateLimit-Remaining`` (GitHub-style: the reset in epoch
seconds, or in seconds from now on other servers: told apart against the clock).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# A reset number at least this close to the clock is a moment (epoch seconds), not a delay:
# no server asks to wait ten years, and no epoch moment is ten years old.
_EPOCH_SLACK = 10 * 365 * 86400.0
_PARAM = re.compile(r";\s*([a-z][a-z0-9_-]*)\s*=\s*([^;,\s]+)", re.IGNORECASE)
_PAIR = re.compile(r"([a-z][a-z0-9_-]*)\s*=\s*([^;,\s]+)", re.IGNORECASE)


@dataclass(frozen=True)
class RateAdvice:
    """What one answer's headers say about the limit: all in seconds from now, or counts."""

    wait: float | None = None  # how long to wait before trying again (on a refusal)
    remaining: int | None = None  # requests left in the current window
    reset: float | None = None  # seconds until the current window resets
    quota: int | None = None  # requests a window allows
    window: float | None = None  # seconds a window lasts

    @property
    def exhausted_for(self) -> float | None:
        """No request is left in this window: the seconds until it resets (else None)."""
        if self.remaining is not None and self.remaining <= 0 and self.reset is not None:
            return self.reset
        return None


def read(headers: Mapping[str, str], now: float) -> RateAdvice:
    """The advice in `headers` (a case-insensitive mapping, as requests gives), at `now`."""
    draft = _draft_fields(headers.get("RateLimit"))
    policy = _draft_fields(headers.get("RateLimit-Policy"))
    reset = _first(
        _number(draft.get("t")),
        _number(draft.get("reset")),
        _delay(headers.get("RateLimit-Reset"), now),
        _reset(headers.get("X-RateLimit-Reset"), now),
    )
    remaining = _first(
        _number(draft.get("r")),
        _number(draft.get("remaining")),
        _number(headers.get("RateLimit-Remaining")),
        _number(headers.get("X-RateLimit-Remaining")),
    )
    quota = _first(
        _number(policy.get("q")),
        _number(draft.get("limit")),
        _number(headers.get("RateLimit-Limit")),
        _number(headers.get("X-RateLimit-Limit")),
    )
    window = _number(policy.get("w"))
    millis = _number(headers.get("Retry-After-Ms"))
    wait = _first(
        _delay(headers.get("Retry-After"), now),
        _delay(headers.get("X-Retry-After"), now),
        millis / 1000.0 if millis is not None else None,
        reset,
    )
    return RateAdvice(
        wait=wait,
        remaining=int(remaining) if remaining is not None else None,
        reset=reset,
        quota=int(quota) if quota is not None and quota > 0 else None,
        window=window if window is not None and window > 0 else None,
    )


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def _number(text: str | None) -> float | None:
    """A non-negative number, or None (absent, garbled, infinite)."""
    if text is None:
        return None
    try:
        value = float(text.strip().strip('"'))
    except ValueError:
        return None
    return max(0.0, value) if value == value and value != float("inf") else None


def _delay(text: str | None, now: float) -> float | None:
    """Seconds from now, or an HTTP date (Retry-After's two forms)."""
    if text is None:
        return None
    number = _number(text)
    if number is not None:
        return number
    try:
        return max(0.0, parsedate_to_datetime(text.strip()).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _reset(text: str | None, now: float) -> float | None:
    """X-RateLimit-Reset: epoch seconds (or milliseconds), or seconds from now."""
    number = _number(text)
    if number is None:
        return None
    if number > (now + _EPOCH_SLACK) * 100:  # epoch milliseconds
        number /= 1000.0
    if abs(number - now) <= _EPOCH_SLACK:
        return max(0.0, number - now)
    return number


def _draft_fields(text: str | None) -> dict[str, str]:
    """The parameters of a RateLimit / RateLimit-Policy field (of its most restrictive item).

    Two shapes: the structured list of draft -08 and later (``"default";r=0;t=8``), and the
    dictionary of drafts -07 and before (``limit=100, remaining=0, reset=8``).
    """
    if not text:
        return {}
    if ";" not in text:
        return {key.lower(): value for key, value in _PAIR.findall(text)}
    items = [{k.lower(): v for k, v in _PARAM.findall(item)} for item in text.split(",")]
    items = [item for item in items if item]
    # Several policies (per second and per hour, say): the one closest to running out rules.
    return min(items, key=_left, default={})


def _left(item: Mapping[str, str]) -> float:
    left = _number(item.get("r"))
    return float("inf") if left is None else left
