"""Adaptive concurrency for SCIM requests: find the target's capacity the way TCP finds a link's.

`sync.concurrency` is only the ceiling. The limit starts small (4 requests in flight), doubles
every round while answers stay fast (slow start), then moves by one per round; a round is one
limit's worth of answers, about one round trip.

Why a delay-gradient limiter (TCP Vegas, Netflix concurrency-limits' Gradient) and not AIMD alone:
a SCIM server that is saturated rarely says so: scim2-server, like many, never answers 429; it
queues. AIMD grows until it sees a loss, so against such a server it would always run at the
ceiling and push latency towards timeouts. Latency is the signal every server gives: by
Little's law (in flight = throughput x latency), while more requests in flight still buy
throughput the latency stays flat, and once the server is saturated each extra request only
waits, so "latency rises" and "throughput stops rising" are the same observation. The limit
grows while the round's median latency stays within `tolerance` x the no-load latency (the
fastest answer seen, per kind of request: a list page and a PATCH cost different amounts)
and shrinks in proportion when it goes above (never by more than half). A tolerance (3x)
rather than Vegas's few-requests queue target, because a nightly batch wants throughput, not a
low tail latency. 3x the fastest answer seen (a busy client machine alone makes typical
answers 1.5x slower) lets the server's queue hold about as much as the network, which keeps
it busy without letting the queue grow without bound; at 2x, on a 2-core machine where the
client and server share the CPU, the limit settled at half of what the server could take.

Explicit overload keeps AIMD's answer: a 429, 5xx or dropped connection halves the limit, once
per round (the other answers of the same burst were sent before the cut). A 429, or any answer
with Retry-After, also pauses every request: the gate stays shut until each throttled request
has waited its own Retry-After in http.send's retry policy and goes again. And since a
rate-limited API counts requests per time window, not in flight, a 429 also sets a pace: the
requests of that kind sent in the second before the 429 that the server let through, x 0.95.
They are counted by send time, and only when the pause ends: the requests of the same burst
sent just before the refused one are still on their way back when the 429 arrives (counting
answers already in, the last version learnt 36.6/s against a cap of 50 and never got back).
Without a pace the limit would re-grow and hit the cap once per window, and each hit costs
every writer a whole Retry-After pause. Refused while paced, the count is what the cap lets
through at an even pace, so the pace never rises on a 429 and falls by at most 20% (a count cut
short by an earlier pause). The pace rises 2% after each 10 s without a 429, to find a cap that
was raised. The rate over one second suits the common per-second caps; against a per-minute
cap the first burst teaches a pace above it, and the tool then waits out one Retry-After a
minute, which is all such a cap allows anyway.

`Controller` is the pure logic (time is passed in; tests drive it with a made-up clock);
`Limiter` wraps it for threads.
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

DEFAULT_CEILING = 32
OVERLOAD_STATUSES = frozenset({500, 502, 503, 504})
TRACE_POINTS = 20_000  # ample for any night; bounds memory if a run never ends


class Stopped(Exception):
    """A request refused because the run was interrupted (the limiter was stopped)."""


@dataclass(frozen=True)
class LimiterSettings:
    """The controller's constants; `ceiling` is sync.concurrency."""

    ceiling: int = DEFAULT_CEILING
    initial: int = 4
    tolerance: float = 3.0  # round latency / no-load latency accepted before shrinking
    backoff: float = 0.5  # multiplicative decrease on 429 / 5xx / dropped connection
    pace_window: float = 1.0  # seconds of sent requests a 429 counts the pace over
    pace_margin: float = 0.95
    pace_backoff: float = 0.8  # the deepest cut by a 429 whose count a pause cut short
    pace_min_answers: int = 5  # fewer answers than this in the window say nothing of a rate
    pace_probe_after: float = 10.0  # seconds without a 429 before the pace rises
    pace_probe_step: float = 0.02


@dataclass(frozen=True)
class Ticket:
    """One admitted attempt: which call (a request and its retries), kind, order, send time."""

    call: int
    kind: str
    seq: int
    sent: float


@dataclass(frozen=True)
class TracePoint:
    """The limit (and pace, requests/s) from `at` seconds after the start, and why."""

    at: float
    limit: int
    pace: float | None
    reason: str


