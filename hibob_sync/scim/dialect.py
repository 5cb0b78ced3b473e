"""Which way of writing an update a SCIM server takes, learned per user write and remembered.

RFC 7644 leaves room where servers differ (hithrive-scim.md, "Interop rules"): some refuse a
sub-attribute PATCH path (``…:manager.value``) and take the whole attribute
(``…:manager`` with ``{"value": id}``), others the opposite; some have no PATCH ``remove``
(or no PATCH at all). A refused PATCH climbs a short ladder for that one user: the other form
of the complex attributes it touches, then a PUT of the whole resource. What worked is kept
here, stored in the state store per SCIM URL, and the next run starts with it.

Keys of ``forms``: a complex attribute's full path (lower case) -> "sub" | "whole" | "put";
"patch" -> "put" when the server takes no PATCH; "remove" -> "put" when it takes no PATCH
``remove``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from hibob_sync.model import Value
from hibob_sync.scim.attributes import AttributePath

Form = Literal["sub", "whole", "put"]
FORMS: frozenset[str] = frozenset({"sub", "whole", "put"})
PATCH = "patch"
REMOVE = "remove"
# Refusals that say "not this way of writing it", as opposed to "not this value for this user".
LADDER_TYPES = frozenset({"invalidpath", "notarget", "invalidvalue", "invalidsyntax"})
NOT_IMPLEMENTED = frozenset({405, 501})


@dataclass(frozen=True)
class Step:
    """One attempt of a user's update: a PATCH with these complex-attribute forms, or a PUT."""

    method: Literal["PATCH", "PUT"]
    forms: Mapping[str, Form]


def ladder_worthy(status: int, scim_type: str | None) -> bool:
    """Whether a refused PATCH may succeed written another way (uniqueness/mutability: never)."""
    if status in NOT_IMPLEMENTED or status == 500:
        return True
    return status == 400 and (scim_type or "").lower() in LADDER_TYPES


class Dialect:
    """The forms one SCIM server takes; shared by the concurrent writes of a run."""

    def __init__(self, forms: Mapping[str, str] | None = None) -> None:
        self._forms: dict[str, Form] = {
            key.lower(): form  # type: ignore[misc]
            for key, form in (forms or {}).items()
            if form in FORMS
        }
        self._lock = threading.Lock()
        self.recoveries = 0  # users whose write needed another form this run

    @property
    def forms(self) -> dict[str, Form]:
        with self._lock:
            return dict(self._forms)

    @property
    def needs_resources(self) -> bool:
        """Whether some updates will be PUTs, which need each user's whole resource."""
        return "put" in self.forms.values()

    def steps(
        self,
        changes: Mapping[str, Value],
        where: Mapping[str, AttributePath],
        *,
        patch: bool,
    ) -> list[Step]:
        """The ladder for one update: the known form first, at most two more, never a loop."""
        forms = self.forms
        parents = {
            parent.full.lower() for name in changes if (parent := where[name].parent) is not None
        }
        clears = any(value is None or value == () for value in changes.values())
        put_only = (
            not patch
            or forms.get(PATCH) == "put"
            or (clears and forms.get(REMOVE) == "put")
            or any(forms.get(parent) == "put" for parent in parents)
        )
        if put_only:
            return [Step("PUT", {})]
        first: dict[str, Form] = {p: forms.get(p, "sub") for p in parents}
        steps = [Step("PATCH", first)]
        if parents:
            other: dict[str, Form] = {p: "whole" if f == "sub" else "sub" for p, f in first.items()}
            steps.append(Step("PATCH", other))
        steps.append(Step("PUT", {p: "put" for p in parents}))
        return steps

    def accepted(
        self,
        step: Step,
        refusals: list[int],
        changes: Mapping[str, Value],
    ) -> None:
        """Remember what worked after `refusals` (the statuses of the steps before it)."""
        learned: dict[str, Form] = dict(step.forms)
        if step.method == "PUT" and any(status in NOT_IMPLEMENTED for status in refusals):
            # Not this method or operation, whatever the attribute: PUT such updates from now.
            clears = any(value is None or value == () for value in changes.values())
            learned = {REMOVE if clears and 405 not in refusals else PATCH: "put"}
        with self._lock:
            if refusals:
                self.recoveries += 1
            self._forms.update(learned)


def describe(forms: Mapping[str, str]) -> list[str]:
    """The dialect in words, for the run summary and `check`."""
    lines = []
    for key, form in sorted(forms.items()):
        if key == PATCH and form == "put":
            lines.append("updates are PUTs of the whole user (the server takes no PATCH)")
        elif key == REMOVE and form == "put":
            lines.append("clearing a value is a PUT of the whole user (no PATCH remove)")
        elif form == "sub":
            lines.append(f"{key}: PATCHed by sub-attribute path")
        elif form == "whole":
            lines.append(f'{key}: PATCHed as a whole attribute ({{"value": …}})')
        elif form == "put":
            lines.append(f"{key}: changed by a PUT of the whole user")
    return lines
