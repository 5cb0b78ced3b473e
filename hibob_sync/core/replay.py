"""`apply`: the fresh plan, carried out only where it matches the reviewed one action for action.

The plan file is a record of what the admin reviewed, never a list of instructions: `apply`
re-reads HiBob and HiThrive, plans afresh, and writes the fresh plan's actions (built from
what it just read) only when each of them matches a reviewed action exactly: the same user,
kind, fields, values before and after, externalId and active. Nothing in the file is written
as it stands, so an edited file can only be refused. The reviewed safeguards and the
deactivations still waiting in the grace window are approved by the review.

A reviewed action with no fresh counterpart whose user already holds what it wanted counts
as done (an earlier `apply` that was killed or failed half-way wrote it), so running `apply`
again finishes the plan without duplicates; a fresh action that is the rest of such a
half-done action (a new user's manager link) is carried out. Any other difference, an
edited file or data that moved since, refuses the whole plan (65), naming each difference,
and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from hibob_sync.core.plan import Action, Plan, current_values
from hibob_sync.core.plan_file import PlanFile, StoredAction
from hibob_sync.core.safeguards import Tripped
from hibob_sync.errors import PlanRefused
from hibob_sync.model import ScimUser
from hibob_sync.safe_text import shown

SHOWN = 20  # differences named in the message; the rest are counted
FOLLOW_UPS = {"create": {"create", "update"}, "adopt": {"adopt", "update"}}

Key = tuple[str, str]


class Replay(NamedTuple):
    """What `apply` carries out (the fresh plan's actions), and how many reviewed actions
    an earlier apply had already done."""

    plan: Plan
    already_done: int = 0


def _key(employee_id: str | None, email: str) -> Key:
    """Actions are paired by HiBob employee ID; one without (never planned) by its email."""
    return ("id", employee_id) if employee_id is not None else ("email", email.strip().lower())


def _who(email: str, employee_id: str | None) -> str:
    return f"{shown(email)} (HiBob {shown(employee_id)})" if employee_id else shown(email)


def _same(stored: StoredAction, action: Action) -> bool:
    return (
        stored.kind == action.kind
        and stored.email == action.email
        and stored.scim_id == (action.user.id if action.user else None)
        and stored.external_id == action.external_id
        and stored.active == action.active
        and stored.changes == action.changes
    )


def _rest_of(
    stored: StoredAction, action: Action, user: ScimUser | None, email_of: dict[str, str]
) -> bool:
    """Whether the fresh action is what is left of a reviewed one an earlier apply half did."""
    if action.kind not in FOLLOW_UPS.get(stored.kind, {stored.kind}) or user is None:
        return False
    if action.email != stored.email or action.active not in (None, stored.active):
        return False
    if action.external_id not in (None, stored.external_id):
        return False
    if any(stored.changes.get(name) != change for name, change in action.changes.items()):
        return False
    return _holds(stored, user, email_of, skip=set(action.changes))


def _holds(
    stored: StoredAction, user: ScimUser, email_of: dict[str, str], skip: set[str] | None = None
) -> bool:
    """Whether the user already holds what the reviewed action wanted (a half-done apply).

    The manager is left out unless asked for: it may lag when the manager's own write failed.
    """
    skip = {"manager_email"} if skip is None else skip
    fields = [name for name in stored.changes if name not in skip]
    now = current_values(user, fields, email_of)
    if any(now.get(name) != after for name, (_, after) in stored.changes.items() if name in now):
        return False
    if stored.active is not None and user.active != stored.active:
        return False
    return stored.external_id is None or user.external_id == stored.external_id


def _user_of(stored: StoredAction, users: Sequence[ScimUser]) -> ScimUser | None:
    """The SCIM user a reviewed action is about, as read now."""
    for user in users:
        if stored.scim_id is not None:
            if user.id == stored.scim_id:
                return user
        elif stored.employee_id is not None and user.external_id == stored.employee_id:
            return user
    return None


def _field_names(stored: StoredAction, action: Action) -> str:
    """What differs, by name; an address as the file has it, since it names a person."""
    names = sorted(
        name
        for name in set(stored.changes) | set(action.changes)
        if stored.changes.get(name) != action.changes.get(name)
    )
    if stored.email != action.email:
        names = [name for name in names if name != "email"]
        names.insert(0, f"email (the file says {shown(stored.email)})")
    if stored.external_id != action.external_id:
        names.append("externalId")
    if stored.active != action.active:
        names.append("active")
    if stored.scim_id != (action.user.id if action.user else None):
        names.append("SCIM user")
    return ", ".join(names)


def _difference(stored: StoredAction, action: Action) -> str:
    who = _who(action.email, action.employee_id)
    if stored.kind != action.kind:
        return f"{who}: reviewed as {stored.kind}, a fresh plan says {action.kind}"
    moved = [
        name
        for name, (before, after) in action.changes.items()
        if name in stored.changes and stored.changes[name][0] != before
    ]
    where = "HiThrive" if moved else "HiBob"
    return (
        f"{who}: {stored.kind} differs from the reviewed one in {_field_names(stored, action)} "
        f"(changed in {where} since, or the file was edited)"
    )


def _safeguards(plan_file: PlanFile, found: Sequence[Tripped]) -> list[str]:
    """Safeguards a fresh plan trips that the review did not approve (or never can)."""
    reviewed = {t.safeguard for t in plan_file.safeguards}
    problems = []
    for item in found:
        if not item.reviewable:
            problems.append(f"{item.message} (no review can approve this)")
        elif item.safeguard not in reviewed:
            problems.append(f"a fresh plan trips [{item.safeguard}], which was not reviewed")
    return problems


def replay(
    plan_file: PlanFile, fresh: Plan, found: Sequence[Tripped], users: Sequence[ScimUser]
) -> Replay:
    """The fresh plan, held waiting deactivations included, if it matches the reviewed one
    (see module docstring); PlanRefused (65) naming each difference if not."""
    email_of = {u.id: u.user_name.strip().lower() for u in users}
    reviewed: dict[Key, StoredAction] = {}
    differences = _safeguards(plan_file, found)
    for item in plan_file.actions:
        key = _key(item.employee_id, item.email)
        if key in reviewed:
            differences.append(f"{_who(item.email, item.employee_id)}: listed twice")
        reviewed[key] = item
    todo: list[Action] = []
    matched: set[Key] = set()
    for action in fresh.actions + fresh.held:
        key = _key(action.employee_id, action.email)
        stored = reviewed.get(key)
        if stored is None:
            differences.append(
                f"{_who(action.email, action.employee_id)}: a fresh plan would {action.kind} "
                "them, the reviewed plan does not"
            )
        elif _same(stored, action) or _rest_of(stored, action, _user_of(stored, users), email_of):
            todo.append(action)
        else:
            differences.append(_difference(stored, action))
        matched.add(key)
    done = 0
    for key, kept in reviewed.items():
        if key in matched:
            continue
        user = _user_of(kept, users)
        if kept.employee_id is not None and user is not None and _holds(kept, user, email_of):
            done += 1
        else:
            differences.append(
                f"{_who(kept.email, kept.employee_id)}: reviewed as {kept.kind}, a fresh "
                "plan has nothing to do for them (changed since, or the file was edited)"
            )
    if differences:
        named = "; ".join(differences[:SHOWN])
        more = f"; and {len(differences) - SHOWN} more" if len(differences) > SHOWN else ""
        raise PlanRefused(
            f"the plan {plan_file.path} cannot be applied: a fresh plan from what HiBob and "
            f"HiThrive hold now differs from the reviewed one in {len(differences)} "
            f"place(s): {named}{more}; nothing was written",
            hint="make a new plan with `hibob-sync plan -o FILE`, review it, and apply that",
        )
    return Replay(replace(fresh, actions=todo, pending=[], held=[]), done)