@dataclass
class _Round:
    ratios: list[float] = field(default_factory=list)  # latency / no-load latency, per answer
    busy: bool = False  # the limit was reached at some point: growing it is justified


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
class Controller:
    """The limit, the pause and the pace; every method takes the current time (see module)."""

    settings: LimiterSettings
    start: float
    limit: float = 0.0
    inflight: int = 0
    slow_start: bool = True
    pace: float | None = None
    settled: int = 0
    peak: int = 0
    trace: list[TracePoint] = field(default_factory=list)
    _seq: int = 0
    _recovery_seq: int = 0
    _baseline: dict[str, float] = field(default_factory=dict)
    _round: _Round = field(default_factory=_Round)
    _owners: set[int] = field(default_factory=set)
    _next_send: float = -math.inf
    _pace_since: float = 0.0
    _resumed_at: float = -math.inf  # when the last pause ended
    _admitted: deque[tuple[float, str]] = field(default_factory=deque)  # (sent, kind)
    _count: _Count | None = None

    def __post_init__(self) -> None:
        ceiling = max(1, self.settings.ceiling)
        self.limit = float(min(max(1, self.settings.initial), ceiling))
        self.settled = self.current
        self._note(self.start, "start")

    @property
    def current(self) -> int:
        """The whole number of requests allowed in flight now."""
        return max(1, int(self.limit + 1e-9))  # 11.999999 (float arithmetic) is 12

    def owns(self, call: int) -> bool:
        """The call holds a pause (it was throttled and has not gone again)."""
        return call in self._owners

    @property
    def paused(self) -> bool:
        """Some throttled request has not yet waited its Retry-After and gone again."""
        return bool(self._owners)

    def try_acquire(self, call: int, kind: str, now: float) -> Ticket | float:
        """A ticket when the attempt may go now; else how long to wait (inf: until a release)."""
        if call in self._owners:
            # The throttled request has waited out its Retry-After: it goes first, at the
            # pace the pause's count sets (the first to come back sets it).
            self._set_pace(now)
            self._owners.discard(call)
            self._resumed_at = now
        elif self._owners:
            return math.inf
        if self.inflight >= self.current:
            return math.inf
        if self.pace is not None and now < self._next_send:
            return self._next_send - now
        if self.pace is not None:
            self._next_send = max(now, self._next_send) + 1.0 / self.pace
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        if self.inflight >= self.current:
            self._round.busy = True
        self._seq += 1
        return Ticket(call, kind, self._seq, now)

    def release(self, ticket: Ticket, now: float, status: int | None, *, wait: bool) -> None:
        """An attempt's answer: its status (None: no answer), and whether it asked to wait."""
        self.inflight -= 1
        if status == 429 or status is None or status in OVERLOAD_STATUSES:
            if status == 429 or wait:
                self._owners.add(ticket.call)
            self._overload(ticket, now, "429" if status == 429 else f"{status or 'no answer'}")
            return
        window = self.settings.pace_window
        self._admitted.append((ticket.sent, ticket.kind))
        while self._admitted and self._admitted[0][0] < now - 2 * window:
            self._admitted.popleft()
        if self._count is not None:
            self._count.add(ticket)
        self._probe(now)
        self._sample(ticket, now)

    def end_call(self, call: int, now: float) -> None:
        """A request is done (answered or given up): it holds no pause any more."""
        if call in self._owners:
            self._owners.discard(call)
            if not self._owners:
                self._set_pace(now)  # the pause is over
                self._resumed_at = now

    # -- the control law ----------------------------------------------------------------------

    def _overload(self, ticket: Ticket, now: float, reason: str) -> None:
        if ticket.seq <= self._recovery_seq:
            return  # sent before the last cut: the same burst, already answered for
        self._recovery_seq = self._seq
        self.limit = max(1.0, self.limit * self.settings.backoff)
        self.slow_start = False
        self._round = _Round()
        if reason == "429":
            # Count what the server let through of the requests sent in the window before
            # the refused one (and a quarter of its round trip after: requests of one burst
            # reach the server in any order). Not up to now: a burst sent since may have
            # been let through by the server's next window. The latest are still on their
            # way back: the count is finished, and the pace set, when the pause ends.
            until = ticket.sent + (now - ticket.sent) / 4
            since = until - self.settings.pace_window
            admitted = sum(1 for t, k in self._admitted if since <= t <= until and k == ticket.kind)
            short = self._resumed_at > since
            self._count = _Count(ticket.kind, since, until, admitted, short)
        self._note(now, reason)

    def _set_pace(self, now: float) -> None:
        """Set the pace from the count a 429 started, finished while the pause lasted."""
        count, self._count = self._count, None
        settings = self.settings
        if count is None or count.admitted < settings.pace_min_answers:
            return
        rate = count.admitted / settings.pace_window
        if self.pace is not None:
            # Refused at an even pace: what got through is the cap. Unless a pause took part
            # of the second counted: then cut by at most pace_backoff. Never up on a 429.
            if count.short:
                rate = max(rate, self.pace * settings.pace_backoff)
            rate = min(self.pace, rate)
        self.pace = rate * settings.pace_margin
        self._pace_since = now
        self._note(now, "pace")

    def _probe(self, now: float) -> None:
        """Raise the pace a little after a quiet while: the server's cap may have been raised."""
        if self.pace is None or now - self._pace_since < self.settings.pace_probe_after:
            return
        self.pace *= 1.0 + self.settings.pace_probe_step
        self._pace_since = now
        self._note(now, "pace probe")

    def _sample(self, ticket: Ticket, now: float) -> None:
        rtt = now - ticket.sent
        if rtt <= 0:
            return  # a clock that did not move says nothing about latency
        base = self._baseline.get(ticket.kind)
        if base is None or rtt < base:
            base = self._baseline[ticket.kind] = rtt
        self._round.ratios.append(rtt / base)
        if len(self._round.ratios) >= self.current:
            self._end_round(now)

    def _end_round(self, now: float) -> None:
        done, self._round = self._round, _Round()
        # The median: one answer delayed by a pause elsewhere (a GC, a busy core) is noise.
        ratio = statistics.median(done.ratios)
        settings = self.settings
        if ratio > settings.tolerance:
            if self.current <= 1:
                # Slow at one request in flight: the latency is not ours. Learn it again.
                self._baseline.clear()
                return
            self.limit = max(1.0, self.limit * max(0.5, settings.tolerance / ratio))
            self.slow_start = False
            self._note(now, f"latency x{ratio:.1f}")
        elif done.busy:
            grown = self.limit * 2 if self.slow_start else self.limit + 1
            self.limit = min(float(max(1, settings.ceiling)), grown)
            self._note(now, "slow start" if self.slow_start else "latency ok")
        if done.busy:
            self.settled = self.current

    def _note(self, now: float, reason: str) -> None:
        last = self.trace[-1] if self.trace else None
        if last is not None and (last.limit, last.pace) == (self.current, self.pace):
            return
        if len(self.trace) < TRACE_POINTS:
            self.trace.append(TracePoint(now - self.start, self.current, self.pace, reason))


