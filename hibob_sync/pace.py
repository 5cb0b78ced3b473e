"""The pace learnt from 429s (pure logic: every method takes the current time).

A rate-limited API counts requests per time, not in flight, so a 429 teaches a pace, in one of
two shapes:

- **A rate** (a cap per second): the 429 asks for a short wait, or none. The requests of the
  refused kind sent in the second before the refused one that the server let through, x 0.95,
  counted by send time and only when the pause ends (the requests of the same burst sent just
  before the refused one are still on their way back when the 429 arrives). Refused while
  paced, the count is what the cap lets through at an even pace, so the pace never rises on a
  429 and falls by at most 20% (a count cut short by an earlier pause). It rises 2% after each
  10 s without a 429, to find a cap that was raised.
- **A fixed window** (a quota per window, as common rate limiters in web frameworks apply: a
  burst of N answered, then 429 until the window ends): the 429 asks for a long wait (2 s or
  more), or, saying nothing, the requests stay refused that long. What the server let through
  since the last reset (or since the first request), over the time from then to the new reset,
  is the window's rate; the pace is 0.95 x that, so N requests are spread over each window
  instead of sent in a burst and then refused for the rest of it. The first window is seen
  from wherever the run started in it; the next 429 measures a whole window and only lowers
  the pace. Where the 429 said nothing, the learnt window also tells the refused requests when
  the next one starts (`guess`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hibob_sync.limiter import LimiterSettings, Ticket

Kind = Literal["rate", "window"]
WINDOW_MIN_WAIT = 2.0  # a 429 that keeps requests out this long is a window, not a rate


@dataclass(frozen=True)
class Learnt:
    """The shape of a server's limit and the pace kept to it; remembered between runs."""

    kind: Kind
    pace: float  # requests per second, the margin applied
    quota: int = 0  # window: requests it let through
    seconds: float = 0.0  # window: over how long

    def describe(self) -> str:
        if self.kind == "window":
            return (
                f"a fixed window of about {self.quota} requests per {self.seconds:.1f}s, "
                f"spread at {self.pace:.1f} requests/s"
            )
        return f"a rate of about {self.pace / 0.95:.1f} requests/s, paced at {self.pace:.1f}/s"


@dataclass
class _Count:
    """Requests of one kind, sent in [since, until], that the server let through."""

    kind: str
    since: float
    until: float
    admitted: int
    short: bool  # a pause took part of [since, until]: fewer were sent than could have been

    def add(self, ticket: Ticket) -> None:
        if ticket.kind == self.kind and self.since <= ticket.sent <= self.until:
            self.admitted += 1


@dataclass
class _Window:
    """What the server let through since its window last reset, and the 429s that say when."""

    first_sent: float | None = None
    reset_at: float | None = None  # the latest reset known (announced, or seen)
    since_reset: int = 0  # answered requests sent since then
    refused_from: float | None = None  # a 429 that named no wait: since when refused
    refused_known: float = math.inf  # when that first 429 came back
    last_refused: float = -math.inf  # the send time of the latest such 429
    rate: float | None = None  # requests per second the window allows (no margin)
    seconds: float = 0.0
    quota: int = 0
    whole: bool = False  # `seconds` was measured from one reset to the next
    closed: tuple[float, float] | None = None  # the window that set `rate`: [start, reset)


