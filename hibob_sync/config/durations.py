"""Durations as people write them in config and on the command line: `30s`, `15m`, `26h`, `3d`.

One number and one unit, nothing else: a bare number would leave the unit to a guess, and a
guess is how a three-day grace window becomes three seconds.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNITS: dict[str, tuple[int, str]] = {
    "s": (1, "second"),
    "m": (60, "minute"),
    "h": (3600, "hour"),
    "d": (86400, "day"),
}
EXAMPLES = "a duration such as 30s, 15m, 26h or 3d"
_PATTERN = re.compile(r"^\s*(\d{1,9})\s*([smhd])\s*$")


def parse_duration(text: str) -> timedelta:
    """`3d` -> 3 days. Raises ValueError (saying what is expected) for anything else."""
    match = _PATTERN.match(text.lower()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected {EXAMPLES}, got {text!r}")
    number, unit = match.groups()
    return timedelta(seconds=int(number) * UNITS[unit][0])


def _unit_of(seconds: int) -> tuple[int, str]:
    """The largest unit that divides ``seconds`` evenly (3d -> days, 36h -> hours)."""
    for size, name in sorted(UNITS.values(), reverse=True):
        if seconds and seconds % size == 0:
            return size, name
    return 1, "second"


def format_duration(duration: timedelta) -> str:
    """3 days -> `3d`: the short form config uses, in the largest exact unit."""
    seconds = int(duration.total_seconds())
    size, _ = _unit_of(seconds)
    short = next(key for key, (s, _) in UNITS.items() if s == size)
    return f"{seconds // size}{short}"


def countdown(waited: timedelta, window: timedelta) -> str:
    """How far a wait has come, in the window's unit: `2 of 3 days`, `5 of 26 hours`."""
    total = int(window.total_seconds())
    size, name = _unit_of(total)
    done = max(0, int(waited.total_seconds())) // size
    return f"{min(done, total // size)} of {total // size} {name}{'s' if total != size else ''}"
