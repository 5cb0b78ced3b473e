"""Safeguard bounds (sync.max_deactivations, max_reactivations, max_changes): a count of
users or a percentage of the managed ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Limit:
    """A safeguard bound: an absolute count or a percentage of managed users."""

    value: float
    percent: bool

    def allowed(self, total: int) -> int:
        """How many are allowed out of ``total``."""
        if self.percent:
            # At least one, so a 10% limit does not stop the single leaver of a small team.
            return max(1, int(total * self.value / 100)) if self.value > 0 else 0
        return int(self.value)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else str(int(self.value))


class _Reader(Protocol):
    """What settings._Reader offers a key reader."""

    def get(self, name: str, check: Any, expected: str, default: Any) -> Any: ...
    def key(self, name: str) -> str: ...
    def error(self, key: str, expected: str, got: Any) -> Exception: ...


EXPECTED = "a count (e.g. 25) or a percentage (e.g. 10%)"


def read_limit(reader: _Reader, name: str, default: str = "10%") -> Limit:
    """One limit key of config.yaml (78 naming the key when it is neither)."""
    raw = reader.get(
        name,
        lambda v: (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, str),
        EXPECTED,
        default,
    )
    if isinstance(raw, int):
        if raw < 0:
            raise reader.error(reader.key(name), EXPECTED, raw)
        return Limit(raw, False)
    text = raw.strip()
    try:
        if text.endswith("%"):
            number = float(text[:-1])
            if not 0 <= number <= 100:
                raise ValueError
            return Limit(number, True)
        count = int(text)
        if count < 0:
            raise ValueError
        return Limit(count, False)
    except ValueError:
        raise reader.error(reader.key(name), EXPECTED, raw) from None
