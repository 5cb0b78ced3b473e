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
rate-limited API counts requests per time window, not in flight, a 429 also sets a pace
(pace.py: a rate per second, or a fixed window's quota spread over the window), remembered
per server for the next run: without one the limit would re-grow and hit the cap once per
window, and each hit costs every writer a whole Retry-After pause.

`Controller` is the pure logic (time is passed in: tests use a made-up clock); `Limiter` wraps
it for threads.
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hibob_sync.pace import Learnt, Pace

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
class Controller:
    """The limit, the pause and the pace; every method takes the current time (see module)."""

    settings: LimiterSettings
    start: float
    limit: float = 0.0
    inflight: int = 0
    slow_start: bool = True
    settled: int = 0
    peak: int = 0
    trace: list[TracePoint] = field(default_factory=list)
    _seq: int = 0
    _recovery_seq: int = 0
    _baseline: dict[str, float] = field(default_factory=dict)
    _round: _Round = field(default_factory=_Round)
    _owners: set[int] = field(default_factory=set)
    pacing: Pace = field(init=False)

    def __post_init__(self) -> None:
        ceiling = max(1, self.settings.ceiling)
        self.limit = float(min(max(1, self.settings.initial), ceiling))
        self.settled = self.current
        self.pacing = Pace(self.settings)
        self._note(self.start, "start")

    @property
    def pace(self) -> float | None:
        """Requests per second the server's limit allows (None: no limit seen)."""
        return self.pacing.rate

    def start_from(self, learnt: Learnt, now: float) -> None:
        """Begin at the pace an earlier run learnt for this server."""
        self.pacing.start_from(learnt, now)
        self._note(now, "remembered " + learnt.kind)

    @property
    def learnt(self) -> Learnt | None:
        """The shape of the server's rate limit, if a 429 (or an earlier run) taught one."""
        return self.pacing.learnt()

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
            self._changed(now, self.pacing.resume(now))
            self._owners.discard(call)
        elif self._owners:
            return math.inf
        if self.inflight >= self.current:
            return math.inf
        delay = self.pacing.delay(now)
        if delay > 0:
            return delay
        self.pacing.sent(now)
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        if self.inflight >= self.current:
            self._round.busy = True
        self._seq += 1
        return Ticket(call, kind, self._seq, now)

    def release(
        self, ticket: Ticket, now: float, status: int | None, *, wait: float | None
    ) -> None:
        """An attempt's answer: its status (None: no answer), and the wait it asked for."""
        self.inflight -= 1
        if status == 429 or status is None or status in OVERLOAD_STATUSES:
            if status == 429 or wait:
                self._owners.add(ticket.call)
            if status == 429 and ticket.seq > self._recovery_seq:
                self._changed(now, self.pacing.refused(ticket, now, wait))
            self._overload(ticket, now, "429" if status == 429 else f"{status or 'no answer'}")
            return
        self._changed(now, self.pacing.answered(ticket, now))
        self._sample(ticket, now)

    def end_call(self, call: int, now: float) -> None:
        """A request is done (answered or given up): it holds no pause any more."""
        if call in self._owners:
            self._owners.discard(call)
            if not self._owners:
                self._changed(now, self.pacing.resume(now))  # the pause is over

    # -- the control law ----------------------------------------------------------------------

    def _overload(self, ticket: Ticket, now: float, reason: str) -> None:
        if ticket.seq <= self._recovery_seq:
            return  # sent before the last cut: the same burst, already answered for
        self._recovery_seq = self._seq
        self.limit = max(1.0, self.limit * self.settings.backoff)
        self.slow_start = False
        self._round = _Round()
        self._note(now, reason)

    def _changed(self, now: float, note: str | None) -> None:
        if note is not None:
            self._note(now, note)

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
        self._told: Learnt | None = None  # the shape of the limit last logged (-v)
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

    def start_from(self, learnt: Learnt | None) -> None:
        """Begin at the pace an earlier run learnt for this server (state store)."""
        if learnt is None:
            return
        with self._cond:
            self._controller.start_from(learnt, self._clock())
            self._told = learnt
        log.info("SCIM server's rate limit, as remembered: %s", learnt.describe())

    def report(self) -> LimiterReport:
        """What the run settled at, for the summary and the log."""
        with self._cond:
            c = self._controller
            # Never above what was used: a short night never reached its limit.
            settled = min(c.settled, c.peak) if c.peak else c.settled
            trace, elapsed = list(c.trace), self._clock() - c.start
            return LimiterReport(settled, c.peak, self.ceiling, c.pace, trace, elapsed, c.learnt)

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

    def _leave(self, ticket: Ticket, status: int | None, wait: float | None) -> float | None:
        with self._cond:
            before = self._controller.current
            now = self._clock()
            self._controller.release(ticket, now, status, wait=wait)
            # One waiter per free place: waking all 32 threads for one place costs more
            # CPU than the requests they send.
            self._cond.notify(max(1, self._controller.current - before + 1))
            self._log_trace()
            if status == 429 and wait is None:
                return self._controller.pacing.guess(now)
            return None

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
        learnt = self._controller.learnt
        if learnt is not None and (self._told is None or learnt.kind != self._told.kind):
            log.info("SCIM server's rate limit learnt from 429 answers: %s", learnt.describe())
            self._told = learnt


@dataclass(frozen=True)
class LimiterReport:
    """The limit the run settled at, the most requests it had in flight, and the trace."""

    settled: int
    peak: int
    ceiling: int
    pace: float | None
    trace: list[TracePoint]
    elapsed: float = 0.0  # seconds since the limiter (the SCIM client) started
    learnt: Learnt | None = None  # the shape of the server's rate limit, if one was seen


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

    def leave(self, status: int | None, wait: float | None = None) -> float | None:
        """The attempt's answer (None: none came) and the wait it asked for; after a 429
        that named none, the limiter's guess of when its window starts again."""
        if self._ticket is not None:
            ticket, self._ticket = self._ticket, None
            return self._limiter._leave(ticket, status, wait)
        return None

    def end(self) -> None:
        """The request is finished or given up."""
        self.leave(None)  # an attempt cut short by an error counts as unanswered
        self._limiter._end(self._call)
