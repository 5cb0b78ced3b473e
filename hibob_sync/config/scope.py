"""`scope:` and `hithrive.protect` in config.yaml: who is synced, and who is never touched.

A scope rule is a HiBob field ID and the display values (as HiBob shows them) that make it
hold, compared case-insensitively. `include` rules must all hold, `exclude` rules must not.
The field IDs are checked against HiBob's catalogue where the catalogue is at hand
(core.scope), as the mapping's are; here only their syntax and the file's shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hibob_sync.errors import ConfigError

if TYPE_CHECKING:
    from hibob_sync.config.reader import Reader as _Reader

# Same shape as the mapping's sources (config.mapping.FIELD_ID), without importing it:
# mapping.py reads files through settings.py, which reads this module.
_FIELD_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)+$")
OUT_OF_SCOPE = ("deactivate", "ignore")


@dataclass(frozen=True)
class Scope:
    """Who is synced: every include rule holds and no exclude rule does (none: everyone)."""

    include: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    out_of_scope: str = "deactivate"  # what happens to a managed user whose employee left it

    @property
    def everyone(self) -> bool:
        return not self.include and not self.exclude

    @property
    def fields(self) -> tuple[str, ...]:
        """The HiBob fields the rules read, each once: requested, never written or stored."""
        return tuple(dict.fromkeys([*self.include, *self.exclude]))


def _values(file: object, key: str, raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ConfigError(
                f"{file}: {key}: expected a list of values as HiBob shows them "
                f"(e.g. [London, Berlin]), got {type(item).__name__} {item!r}"[:200]
            )
        text = str(item).strip()
        if text and text not in values:
            values.append(text)
    if not values:
        raise ConfigError(f"{file}: {key}: expected at least one value")
    return tuple(values)


def rules(file: object, key: str, raw: object) -> dict[str, tuple[str, ...]]:
    """One rule block (`scope.include` or `scope.exclude`): field ID -> display values."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{file}: {key}: expected a mapping of HiBob field ID to a list of values, "
            f"got {type(raw).__name__}"
        )
    parsed: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if not isinstance(name, str) or not _FIELD_ID.match(name.strip()):
            raise ConfigError(
                f"{file}: {key}: {name!r} is not a HiBob field ID "
                "(expected something like work.site or work.custom.field_1700000000000)"
            )
        parsed[name.strip()] = _values(file, f"{key}.{name.strip()}", values)
    return parsed


def read_scope(reader: _Reader) -> Scope:
    """`scope:` from its reader (config.reader): unknown keys are errors there too."""
    include = rules(reader.file, reader.key("include"), reader.get("include", _any, "", None))
    exclude = rules(reader.file, reader.key("exclude"), reader.get("exclude", _any, "", None))
    policy = reader.get(
        "out_of_scope", lambda v: v in OUT_OF_SCOPE, "deactivate or ignore", "deactivate"
    )
    reader.done()
    return Scope(include, exclude, policy)


def read_protect(reader: _Reader) -> frozenset[str]:
    """`hithrive.protect`: userNames never changed, lower-cased (userName is case-insensitive)."""
    names = reader.get(
        "protect",
        lambda v: isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v),
        "a list of userNames (e.g. [ceo@example.com])",
        [],
    )
    return frozenset(name.strip().lower() for name in names)


def _any(_value: Any) -> bool:
    return True
