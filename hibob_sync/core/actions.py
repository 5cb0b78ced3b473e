"""The plan as data: one Action per user to write, the users waiting out a grace window, and
what the run found along the way (set aside, warnings, outcomes). No decisions here: the
planner (planner.py) makes them, the safeguards count them, apply.py carries them out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from hibob_sync.core.outcomes import Outcome, Outcomes
from hibob_sync.model import Failure, ScimUser, Value, scim_field

ActionKind = Literal["create", "update", "adopt", "reactivate", "deactivate"]
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)  # in the order they are applied


@dataclass
class Action:
    """One user's writes: what kind, and per field the value before and after."""

    kind: ActionKind
    email: str
    employee_id: str | None
    user: ScimUser | None = None
    changes: dict[str, tuple[Value, Value]] = field(default_factory=dict)
    external_id: str | None = None  # set when it changes (create, adopt)
    active: bool | None = None  # set when it changes
    # Address hand-overs this write waits for: 0 needs none; n waits for the users of wave
    # n - 1 to leave the address it takes (hithrive-scim.md, recycled addresses).
    wave: int = 0
    day_one: bool = False  # a future hire's account made active on their first day

    @property
    def manager_email(self) -> str | None:
        """The manager this action points the user at, if it changes the manager."""
        after = self.changes.get("manager_email", (None, None))[1]
        return after if isinstance(after, str) else None

    @property
    def deactivates(self) -> bool:
        """Whether it takes access away from an account that has it now."""
        return (
            (self.active is False or self.kind == "deactivate")
            and self.kind != "create"
            and (self.user is None or self.user.active)
        )

    @property
    def reactivates(self) -> bool:
        """Whether it gives access back to an existing account (a first day aside)."""
        return (
            (self.active is True or self.kind == "reactivate")
            and self.kind != "create"
            and not self.day_one
            and (self.user is None or not self.user.active)
        )


@dataclass(frozen=True)
class Pending:
    """A managed user whose employee HiBob stopped returning, waiting out sync.vanished_grace."""

    employee_id: str
    email: str
    missing_since: str  # ISO 8601, when a run first did not see the employee
    countdown: str  # e.g. "2 of 3 days"


@dataclass
class Plan:
    """Everything a run will do, plus what it found along the way."""

    actions: list[Action] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    managed_active: int = 0  # active SCIM users hibob-sync manages, for the safeguard
    managed: int = 0  # every SCIM user hibob-sync manages, active or not (max_changes)
    pending: list[Pending] = field(default_factory=list)  # held back by vanished.py
    held: list[Action] = field(default_factory=list)  # their deactivations, for `apply`
    outcomes: Outcomes = field(default_factory=Outcomes)
    # SCIM id -> HiBob ID of every managed user matched to an employee (the state keeps them).
    owners: dict[str, str] = field(default_factory=dict)

    def of_kind(self, kind: ActionKind) -> list[Action]:
        return [action for action in self.actions if action.kind == kind]

    def counts(self) -> dict[str, int]:
        """Counts per action kind, plus unchanged, rejected and users left alone."""
        counts: dict[str, int] = dict.fromkeys(ACTION_KINDS, 0)
        for action in self.actions:
            counts[action.kind] += 1
        counts["unchanged"] = self.unchanged
        counts["rejected"] = len(self.rejected)
        counts["pending"] = len(self.pending)
        outcomes = self.outcomes.counts()
        for name in ("unmanaged", "out_of_scope", "protected"):  # users left alone, by rule
            if outcomes[name]:
                counts[name] = outcomes[name]
        return counts


def outcome_of(action: Action) -> Outcome:
    """The outcome an action gives its subject once written."""
    if action.kind == "reactivate":
        return "activated" if action.day_one else "reactivated"
    done: dict[ActionKind, Outcome] = {
        "create": "created",
        "update": "updated",
        "adopt": "adopted",
        "deactivate": "deactivated",
    }
    return done[action.kind]


def current_values(
    user: ScimUser, fields: Iterable[str], email_of: dict[str, str]
) -> dict[str, Value]:
    """A SCIM user in HiThrive terms: the manager's SCIM id becomes the manager's email."""
    values: dict[str, Value] = {}
    for name in fields:
        if name == "manager_email":
            manager_id = user.values.get("manager_id")
            if isinstance(manager_id, str) and manager_id:
                values[name] = email_of.get(manager_id, f"(unknown SCIM id {manager_id})")
            else:
                values[name] = None
        else:
            values[name] = user.values.get(scim_field(name))
    return values


Same = Callable[[str, Value, Value], bool]


def equal(_field: str, a: Value, b: Value) -> bool:
    return a == b


def diff(
    desired: dict[str, Value], current: dict[str, Value], skip: set[str], same: Same = equal
) -> dict[str, tuple[Value, Value]]:
    """Per field that differs: (now, wanted); ``skip`` fields are left as they are."""
    return {
        name: (current.get(name), value)
        for name, value in desired.items()
        if name not in skip and not same(name, current.get(name), value)
    }


def settle(
    plan: Plan,
    employee_ids: Collection[str],
    user_ids: Iterable[str],
    failures: Sequence[Failure] = (),
) -> None:
    """The ledger after the writes: each action carried out gives its subject its outcome
    (a waiting deactivation an approved `apply` made included), one the server did not take
    'failed'; then the outcomes must add up to the inputs (AccountingError otherwise)."""
    failed = {(f.employee_id, f.email) for f in failures}
    ledger = plan.outcomes
    for action in plan.actions:
        user_id = action.user.id if action.user else None
        if (action.employee_id, action.email) in failed:
            ledger.move(action.employee_id, user_id, "failed")
        elif ledger.outcome(action.employee_id, user_id) != "out_of_scope":  # scope.py's
            ledger.move(action.employee_id, user_id, outcome_of(action))
    plan.outcomes.check(employee_ids, user_ids)