class Limiter:
    """Thread-safe admission of requests under a Controller; one per SCIM client.

    Waits are real (a condition variable), measured on `clock`: monotonic, so a clock step
    cannot stall a run. A pause has no timer of its own: it ends when the throttled requests
    go again (after their Retry-After sleep, which the retry policy's injectable sleep does).
    """

    def __init__(
        self,
        settings: LimiterSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or LimiterSettings()
        self._clock = clock
        self._controller = Controller(self.settings, clock())
        self._cond = threading.Condition()
        self._calls = itertools.count(1)  # next() is atomic: no lock taken per request
        self._logged = 0
        self._stopped = False

    @property
    def ceiling(self) -> int:
        return max(1, self.settings.ceiling)

    def call(self, kind: str) -> Call:
        """A handle for one request and its retries (see http.Gate)."""
        return Call(self, next(self._calls), kind)

    def stop(self) -> None:
        """The run was interrupted: no attempt starts from now on (waiting ones give up)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def report(self) -> LimiterReport:
        """What the run settled at, for the summary and the log."""
        with self._cond:
            c = self._controller
            # Never above what was used: a short night never reached its limit.
            settled = min(c.settled, c.peak) if c.peak else c.settled
            elapsed = self._clock() - c.start
            return LimiterReport(settled, c.peak, self.ceiling, c.pace, list(c.trace), elapsed)

    # -- used by Call -------------------------------------------------------------------------

    def _enter(self, call: int, kind: str) -> Ticket:
        with self._cond:
            while True:
                if self._stopped:
                    raise Stopped("the run was interrupted")
                paused = self._controller.paused
                verdict = self._controller.try_acquire(call, kind, self._clock())
                if paused and not self._controller.paused:
                    self._cond.notify_all()
                if isinstance(verdict, Ticket):
                    return verdict
                self._cond.wait(None if math.isinf(verdict) else verdict)

    def _leave(self, ticket: Ticket, status: int | None, wait: bool) -> None:
        with self._cond:
            before = self._controller.current
            self._controller.release(ticket, self._clock(), status, wait=wait)
            # One waiter per free place: waking all 32 threads for one place costs more
            # CPU than the requests they send.
            self._cond.notify(max(1, self._controller.current - before + 1))
            self._log_trace()

    def _end(self, call: int) -> None:
        if not self._controller.owns(call):
            return  # only this thread makes its call an owner: no lock needed to know
        with self._cond:
            paused = self._controller.paused
            self._controller.end_call(call, self._clock())
            if paused and not self._controller.paused:
                self._cond.notify_all()

    def _log_trace(self) -> None:
        trace = self._controller.trace
        for point in trace[self._logged :]:
            pace = f", pace {point.pace:.1f}/s" if point.pace is not None else ""
            log.debug(
                "concurrency limit %d at %.3fs%s (%s)", point.limit, point.at, pace, point.reason
            )
        self._logged = len(trace)


@dataclass(frozen=True)
class LimiterReport:
    """The limit the run settled at, the most requests it had in flight, and the trace."""

    settled: int
    peak: int
    ceiling: int
    pace: float | None
    trace: list[TracePoint]
    elapsed: float = 0.0  # seconds since the limiter (the SCIM client) started


class Call:
    """One request through the limiter: enter/leave around each attempt, end when done."""

    def __init__(self, limiter: Limiter, call: int, kind: str) -> None:
        self._limiter = limiter
        self._call = call
        self._kind = kind
        self._ticket: Ticket | None = None

    def enter(self) -> None:
        """Block until this attempt may be sent."""
        self._ticket = self._limiter._enter(self._call, self._kind)

    def leave(self, status: int | None, wait: bool = False) -> None:
        """The attempt's answer (None: none came); wait: it asked to retry after a while."""
        if self._ticket is not None:
            ticket, self._ticket = self._ticket, None
            self._limiter._leave(ticket, status, wait)

    def end(self) -> None:
        """The request is finished or given up."""
        self.leave(None)  # an attempt cut short by an error counts as unanswered
        self._limiter._end(self._call)
