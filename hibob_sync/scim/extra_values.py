"""Extra attributes on the wire: typed as /Schemas declares, and one item of a multi-valued
complex attribute (``addresses[type eq "work"].country``) written without losing the others.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

_KEEP_ALONE = frozenset({"type", "primary"})  # an item with only these holds nothing


def _one(text: str, kind: str) -> Any:
    if kind == "boolean":
        return text == "true"
    if kind == "integer":
        return int(text)
    if kind == "decimal":
        return float(text)
    if kind == "datetime" and len(text) == 10:
        return f"{text}T00:00:00Z"  # a date into a dateTime: midnight UTC, read back equal
    return text


def typed_wire(value: object, kind: str, multi: bool) -> Any:
    """A canonical value (text, or a tuple of texts) as the server's type holds it."""
    if value is None:
        return None
    items = list(value) if isinstance(value, tuple) else [value]
    typed = [_one(str(item), kind.lower()) for item in items]
    return typed if multi or isinstance(value, tuple) else typed[0]


def _matches(item: object, wanted: str) -> bool:
    if not isinstance(item, Mapping):
        return False
    kind = next((v for k, v in item.items() if str(k).lower() == "type"), None)
    return str(kind or "").lower() == wanted.lower()


def _key(item: Mapping[str, Any], sub: str) -> str:
    return next((k for k in item if k.lower() == sub.lower()), sub)


def set_item(items: object, type_value: str, sub: str, value: Any) -> list[Any]:
    """The attribute's items with ``sub`` of the one of this type set (the item added where
    there is none); the others kept as they are."""
    result = copy.deepcopy(items) if isinstance(items, list) else []
    for item in result:
        if _matches(item, type_value):
            item[_key(item, sub)] = value
            return result
    result.append({"type": type_value, sub: value})
    return result


def unset_item(items: object, type_value: str, sub: str) -> list[Any]:
    """The attribute's items without ``sub`` of the one of this type (the item dropped when
    nothing else is left in it)."""
    result: list[Any] = []
    for item in copy.deepcopy(items) if isinstance(items, list) else []:
        if _matches(item, type_value):
            item.pop(_key(item, sub), None)
            if not set(k.lower() for k in item) - _KEEP_ALONE:
                continue
        result.append(item)
    return result