@dataclass
class Pace:
    """The pace (requests/s; None: unpaced) and how it was learnt (see module docstring)."""

    settings: LimiterSettings
    kind: Kind | None = None
    count_rate: float | None = None  # from the count of one second (margin applied)
    since: float = 0.0  # when the pace last changed (probing waits a while after)
    resumed_at: float = -math.inf  # when the last pause ended
    next_send: float = -math.inf
    _admitted: deque[tuple[float, str]] = field(default_factory=deque)  # (sent, kind)
    _count: _Count | None = None
    _window: _Window = field(default_factory=_Window)

    @property
    def rate(self) -> float | None:
        """The pace in force: the lower of what the count and the window taught."""
        paced = [self.count_rate] if self.count_rate else []
        if self._window.rate:
            paced.append(self._window.rate * self.settings.pace_margin)
        return min(paced) if paced else None

    def start_from(self, learnt: Learnt, now: float) -> None:
        """Begin at the pace an earlier run learnt for this server."""
        self.kind = learnt.kind
        self.since = now
        if learnt.kind == "window":
            self._window.rate = learnt.pace / self.settings.pace_margin
            self._window.quota, self._window.seconds = learnt.quota, learnt.seconds
        else:
            self.count_rate = learnt.pace

    def learnt(self) -> Learnt | None:
        """What to remember for the next run."""
        rate = self.rate
        if self.kind is None or rate is None:
            return None
        w = self._window
        return (
            Learnt(self.kind, rate, w.quota, w.seconds)
            if self.kind == "window"
            else Learnt("rate", rate)
        )

    def delay(self, now: float) -> float:
        """0 when a request may go now (and it is counted as gone), else how long to wait."""
        rate = self.rate
        if rate is None:
            return 0.0
        if now < self.next_send:
            return self.next_send - now
        self.next_send = max(now, self.next_send) + 1.0 / rate
        return 0.0

    def sent(self, now: float) -> None:
        if self._window.first_sent is None:
            self._window.first_sent = now

    def answered(self, ticket: Ticket, now: float) -> str | None:
        """A request let through; returns a note when the pace changed."""
        window = self.settings.pace_window
        self._admitted.append((ticket.sent, ticket.kind))
        while self._admitted and self._admitted[0][0] < now - 2 * window:
            self._admitted.popleft()
        if self._count is not None:
            self._count.add(ticket)
        w = self._window
        note = None
        # Sent after the 429 came back (not one of its burst the server let through first).
        reopened = ticket.sent > w.last_refused and ticket.sent >= w.refused_known
        if w.refused_from is not None and reopened:
            # Refused with no word of how long, now let through: the window reset in between
            # (taken at the latest: a window a little long is a pace a little slow, no 429).
            reset = ticket.sent
            if reset - w.refused_from >= WINDOW_MIN_WAIT:
                note = self._learn_window(reset, now)
            w.refused_from, w.refused_known = None, math.inf
        if w.reset_at is None or ticket.sent >= w.reset_at:
            w.since_reset += 1
        elif w.closed and w.rate and w.closed[0] <= ticket.sent < w.closed[1]:
            # Sent in the burst the 429 ended, answered after it: the window let it through.
            w.quota += 1
            w.rate = w.quota / w.seconds
        return note or self._probe(now)

    def refused(self, ticket: Ticket, now: float, wait: float | None) -> str | None:
        """A 429 (answered at `now`; `wait`: what it asked). A note when the pace changed."""
        w = self._window
        if wait is not None and wait >= WINDOW_MIN_WAIT:
            return self._learn_window(now + wait, now)
        if not wait:
            if w.refused_from is None:
                w.refused_from, w.refused_known = ticket.sent, now
            w.last_refused = max(w.last_refused, ticket.sent)
        # Count what the server let through of the requests sent in the window before the
        # refused one (and a quarter of its round trip after: requests of one burst reach the
        # server in any order). Not up to now: a burst sent since may have been let through
        # by the server's next window. The count is finished when the pause ends.
        until = ticket.sent + (now - ticket.sent) / 4
        since = until - self.settings.pace_window
        admitted = sum(1 for t, k in self._admitted if since <= t <= until and k == ticket.kind)
        self._count = _Count(ticket.kind, since, until, admitted, self.resumed_at > since)
        return None

    def guess(self, now: float) -> float | None:
        """After a 429 that named no wait: how long until the learnt window starts again."""
        w = self._window
        if w.reset_at is None or not w.whole:
            return None  # the first window was seen from wherever the run began in it
        windows = max(1, math.ceil((now - w.reset_at) / w.seconds))
        return max(0.0, w.reset_at + windows * w.seconds - now) + 0.05

    def resume(self, now: float) -> str | None:
        """The pause is over: set the pace from the count a 429 started, if any."""
        self.resumed_at = now
        count, self._count = self._count, None
        settings = self.settings
        if count is None or count.admitted < settings.pace_min_answers:
            return None
        rate = count.admitted / settings.pace_window
        current = self.rate
        if current is not None:
            # Refused at an even pace: what got through is the cap. Unless a pause took part
            # of the second counted: then cut by at most pace_backoff. Never up on a 429.
            if count.short:
                rate = max(rate, current * settings.pace_backoff)
            rate = min(current, rate)
        self.count_rate = rate * settings.pace_margin
        self.since = now
        self.kind = self.kind or "rate"
        return "pace"

    def _learn_window(self, reset: float, now: float) -> str | None:
        w = self._window
        start = w.reset_at if w.reset_at is not None else w.first_sent
        if w.reset_at is not None and reset - w.reset_at < WINDOW_MIN_WAIT:
            return None  # another answer of the same refused burst
        w.reset_at = reset
        admitted, w.since_reset = w.since_reset, 0
        if start is None or admitted < self.settings.pace_min_answers or reset <= start:
            return None
        rate = admitted / (reset - start)
        w.closed = None
        if w.rate is None or rate < w.rate:
            w.rate, w.quota, w.seconds = rate, admitted, reset - start
            w.closed = (start, reset)
        w.whole = w.whole or start != w.first_sent
        # The window explains the 429s: a count of one second within its burst does not.
        self.count_rate, self._count = None, None
        self.kind, self.since = "window", now
        return "window"

    def _probe(self, now: float) -> str | None:
        """Raise a rate's pace a little after a quiet while: the cap may have been raised."""
        settings = self.settings
        if self.count_rate is None or now - self.since < settings.pace_probe_after:
            return None
        if self.kind == "window":
            return None  # a window's quota was counted whole: nothing to find by probing
        self.count_rate *= 1.0 + settings.pace_probe_step
        self.since = now
        return "pace probe"
