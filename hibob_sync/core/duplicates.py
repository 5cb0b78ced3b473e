"""Records that share what should be unique: an email several employees hold, an ID HiBob
returned twice. Which record wins must not depend on the order of HiBob's answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from hibob_sync.hibob.answers import HibobEmployee
from hibob_sync.model import Failure

if TYPE_CHECKING:  # profiles.py imports this module
    from hibob_sync.core.profiles import Profile


def twice_returned(employees: Sequence[HibobEmployee]) -> set[str]:
    """HiBob IDs returned more than once: which record is right cannot be known."""
    if len({employee.id for employee in employees}) == len(employees):
        return set()  # the usual case, at C speed
    seen: set[str] = set()
    twice: set[str] = set()
    for employee in employees:
        (twice if employee.id in seen else seen).add(employee.id)
    return twice


def by_email_holders(email: str, holders: list[Profile]) -> tuple[list[Profile], list[Failure]]:
    """One address, several records: of those not leavers, an active one owns the address (a
    rehire's new record outranks a future hire), and where none or several do, every one of
    them is set aside. Leavers keep their record (deactivated by ID), marked as superseded by
    the one that owns the address: a rehire with a new HiBob record takes over the old
    record's account where it still holds the address (planner.py)."""
    live = [p for p in holders if not p.leaver]
    leavers = [p for p in holders if p.leaver]
    aside: list[Failure] = []
    if len(live) <= 1:
        return _superseded(leavers, live) + live, aside
    active = [p for p in live if p.active and p.status_known]
    if len(active) == 1:
        kept = [*_superseded(leavers, active), active[0]]
        for other in live:
            if other is not active[0]:
                aside.append(
                    Failure(
                        other.employee_id,
                        email,
                        f"the same email belongs to active employee {active[0].employee_id}",
                    )
                )
        return kept, aside
    kept = leavers
    ids = ", ".join(sorted(p.employee_id for p in live))
    who = "active employees" if all(p.active for p in live) else "employees who are not leavers"
    for holder in live:
        aside.append(
            Failure(
                holder.employee_id,
                email,
                f"the same email is used by {len(live)} {who} ({ids})",
            )
        )
    return kept, aside


def _superseded(leavers: list[Profile], owner: list[Profile]) -> list[Profile]:
    """The leavers, each marked with the record that owns their address now (if one does)."""
    if len(owner) != 1:
        return leavers
    return [replace(p, superseded_by=owner[0].employee_id) for p in leavers]
