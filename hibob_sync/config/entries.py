"""One mapping entry in its long form, and the value rules it may carry.

`{from: FIELD or [FIELDS], values: {HiBob display value: written value}, default: VALUE}`:
``values`` maps a display value (an unmatched one passes through, or becomes ``default``
where one is set); ``default`` is also what is written when HiBob has no value. The short
form (``job_title: work.title``) is an entry with no rules. Pure data: profiles.py applies it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hibob_sync.errors import ConfigError

FIELD_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)+$")
LONG_KEYS = ("from", "values", "default")


@dataclass(frozen=True)
class ValueRule:
    """`values` and `default` of one entry; an empty rule changes nothing."""

    values: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    def __bool__(self) -> bool:
        return bool(self.values) or self.default is not None

    def one(self, value: object) -> object:
        """One HiBob display value through ``values`` (exact, then case-insensitive)."""
        if not self.values or isinstance(value, (dict, list, tuple)) or value is None:
            return value
        text = as_text(value)
        hit = self.values.get(text)
        if hit is None:
            folded = text.casefold()
            hit = next((v for k, v in self.values.items() if k.casefold() == folded), None)
        if hit is not None:
            return hit
        return self.default if self.default is not None else value

    def mapped(self, value: object) -> object:
        """A source's value (a list item by item) through ``values``; no default here."""
        if isinstance(value, (list, tuple)):
            return [self.one(item) for item in value]
        return self.one(value)

    def outputs(self) -> list[str]:
        """Every value this rule can write of its own (for type checks)."""
        out = list(self.values.values())
        return out + ([self.default] if self.default is not None else [])

    def as_yaml(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.values:
            data["values"] = dict(self.values)
        if self.default is not None:
            data["default"] = self.default
        return data


NO_RULE = ValueRule()


def as_text(value: object) -> str:
    """A YAML or HiBob scalar as the text compared and written (true, 3, 2.5, Europe/Berlin)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def sources_of(key: str, raw: object, where: str) -> tuple[str, ...]:
    """The HiBob field IDs of one entry's `from` (one, or a list)."""
    items: list[object] = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    if not items:
        raise ConfigError(f"{where}: {key}: expected a HiBob field ID or a list of them")
    result: list[str] = []
    for item in items:
        if not isinstance(item, str) or not FIELD_ID.match(item.strip()):
            raise ConfigError(
                f"{where}: {key}: {item!r} is not a HiBob field ID "
                "(expected something like work.title or work.custom.field_1700000000000)"
            )
        if item.strip() not in result:
            result.append(item.strip())
    return tuple(result)


def _scalar(key: str, what: str, value: object, where: str) -> str:
    if isinstance(value, (dict, list, tuple)) or value is None:
        raise ConfigError(f"{where}: {key}.{what}: expected a single value, got {value!r}")
    text = as_text(value)
    if not text:
        raise ConfigError(f"{where}: {key}.{what}: expected a value, got an empty one")
    return text


def parse_entry(key: str, raw: object, where: str) -> tuple[tuple[str, ...], ValueRule]:
    """Sources and rule of one entry, short or long form; ConfigError names ``key``."""
    if not isinstance(raw, dict):
        return sources_of(key, raw, where), NO_RULE
    unknown = [str(k) for k in raw if k not in LONG_KEYS]
    if unknown:
        raise ConfigError(
            f"{where}: {key}: unknown key {unknown[0]!r} (the long form takes from, values, "
            "default)"
        )
    if raw.get("from") is None:
        raise ConfigError(f"{where}: {key}: the long form needs `from: <HiBob field ID>`")
    values_raw = raw.get("values") or {}
    if not isinstance(values_raw, dict):
        raise ConfigError(
            f"{where}: {key}.values: expected a map of HiBob display value to written value"
        )
    values = {
        _scalar(key, "values", k, where): _scalar(key, f"values.{k}", v, where)
        for k, v in values_raw.items()
    }
    default = None if raw.get("default") is None else _scalar(key, "default", raw["default"], where)
    return sources_of(key, raw["from"], where), ValueRule(values, default)


def entry_yaml(sources: tuple[str, ...], rule: ValueRule) -> object:
    """The YAML data of one entry: the short form where it has no rule."""
    short: object = sources[0] if len(sources) == 1 else list(sources)
    if not rule:
        return short
    return {"from": short, **rule.as_yaml()}
