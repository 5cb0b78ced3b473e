"""The adaptive concurrency limiter as pure logic: time is a number the test passes in."""

from __future__ import annotations

import math
import threading

import pytest

from hibob_sync.limiter import Controller, Limiter, LimiterSettings, Stopped, Ticket

RTT = 0.020  # the no-load latency of the simulated server


def controller(**settings: object) -> Controller:
    return Controller(LimiterSettings(**settings), start=0.0)  # type: ignore[arg-type]


def acquire(c: Controller, now: float, call: int = 0, kind: str = "POST /Users") -> Ticket:
    ticket = c.try_acquire(call, kind, now)
    assert isinstance(ticket, Ticket), f"refused: wait {ticket}"
    return ticket


def full_round(c: Controller, now: float, rtt: float, status: int = 201) -> float:
    """Fill the limit, answer every request after `rtt`; the time after the round."""
    tickets = [acquire(c, now, call=n) for n in range(c.current)]
    assert not isinstance(c.try_acquire(99, "POST /Users", now), Ticket)  # the limit holds
    for ticket in tickets:
        c.release(ticket, now + rtt, status, wait=False)
    return now + rtt


def limits(c: Controller, rtts: list[float], start: float = 0.0) -> list[int]:
    now, seen = start, []
    for rtt in rtts:
        now = full_round(c, now, rtt)
        seen.append(c.current)
    return seen


@pytest.mark.parametrize(
    ("ceiling", "rounds", "expected"),
    [
        (32, 5, [8, 16, 32, 32, 32]),  # slow start doubles each busy round, up to the ceiling
        (10, 3, [8, 10, 10]),  # sync.concurrency is the ceiling
        (3, 2, [3, 3]),  # a ceiling under the initial limit starts there
        (1, 2, [1, 1]),
    ],
)
def test_growth_while_latency_stays_flat_up_to_the_ceiling(
    ceiling: int, rounds: int, expected: list[int]
) -> None:
    c = controller(ceiling=ceiling)
    assert limits(c, [RTT] * rounds) == expected
    assert c.peak == min(ceiling, max(expected[:-1], default=expected[0]))


def test_no_growth_when_the_limit_is_not_what_holds_requests_back() -> None:
    c = controller()
    now = 0.0
    for _ in range(20):  # two requests at a time, the limit (4) never reached
        tickets = [acquire(c, now, call=n) for n in range(2)]
        for ticket in tickets:
            c.release(ticket, now + RTT, 201, wait=False)
        now += RTT
    assert c.current == 4


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        (1.5, 17),  # within tolerance (3x): one more per round once slow start is over
        (2.9, 17),
        (4.0, 12),  # 16 x 3/4
        (6.0, 8),  # 16 x 1/2
        (10.0, 8),  # never more than half at once
    ],
)
def test_back_off_on_rising_latency_in_proportion(ratio: float, expected: int) -> None:
    c = controller(ceiling=64)
    assert limits(c, [RTT] * 2) == [8, 16]
    c.slow_start = False
    assert limits(c, [RTT * ratio], start=1.0) == [expected]


def test_after_a_latency_back_off_growth_is_additive() -> None:
    c = controller(ceiling=64)
    assert limits(c, [RTT, RTT, RTT * 4, RTT, RTT, RTT]) == [8, 16, 12, 13, 14, 15]
    assert c.settled == 15


def test_latency_is_compared_per_kind_of_request() -> None:
    """A list page costs more than a PATCH; neither is a latency rise of the other."""
    c = controller()
    now = 0.0
    for kind, rtt in [("GET /Users", 0.2), ("PATCH /Users/id", 0.02)] * 3:
        tickets = [acquire(c, now, call=n, kind=kind) for n in range(c.current)]
        for ticket in tickets:
            c.release(ticket, now + rtt, 200, wait=False)
        now += rtt
    assert c.current == 32


def test_at_one_request_a_slow_server_is_learnt_as_the_new_normal() -> None:
    c = controller(initial=1, ceiling=8)
    assert limits(c, [RTT, RTT]) == [2, 4]
    c.slow_start = False
    assert limits(c, [RTT * 10, RTT * 10, RTT * 10], start=1.0) == [2, 1, 1]
    assert limits(c, [RTT * 10] * 3, start=2.0) == [2, 3, 4]  # its latency is the baseline now


