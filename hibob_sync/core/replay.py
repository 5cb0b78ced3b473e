"""Carry out a reviewed plan again on what HiBob and HiThrive hold now, or refuse it.

Every touched user is checked on both sides against its fingerprint in the plan file. A user
whose HiThrive side already holds what the plan wanted (a previous `apply` that was killed or
failed half-way wrote it) counts as done, so running `apply` again finishes the plan without
duplicates. Any other difference means the user moved since the review: the whole plan is
refused, naming each such user, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hibob_sync.core.plan import Plan, current_values
from hibob_sync.core.plan_file import PlanFile, StoredAction, hibob_fingerprint, scim_fingerprint
from hibob_sync.errors import SafeguardError
from hibob_sync.hibob.answers import HibobEmployee
from hibob_sync.model import ScimUser

SHOWN = 20  # moved users named in the message; the rest are counted


@dataclass
class Replay:
    """The part of a reviewed plan still to do, and how many of its actions were done."""

    plan: Plan
    already_done: int = 0


def _holds(stored: StoredAction, user: ScimUser, email_of: dict[str, str]) -> bool:
    """Whether the user already holds what the action wanted (a half-done earlier apply).

    The manager is left out: it may legitimately lag when the manager's own write failed.
    """
    fields = [name for name in stored.changes if name != "manager_email"]
    now = current_values(user, fields, email_of)
    if any(now.get(name) != after for name, (_, after) in stored.changes.items() if name in now):
        return False
    if stored.active is not None and user.active != stored.active:
        return False
    return stored.external_id is None or user.external_id == stored.external_id


def replay(
    plan_file: PlanFile, employees: Sequence[HibobEmployee], users: Sequence[ScimUser]
) -> Replay:
    """The reviewed actions on today's users; SafeguardError (65) if any user moved."""
    by_hibob_id = {e.id: e for e in employees}
    by_id = {u.id: u for u in users}
    by_external = {u.external_id: u for u in users if u.external_id}
    by_email = {u.user_name.strip().lower(): u for u in users}
    email_of = {u.id: u.user_name.strip().lower() for u in users}
    result = Replay(Plan())
    moved: list[str] = []
    for stored in plan_file.actions:
        employee = by_hibob_id.get(stored.employee_id) if stored.employee_id else None
        if hibob_fingerprint(employee) != stored.hibob:
            moved.append(f"{stored.email} (changed in HiBob)")
            continue
        if stored.kind == "create":
            user = by_external.get(stored.employee_id or "") or by_email.get(stored.email)
            if user is None:
                result.plan.actions.append(stored.action(None))
                continue
        else:
            user = by_id.get(stored.scim_id or "")
            if user is None:
                moved.append(f"{stored.email} (gone from HiThrive)")
                continue
            if scim_fingerprint(user) == stored.scim:
                result.plan.actions.append(stored.action(user))
                continue
        if _holds(stored, user, email_of):
            result.already_done += 1
        else:
            moved.append(f"{stored.email} (changed in HiThrive)")
    if moved:
        named = ", ".join(moved[:SHOWN])
        more = f" and {len(moved) - SHOWN} more" if len(moved) > SHOWN else ""
        raise SafeguardError(
            f"the plan {plan_file.path} cannot be applied: {len(moved)} of its "
            f"{len(plan_file.actions)} users moved since it was made: {named}{more}; "
            "nothing was written",
            hint="make a new plan with `hibob-sync plan -o FILE`, review it, and apply that",
        )
    return result
