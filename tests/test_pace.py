"""The pace learnt from 429s, as pure logic on a made-up clock (hibob_sync.pace via the
limiter's Controller): a fixed window told from a per-second rate, what it teaches, and the
pace remembered for the next run (the state store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hibob_sync.limiter import Controller, LimiterSettings, Ticket
from hibob_sync.pace import Learnt
from hibob_sync.state import StateStore

KIND = "POST /Users"


def acquire(c: Controller, now: float, call: int) -> Ticket:
    ticket = c.try_acquire(call, KIND, now)
    assert isinstance(ticket, Ticket), f"held back {ticket}s at {now}"
    return ticket


def burst(c: Controller, count: int, start: float, span: float, first_call: int = 0) -> float:
    """`count` requests let through, sent evenly over `span` seconds; the time after."""
    now = start
    for n in range(count):
        ticket = c.try_acquire(first_call + n, KIND, now)
        if not isinstance(ticket, Ticket):  # held back by the pace: wait as a writer would
            now += ticket
            ticket = acquire(c, now, first_call + n)
        c.release(ticket, now + 0.01, 201, wait=None)
        c.end_call(first_call + n, now + 0.01)
        now += span / count
    return now


def test_a_burst_then_a_long_announced_wait_is_learnt_as_a_fixed_window() -> None:
    c = Controller(LimiterSettings(ceiling=8), start=0.0)
    now = burst(c, 100, 0.0, 1.0)  # 100 let through in the first second
    refused = acquire(c, now, call=999)
    c.release(refused, now + 0.01, 429, wait=9.0)  # X-Retry-After: 9 (the window ends at 10)
    learnt = c.learnt
    assert learnt is not None and learnt.kind == "window"
    assert learnt.quota == 100 and learnt.seconds == pytest.approx(10.0, abs=0.05)
    assert c.pace == pytest.approx(100 / 10.0 * 0.95, rel=0.01)  # spread over the window
    assert "100 requests per 10.0s" in learnt.describe()


def test_refused_with_no_word_of_when_the_window_is_found_where_requests_go_through_again() -> None:
    c = Controller(LimiterSettings(ceiling=8), start=0.0)
    now = burst(c, 100, 0.0, 1.0)
    for poll in (now, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.8):  # polled about every second
        c.release(acquire(c, poll, call=999), poll + 0.01, 429, wait=None)
    assert c.learnt is None or c.learnt.kind == "rate"  # not yet: it may be a short cap
    c.release(acquire(c, 10.2, call=999), 10.21, 201, wait=None)  # the window reset in between
    learnt = c.learnt
    assert learnt is not None and learnt.kind == "window"
    assert learnt.seconds == pytest.approx(10.2)  # at the latest: a pace a little slow
    assert c.pace == pytest.approx(100 / 10.2 * 0.95)


def test_the_next_window_measures_a_whole_one_and_then_says_when_the_next_begins() -> None:
    """The run began 7 s into the server's first window (windows start at 0, 10, 20...)."""
    c = Controller(LimiterSettings(ceiling=8), start=7.0)
    now = burst(c, 100, 7.0, 1.0)
    c.release(acquire(c, now, call=999), now, 429, wait=10.0 - now)
    first = c.learnt
    assert first is not None and first.pace == pytest.approx(100 / 3.0 * 0.95, rel=0.01)
    assert c.pacing.guess(now) is None  # a partial window: it cannot tell when the next starts
    c.end_call(999, 10.0)
    now = burst(c, 100, 10.0, 3.0, first_call=1000) + 0.1  # at that pace, it lasts 3 s
    c.release(acquire(c, now, call=1999), now, 429, wait=20.0 - now)
    assert c.pace == pytest.approx(100 / 10.0 * 0.95, rel=0.01)  # the whole window: 10/s
    assert c.pacing.guess(25.0) == pytest.approx(5.05)  # the window after starts at 30


def test_a_short_wait_is_a_rate_not_a_window() -> None:
    c = Controller(LimiterSettings(ceiling=64), start=0.0)
    now = burst(c, 40, 0.0, 0.9)
    c.release(acquire(c, now, call=999), now, 429, wait=1.0)  # Retry-After: 1
    c.end_call(999, now + 1.0)
    learnt = c.learnt
    assert learnt is not None and learnt.kind == "rate"
    assert c.pace == pytest.approx(40 * 0.95)


def test_a_remembered_pace_holds_from_the_first_request(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    url = "https://scim.example.com/v2"
    window = Learnt("window", 9.5, 100, 10.0)
    store.remember_pace(url + "/", window, "2026-01-01T00:00:00+00:00")
    assert store.pace(url) == window
    assert store.pace("https://other.example.com/v2") is None

    c = Controller(LimiterSettings(ceiling=32), start=0.0)
    c.start_from(window, 0.0)
    sent, now = 0, 0.0
    while now < 10.0:  # writers that always have work, for one whole window
        verdict = c.try_acquire(sent, KIND, now)
        if isinstance(verdict, Ticket):
            c.release(verdict, now + 0.001, 201, wait=None)
            sent += 1
        else:
            now += verdict
    assert sent <= 96  # at most the quota, spread: no burst, no 429
    assert c.learnt == window  # kept for the night after, unchanged


def test_a_remembered_pace_is_learnt_afresh_after_a_week_of_keeping_it(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    url = "https://scim.example.com/v2"
    window = Learnt("window", 9.5, 100, 10.0)
    store.remember_pace(url, window, "2026-01-01T00:00:00+00:00")
    store.remember_pace(url, window, "2026-01-05T00:00:00+00:00")  # kept, learnt nothing new
    assert store.pace(url, since="2026-01-01T00:00:00+00:00") == window
    assert store.pace(url, since="2026-01-02T00:00:00+00:00") is None  # kept since the 1st
    lower = Learnt("window", 8.0, 84, 10.0)
    store.remember_pace(url, lower, "2026-01-06T00:00:00+00:00")  # a 429 taught a new one
    assert store.pace(url, since="2026-01-02T00:00:00+00:00") == lower