@pytest.mark.parametrize(
    ("status", "wait", "paused"),
    [
        (429, False, True),  # a 429 always pauses everyone (its retry waits, with or without
        (429, True, True),  # Retry-After)
        (503, True, True),  # any answer with Retry-After pauses
        (503, False, False),  # a 503 without one only halves the limit
        (None, False, False),  # no answer at all: the same
    ],
)
def test_overload_halves_the_limit_once_per_burst(
    status: int | None, wait: bool, paused: bool
) -> None:
    c = controller()
    limits(c, [RTT, RTT])  # 16
    tickets = [acquire(c, 1.0, call=n) for n in range(16)]
    for ticket in tickets:  # the whole burst is refused: one cut, not sixteen
        c.release(ticket, 1.0 + RTT, status, wait=wait)
    assert c.current == 8
    assert not c.slow_start
    assert c.paused == paused
    assert isinstance(c.try_acquire(100, "POST /Users", 1.1), Ticket) != paused


def test_a_pause_ends_when_every_throttled_request_goes_again() -> None:
    c = controller()
    first, second, other = acquire(c, 0.0, call=1), acquire(c, 0.0, call=2), 3
    c.release(first, 0.02, 429, wait=True)
    c.release(second, 0.03, 429, wait=True)
    assert c.try_acquire(other, "POST /Users", 5.0) == math.inf
    retried = acquire(c, 1.02, call=1)  # call 1 has slept its Retry-After: it goes
    assert c.try_acquire(other, "POST /Users", 1.02) == math.inf  # call 2 has not yet
    c.end_call(2, 1.5)  # call 2 gave up (or finished): nobody holds the gate any more
    assert isinstance(c.try_acquire(other, "POST /Users", 1.5), Ticket)
    c.release(retried, 1.05, 201, wait=False)


def test_a_429_sets_a_pace_from_what_the_server_let_through() -> None:
    c = controller(initial=64, ceiling=64)
    now = 0.0
    for n in range(40):  # 40 sent and answered in the last second
        c.release(acquire(c, now, call=n), now + RTT, 201, wait=False)
        now += 0.02
    in_flight = [acquire(c, now, call=50 + n) for n in range(10)]  # sent in the same burst
    throttled = acquire(c, now, call=99)
    c.release(throttled, now + RTT, 429, wait=True)
    assert c.pace is None  # the count is not finished: 10 are still on their way back
    for ticket in in_flight:  # answered after the 429, during the pause: let through too
        c.release(ticket, now + 2 * RTT, 201, wait=False)
    resume = now + 1.0
    acquire(c, resume, call=99)  # the throttled request goes again first, and sets the pace
    assert c.pace == pytest.approx(50 * 0.95)
    second = c.try_acquire(100, "POST /Users", resume)
    assert second == pytest.approx(1 / c.pace)  # requests are spaced by the pace
    assert isinstance(c.try_acquire(100, "POST /Users", resume + 1 / c.pace), Ticket)


def throttle_after(c: Controller, answers: int, start: float, call: int = 0) -> float:
    """`answers` answers spread over one second from `start`, then a 429 whose request gives
    up at once (which ends the pause and sets the pace); the time after."""
    now = start
    for n in range(answers + 1):
        ticket = c.try_acquire(call + n, "POST /Users", now)
        if not isinstance(ticket, Ticket):  # held back by the pace: wait as a writer would
            now += ticket
            ticket = acquire(c, now, call=call + n)
        if n == answers:
            c.release(ticket, now, 429, wait=True)
        else:
            c.release(ticket, now + 0.001, 201, wait=False)
            now += 0.9 / answers  # all of them sent within the last second
    c.end_call(call + answers, now)
    return now


