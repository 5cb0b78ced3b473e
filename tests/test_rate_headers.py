"""Every common way a server says "wait", read on an injected clock (hibob_sync.rate_headers).

The RateLimit and RateLimit-Policy fields follow draft-ietf-httpapi-ratelimit-headers-11
(May 2026; the syntax unchanged since -08): structured-field lists whose items carry
parameters, ``RateLimit: "default";r=0;t=8`` (r: requests remaining in the window; t: seconds
until it resets) and ``RateLimit-Policy: "default";q=100;w=10`` (q: the quota; w: the window
in seconds). Drafts up to -07 sent a dictionary, ``RateLimit: limit=100, remaining=0,
reset=8``, and the -00 to -06 drafts separate RateLimit-Limit/-Remaining/-Reset fields.
"""

from __future__ import annotations

from email.utils import formatdate

import pytest
from requests.structures import CaseInsensitiveDict

from hibob_sync.rate_headers import RateAdvice, read

NOW = 1_765_000_000.0  # the injected clock: an epoch moment (December 2025)


def advice(**headers: str) -> RateAdvice:
    return read(CaseInsensitiveDict({k.replace("_", "-"): v for k, v in headers.items()}), NOW)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": formatdate(NOW + 30, usegmt=True)}, 30.0),  # an HTTP date
        ({"Retry-After": formatdate(NOW - 30, usegmt=True)}, 0.0),  # a date already past
        ({"X-Retry-After": "9"}, 9.0),
        ({"x-retry-after": " 9.5 "}, 9.5),  # any case, spaces around
        ({"Retry-After-Ms": "1500"}, 1.5),
        ({"RateLimit-Reset": "8"}, 8.0),  # drafts -00 to -06: delta seconds
        ({"RateLimit": '"default";r=0;t=8'}, 8.0),  # draft -08 and later
        ({"RateLimit": "limit=100, remaining=0, reset=6"}, 6.0),  # draft -07 and before
        ({"X-RateLimit-Reset": str(int(NOW) + 12)}, 12.0),  # epoch seconds (GitHub)
        ({"X-RateLimit-Reset": str(int(NOW + 12) * 1000)}, 12.0),  # epoch milliseconds
        ({"X-RateLimit-Reset": "12"}, 12.0),  # seconds from now (other servers)
        ({"X-RateLimit-Reset": str(int(NOW) - 5)}, 0.0),  # a reset already past: go now
        ({"Retry-After": "3", "X-RateLimit-Reset": str(int(NOW) + 60)}, 3.0),  # an explicit
        ({"Retry-After": "soon", "X-Retry-After": "4"}, 4.0),  # wait first; garbage skipped
        ({"Retry-After": "Fri, 99 Foo 2025"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
    ],
)
def test_the_wait_is_read_from_every_common_field(headers: dict[str, str], wait: float) -> None:
    found = read(CaseInsensitiveDict(headers), NOW).wait
    assert found == (pytest.approx(wait, abs=1.0) if wait is not None else None)


def test_a_reset_in_epoch_seconds_is_told_from_a_delay_against_the_clock() -> None:
    """The same number is a moment or a delay depending on the clock it is read against."""
    number = "1765000100"
    assert read(CaseInsensitiveDict({"X-RateLimit-Reset": number}), NOW).wait == 100.0
    early = 1_000.0  # a clock nowhere near that moment: the number can only be a delay
    assert read(CaseInsensitiveDict({"X-RateLimit-Reset": number}), early).wait == float(number)


def test_an_exhausted_window_says_how_long_until_it_resets() -> None:
    assert advice(X_RateLimit_Remaining="0", X_RateLimit_Reset=str(NOW + 4)).exhausted_for == 4.0
    assert advice(RateLimit_Remaining="0", RateLimit_Reset="3").exhausted_for == 3.0
    assert advice(RateLimit='"default";r=0;t=2').exhausted_for == 2.0
    assert advice(X_RateLimit_Remaining="5", X_RateLimit_Reset="4").exhausted_for is None
    assert advice(X_RateLimit_Remaining="0").exhausted_for is None  # no reset: nothing to wait


def test_of_several_draft_policies_the_one_closest_to_running_out_rules() -> None:
    found = advice(RateLimit='"second";r=40;t=1, "window";r=0;t=9')
    assert (found.remaining, found.reset) == (0, 9.0)


def test_the_quota_and_window_are_read_from_the_policy() -> None:
    found = advice(RateLimit_Policy='"default";q=100;w=10', RateLimit='"default";r=37;t=4')
    assert (found.quota, found.window, found.remaining, found.reset) == (100, 10.0, 37, 4.0)
    assert advice(X_RateLimit_Limit="60").quota == 60
