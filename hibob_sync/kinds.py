"""Values of extra attributes as canonical text, by the SCIM type the server declares.

Shared by both sides of a comparison: the profile (what HiBob says, through the mapping's
value rules) and the read-back (what the SCIM server holds). Both reduce to one text per
value, so a boolean read back as ``true`` equals HiBob's "Yes" mapped to ``true``, a number
``3`` equals ``3.0``, and a date written as a midnight dateTime equals the date: quiet nights
stay write-free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timezone

Value = str | tuple[str, ...] | None

_MIDNIGHT = re.compile(r"(\d{4}-\d{2}-\d{2})T00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_TRUE = frozenset({"true", "yes", "1", "y", "on"})
_FALSE = frozenset({"false", "no", "0", "n", "off"})
# SCIM types that hold text as it is (RFC 7643 §2.3).
TEXT_TYPES = frozenset({"string", "reference", ""})
KNOWN = frozenset({"string", "reference", "boolean", "integer", "decimal", "datetime"})


def number_text(value: float) -> str:
    """3, 3.0 and "3" alike; 2.5 as 2.5."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _scalar(raw: object, kind: str = "") -> str | None:
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        inner = next((v for k, v in raw.items() if str(k).lower() == "value"), None)
        return _scalar(inner, kind)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return number_text(raw)
    text = str(raw).strip()
    if kind.lower() != "datetime":
        return text or None
    midnight = _MIDNIGHT.fullmatch(text)
    if midnight:
        return midnight.group(1)
    return (_instant(text) if _DATETIME.fullmatch(text) else text) or None


def _instant(text: str) -> str:
    """A dateTime in one spelling (UTC, seconds, Z), whichever a server answered with."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def canonical(raw: object, kind: str = "") -> Value:
    """What the server holds as one text (a sorted tuple for a list); ``kind`` is the type
    /Schemas declares (a dateTime reads back in one spelling, a midnight one as its date)."""
    if isinstance(raw, (list, tuple)):
        items = sorted({text for item in raw if (text := _scalar(item, kind))})
        return tuple(items) or None
    return _scalar(raw, kind)


def as_kind(text: str, kind: str) -> tuple[str | None, str | None]:
    """One text as the type ``kind`` holds it (canonical), or None and why it cannot."""
    kind = kind.lower()
    if kind in TEXT_TYPES:
        return text, None
    if kind == "boolean":
        folded = text.casefold()
        if folded in _TRUE or folded in _FALSE:
            return ("true" if folded in _TRUE else "false"), None
        return None, "is not a boolean (true/false)"
    if kind in ("integer", "decimal"):
        try:
            number = float(text.replace(",", "")) if kind == "decimal" else int(text)
        except ValueError:
            return None, f"is not {'an integer' if kind == 'integer' else 'a number'}"
        return number_text(number), None
    if kind == "datetime":
        midnight = _MIDNIGHT.fullmatch(text)
        if midnight:
            return midnight.group(1), None
        try:
            if len(text) == 10:
                return date.fromisoformat(text).isoformat(), None
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None, "is not a date (YYYY-MM-DD)"
        return _scalar(text, kind), None
    return text, None


def fits(text: str, kind: str) -> bool:
    """Whether a fixed value (a rule's output) can be written into ``kind``."""
    return as_kind(text, kind)[1] is None
