"""The checklist `check` prints: one item per line, and the worst item's exit code."""

from __future__ import annotations

from dataclasses import dataclass, field

from hibob_sync.errors import ExitCode, HibobSyncError
from hibob_sync.hibob.client import (
    CatalogueField,
)


@dataclass(frozen=True)
class Item:
    """One line of the checklist."""

    ok: bool | None  # None: a note or warning that does not fail the check
    text: str
    exit_code: int = ExitCode.OK
    hint: str | None = None

    @property
    def line(self) -> str:
        """The item as `check` prints it: `[ok  ]`, `[FAIL]` or `[note]`, then the text."""
        mark = {True: "ok  ", False: "FAIL", None: "note"}[self.ok]
        return f"[{mark}] {self.text}"


@dataclass
class Checklist:
    """Every item, and the verdict."""

    items: list[Item] = field(default_factory=list)
    catalogue: list[CatalogueField] | None = None  # HiBob's, once read: extras are judged by it

    def add(
        self, ok: bool | None, text: str, code: int = ExitCode.OK, hint: str | None = None
    ) -> None:
        self.items.append(Item(ok, text, code if ok is False else ExitCode.OK, hint))

    def error(self, exc: HibobSyncError, prefix: str) -> None:
        self.add(False, f"{prefix}: {exc.message}", exc.exit_code, exc.hint)

    @property
    def exit_code(self) -> int:
        return max((item.exit_code for item in self.items), default=ExitCode.OK)
