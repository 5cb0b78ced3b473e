"""One extra attribute's value for one employee: sources, value rules, then the SCIM type.

A value that the attribute's type cannot hold (text into a boolean) is a problem for that
attribute only: the caller leaves it as it is and warns, the rest of the employee syncs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hibob_sync.config.entries import ValueRule, as_text
from hibob_sync.hibob.answers import HibobEmployee
from hibob_sync.kinds import as_kind
from hibob_sync.model import Value

MAX_TEXT = 255
MAX_ITEMS = 50


@dataclass(frozen=True)
class Kind:
    """What the server declares of an extra attribute: its type and whether it is a list."""

    type: str = "string"
    multi: bool = False


def _items(raw: Sequence[object], multi: bool) -> list[object]:
    found: list[object] = []
    for value in raw:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        values = [v for v in values if v is not None and as_text(v) != ""]
        if not multi and values:
            return values[:1]  # a single attribute: the first non-empty value
        found += values
    return found


def extra_value(
    key: str, sources: Sequence[str], employee: HibobEmployee, rule: ValueRule, kind: Kind
) -> tuple[Value, str | None]:
    """The canonical value of extra attribute ``key``, or None and why it cannot be written."""
    raw = [rule.mapped(employee.values.get(source)) for source in sources]
    texts: list[str] = []
    for item in _items(raw, kind.multi):
        if isinstance(item, dict):
            return None, f"{key} maps to a HiBob object, not a value"
        text = as_text(item)
        if len(text) > MAX_TEXT:
            return None, f"{key} is longer than {MAX_TEXT} characters"
        texts.append(text)
    if not texts and rule.default is not None:
        texts = [rule.default]
    converted: list[str] = []
    for text in texts:
        value, why = as_kind(text, kind.type)
        if why or value is None:
            return None, f"{key}: the value from {'/'.join(sources)} {why}"
        converted.append(value)
    if not converted:
        return None, None
    if not kind.multi:
        return converted[0], None
    if len(set(converted)) > MAX_ITEMS:
        return None, f"{key} has more than {MAX_ITEMS} entries"
    return tuple(sorted(set(converted))), None
