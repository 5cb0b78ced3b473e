"""Every employee and every SCIM user accounted for: one named outcome each, per run.

A run that says "in sync" must have decided something about each employee in HiBob's
answer and each SCIM user it lists. The planner records an outcome per subject as it
decides; the grace window, the apply step and (later) scope rules move subjects between
outcomes. Before a run reports success it checks the ledger against its inputs: a subject
with no outcome, or with two, is a defect of hibob-sync, never "in sync".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal, get_args

from hibob_sync.model import ScimUser

Outcome = Literal[
    "in_sync",
    "created",
    "updated",
    "adopted",
    "activated",  # a future hire's account, on day one
    "reactivated",
    "deactivated",
    "waiting",  # a vanished employee's user inside sync.vanished_grace
    "set_aside",  # with its reason in the run's failures
    "failed",  # planned, but the server did not take the write
    "out_of_scope",
    "protected",
    "unmanaged",  # another client's user, or a hand-made one nobody claims
]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)

# How each outcome reads in a summary.
WORDS: dict[str, str] = {
    "in_sync": "in sync",
    "created": "created",
    "updated": "updated",
    "adopted": "adopted",
    "activated": "activated on their first day",
    "reactivated": "reactivated",
    "deactivated": "deactivated",
    "waiting": "waiting in sync.vanished_grace",
    "set_aside": "set aside",
    "failed": "not written",
    "out_of_scope": "out of scope",
    "protected": "protected",
    "unmanaged": "not managed by hibob-sync",
}


class AccountingError(RuntimeError):
    """The outcomes do not add up to the run's inputs: a defect, reported as one (exit 70)."""


@dataclass
class Outcomes:
    """The ledger: an outcome per HiBob employee, and per SCIM user no employee accounts for."""

    employees: dict[str, Outcome] = field(default_factory=dict)
    users: dict[str, Outcome] = field(default_factory=dict)
    claimed: dict[str, str] = field(default_factory=dict)  # SCIM id -> the employee it serves
    twice: list[str] = field(default_factory=list)  # subjects given a second outcome (defects)
    foreign: int = 0  # of the unmanaged users, those another provisioning client made
    only: set[str] | None = None  # `--only`: the named people's HiBob IDs (see narrow)

    def employee(self, employee_id: str, outcome: Outcome, user_id: str | None = None) -> None:
        """Record an employee's outcome, and the SCIM user that is theirs (if any)."""
        if employee_id in self.employees:
            self.twice.append(f"employee {employee_id}")
        self.employees[employee_id] = outcome
        if user_id is not None:
            if user_id in self.claimed:  # one in `users` too: check() finds it
                self.twice.append(f"SCIM user {user_id}")
            self.claimed[user_id] = employee_id

    def user(self, user_id: str, outcome: Outcome) -> None:
        """Record the outcome of a SCIM user that no employee in HiBob's answer accounts for."""
        if user_id in self.users or user_id in self.claimed:
            self.twice.append(f"SCIM user {user_id}")
        self.users[user_id] = outcome

    def move(self, employee_id: str | None, user_id: str | None, outcome: Outcome) -> None:
        """Change the outcome of a subject already recorded (the grace window, a failed write)."""
        if employee_id is not None and employee_id in self.employees:
            self.employees[employee_id] = outcome
        elif user_id is not None and user_id in self.users:
            self.users[user_id] = outcome

    def outcome(self, employee_id: str | None, user_id: str | None) -> Outcome | None:
        """A subject's outcome so far (the employee's where there is one)."""
        if employee_id is not None and employee_id in self.employees:
            return self.employees[employee_id]
        return self.users.get(user_id) if user_id is not None else None

    def leave_out(self, employee_ids: Collection[str], users: Iterable[ScimUser]) -> None:
        """Employees the scope leaves out (scope.py), and their users no one accounts for."""
        for employee_id in sorted(employee_ids):
            self.employees.setdefault(employee_id, "out_of_scope")
        served = set(self.claimed.values())
        for user in users:
            external = user.external_id
            if external is None or external not in employee_ids:
                continue
            if user.id in self.claimed or user.id in self.users:
                continue
            if external in served:
                self.users[user.id] = "out_of_scope"  # a second user of theirs
            else:
                self.claimed[user.id] = external
                served.add(external)

    def narrow(self, employee_ids: Collection[str]) -> None:
        """`--only`: account for the named people alone; the nightly run accounts for all."""
        self.only = set(employee_ids)
        self.employees = {i: o for i, o in self.employees.items() if i in self.only}
        self.claimed = {u: i for u, i in self.claimed.items() if i in self.only}
        self.users = {}

    def counts(self) -> dict[str, int]:
        """Subjects per outcome, every outcome present (zeros included)."""
        found = Counter(self.employees.values())
        found.update(self.users.values())
        return {name: found.get(name, 0) for name in OUTCOMES}

    def totals(self) -> dict[str, int]:
        """What the counts add up to: employees in HiBob's answer plus unclaimed SCIM users."""
        return {"employees": len(self.employees), "scim_users": len(self.users)}

    def check(self, employee_ids: Collection[str], user_ids: Iterable[str]) -> None:
        """Raise AccountingError unless each input has exactly one outcome (see module)."""
        problems: list[str] = []
        if self.only is not None:  # a partial run: the named people and their users
            employee_ids = [i for i in employee_ids if i in self.only]
            user_ids = [i for i in user_ids if i in self.claimed]
        twice = self.twice + [f"SCIM user {i}" for i in self.users.keys() & self.claimed.keys()]
        if twice:
            problems.append("given two outcomes: " + ", ".join(sorted(twice)[:5]))
        missing = [i for i in employee_ids if i not in self.employees]
        if missing:
            problems.append(f"{len(missing)} employee(s) with no outcome (e.g. {min(missing)})")
        extra = [i for i in self.employees if i not in employee_ids]
        if extra:
            problems.append(f"{len(extra)} outcome(s) for employees HiBob did not return")
        listed = set(user_ids)
        unaccounted = listed - self.users.keys() - self.claimed.keys()
        if unaccounted:
            problems.append(
                f"{len(unaccounted)} SCIM user(s) with no outcome (e.g. {min(unaccounted)})"
            )
        unknown = (self.users.keys() | self.claimed.keys()) - listed
        if unknown:
            problems.append(f"{len(unknown)} outcome(s) for SCIM users not listed")
        if sum(self.counts().values()) != len(employee_ids) + len(self.users):
            problems.append("the counts do not add up")
        if problems:
            raise AccountingError(
                "internal error: the run's outcomes do not add up to its inputs: "
                + "; ".join(problems)
            )


def outcomes_text(outcomes: Outcomes) -> str:
    """One line: how many subjects, and how many ended in each outcome (zeros left out)."""
    totals = outcomes.totals()
    parts = []
    for name, count in outcomes.counts().items():
        if count:
            part = f"{count} {WORDS[name]}"
            if name == "unmanaged" and outcomes.foreign:
                part += (
                    f" ({outcomes.foreign} provisioned by another client: never changed; "
                    "hithrive.adopt: all takes them over by email)"
                )
            parts.append(part)
    users = totals["scim_users"]
    return (
        f"Accounted for: {totals['employees']} employees from HiBob and {users} SCIM "
        f"user{'' if users == 1 else 's'} with no employee: " + (", ".join(parts) or "none") + "."
    )
