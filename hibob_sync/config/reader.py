"""Walk a YAML mapping key by key: types checked, unknown keys refused with a hint.

Every error names the file and the key path (``sync.max_deactivations``) and is a
ConfigError (78); config.yaml's loader (settings.py) reads each section through one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hibob_sync.errors import ConfigError


class Reader:
    """Walks one YAML mapping, checking types and rejecting unknown keys."""

    def __init__(self, file: Path, data: Any, prefix: str = "", root: Reader | None = None) -> None:
        self.file = file
        self.prefix = prefix
        # Every key path read anywhere in the file, so an unknown key can say where it belongs.
        self.root = root or self
        self.known: set[str] = set()
        self.unknown: list[str] = []
        if data is None:
            data = {}
        if not isinstance(data, dict):
            where = f"{prefix.rstrip('.')}" if prefix else "the top level"
            raise self.error(where, "a mapping of keys to values", data)
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def error(self, key: str, expected: str, got: Any) -> ConfigError:
        kind = "nothing" if got is None else f"{type(got).__name__} {got!r}"
        if len(kind) > 80:
            kind = kind[:77] + "..."
        return ConfigError(f"{self.file}: {key}: expected {expected}, got {kind}")

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def get(self, name: str, check: Callable[[Any], bool], expected: str, default: Any) -> Any:
        self.seen.add(name)
        self.root.known.add(self.key(name))
        if name not in self.data or self.data[name] is None:
            return default
        value = self.data[name]
        if not check(value):
            raise self.error(self.key(name), expected, value)
        return value

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name, lambda v: isinstance(v, str) and v.strip() != "", "a text", default)
        return value.strip() if isinstance(value, str) else value

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        value: int = self.get(
            name,
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum,
            f"a whole number of at least {minimum}",
            default,
        )
        return value

    def number(self, name: str, default: float) -> float:
        value = self.get(
            name,
            lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
            "a positive number",
            default,
        )
        return float(value)

    def child(self, name: str) -> Reader:
        self.seen.add(name)
        self.root.known.add(self.key(name))
        return Reader(self.file, self.data.get(name), self.key(name) + ".", self.root)

    def done(self) -> None:
        """Note unknown keys; the root reports the first once every level has been read."""
        for name in sorted(str(k) for k in self.data if k not in self.seen):
            known = ", ".join(sorted(self.seen))
            self.root.unknown.append(f"{self.key(name)} (known keys here: {known})")
        if self.root is self and self.unknown:
            first = self.unknown[0]
            name = first.split(" ", 1)[0].rsplit(".", 1)[-1]
            elsewhere = sorted(k for k in self.known if k.rsplit(".", 1)[-1] == name)
            hint = f"{name} belongs at {' or '.join(elsewhere)}" if elsewhere else None
            raise ConfigError(f"{self.file}: unknown key {first}", hint=hint)