def test_the_pace_rises_after_quiet_seconds_and_on_a_paced_429_falls_to_what_got_through() -> None:
    c = controller(ceiling=64)
    now = throttle_after(c, 40, 0.0)
    assert c.pace == pytest.approx(38.0)
    c.release(acquire(c, now + 5.0), now + 5.0, 201, wait=False)
    assert c.pace == pytest.approx(38.0)
    c.release(acquire(c, now + 10.0), now + 10.0, 201, wait=False)
    assert c.pace == pytest.approx(38.0 * 1.02)  # probing for a raised cap
    now = throttle_after(c, 36, now + 20.0, call=100)  # refused at an even pace: 36 is the cap
    assert c.pace == pytest.approx(36 * 0.95)
    # Refused again at once: a pause took part of the second counted, so its 10 are no
    # measure of the cap: cut by at most 20%.
    now = throttle_after(c, 10, now + 0.05, call=200)
    assert c.pace == pytest.approx(36 * 0.95 * 0.8 * 0.95)
    # A whole second without a pause that let only 12 through: the cap fell; believed.
    throttle_after(c, 12, now + 5.0, call=300)
    assert c.pace == pytest.approx(12 * 0.95)


def test_the_pace_never_rises_on_a_429() -> None:
    c = controller(ceiling=64)
    now = throttle_after(c, 30, 0.0)
    assert c.pace == pytest.approx(30 * 0.95)
    throttle_after(c, 60, now + 1.0, call=100)  # refused again at the pace
    assert c.pace <= 30 * 0.95 * 0.95


def test_the_pace_counts_the_kind_of_request_that_was_refused() -> None:
    c = controller(ceiling=64)
    now = 0.0
    for n in range(20):  # discovery and list pages just before the writes
        c.release(acquire(c, now, call=n, kind="GET /Users"), now + 0.001, 200, wait=False)
        now += 0.01
    now = throttle_after(c, 30, now, call=100)
    assert c.pace == pytest.approx(30 * 0.95)


def test_few_answers_say_nothing_of_a_rate() -> None:
    c = controller()
    c.release(acquire(c, 0.0, call=1), 0.02, 201, wait=False)
    c.release(acquire(c, 0.03, call=2), 0.05, 429, wait=True)
    assert c.pace is None and c.current == 2


def test_the_trace_records_each_change_of_the_limit() -> None:
    c = controller(ceiling=16)
    limits(c, [RTT, RTT, RTT, RTT * 4])
    assert [(p.limit, p.reason) for p in c.trace] == [
        (4, "start"),
        (8, "slow start"),
        (16, "slow start"),
        (12, "latency x4.0"),
    ]
    assert [p.at for p in c.trace] == pytest.approx([0.0, 0.02, 0.04, 0.14])


def test_limiter_threads_wait_for_the_throttled_request() -> None:
    """The thread-safe wrapper: a waiting request goes as soon as the pause ends."""
    limiter = Limiter(LimiterSettings(initial=4), clock=iter(range(1000)).__next__)
    throttled = limiter.call("POST /Users")
    throttled.enter()
    throttled.leave(429, wait=True)
    went = threading.Event()

    def other() -> None:
        call = limiter.call("POST /Users")
        call.enter()
        went.set()
        call.leave(201)
        call.end()

    thread = threading.Thread(target=other)
    thread.start()
    assert not went.wait(0.05)  # paused
    throttled.enter()  # slept its Retry-After, goes again: the pause is over
    thread.join(timeout=10)
    assert went.is_set()
    throttled.leave(201)
    throttled.end()
    assert limiter.report().peak >= 1


def test_a_stopped_limiter_lets_no_request_start() -> None:
    """An interrupted run: a request waiting for its turn gives up, and none starts after."""
    limiter = Limiter(LimiterSettings(initial=4), clock=iter(range(1000)).__next__)
    throttled = limiter.call("POST /Users")
    throttled.enter()
    throttled.leave(429, wait=True)  # a pause: the next request waits (as above)
    outcome: list[BaseException] = []

    def waiting() -> None:
        try:
            limiter.call("POST /Users").enter()
        except Stopped as exc:
            outcome.append(exc)

    thread = threading.Thread(target=waiting)
    thread.start()
    limiter.stop()
    thread.join(timeout=10)
    assert not thread.is_alive() and len(outcome) == 1
    with pytest.raises(Stopped):
        limiter.call("GET /Users").enter()
