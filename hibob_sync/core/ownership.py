"""Which SCIM users hibob-sync manages, from evidence (hithrive-scim.md, "Identity and
ownership").

Managed: the users it created or adopted (their SCIM ids kept in the state store) and those
whose ``externalId`` is the ID of an employee in HiBob's answer (which covers a lost state
store). Any other ``externalId`` was written by another provisioning client (Entra writes
its object IDs there): such a user is never changed, deactivated or counted, and is adopted
by email only with ``hithrive.adopt: all``. A user with no ``externalId`` was made by hand
and is adopted when its email matches an employee.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hibob_sync.config.settings import Adopt
from hibob_sync.core.actions import Plan
from hibob_sync.model import ScimUser

__all__ = ["Adopt", "Ownership", "foreign_line", "index_users", "name_of", "owned_after"]


class _Applied(Protocol):
    """What the apply step made (sync/apply.py's Applied)."""

    made: dict[str, bool]  # created or adopted SCIM id -> active


def name_of(user: ScimUser) -> str:
    """A user's address as compared: userName, trimmed and lower-cased."""
    return user.user_name.strip().lower()


@dataclass
class Ownership:
    """The listed users, indexed for matching, each known as managed, foreign or unowned."""

    by_external: dict[str, ScimUser] = field(default_factory=dict)  # managed, per employee
    seconds: list[ScimUser] = field(default_factory=list)  # a second managed user per employee
    by_name: dict[str, ScimUser] = field(default_factory=dict)  # the first user per address
    more: dict[str, list[ScimUser]] = field(default_factory=dict)  # the others, where any
    names: dict[str, str] = field(default_factory=dict)  # SCIM id -> address (name_of)
    by_id: dict[str, ScimUser] = field(default_factory=dict)
    managed: set[str] = field(default_factory=set)  # SCIM ids
    foreign: set[str] = field(default_factory=set)  # another client's externalId
    unowned: set[str] = field(default_factory=set)  # no externalId, not ours
    adopt: Adopt = "unowned"
    active: int = 0  # active users listed

    def holders(self, name: str) -> list[ScimUser]:
        """Every listed user with this address (in SCIM id order)."""
        first = self.by_name.get(name)
        return [first, *self.more.get(name, ())] if first is not None else []

    def adoptable(self, user: ScimUser) -> bool:
        """Whether an employee whose email matches may take this user over."""
        if user.id in self.foreign:
            return self.adopt == "all"
        return user.id in self.unowned or (user.id in self.managed and not user.external_id)

    def managed_count(self, users: Sequence[ScimUser]) -> int:
        """Managed users, active or not: what max_changes' percentage is of."""
        return sum(1 for user in users if user.id in self.managed)

    def managed_active(self, users: Sequence[ScimUser]) -> int:
        """Active managed users: what the safeguards' percentages are of."""
        if len(self.managed) == len(users):
            return self.active  # every listed user is managed: the usual case
        return sum(1 for user in users if user.active and user.id in self.managed)


def index_users(
    users: Sequence[ScimUser],
    answer_ids: Collection[str],
    owned: Collection[str] = (),
    adopt: Adopt = "unowned",
) -> Ownership:
    """Sort the listed users into managed, foreign and unowned (see module docstring).

    Where two managed users carry one employee's ID, the active one (else the lowest SCIM
    id) is theirs and the other is set aside, whatever order the server listed them in.
    ``users`` come sorted by SCIM id (the planner sorts them once).
    """
    found = Ownership(adopt=adopt)
    for user in users:
        name = name_of(user)
        found.names[user.id] = name
        found.by_id[user.id] = user
        if found.by_name.setdefault(name, user) is not user:
            found.more.setdefault(name, []).append(user)
        if user.active:
            found.active += 1
        external = user.external_id
        if user.id in owned or (external and external in answer_ids):
            found.managed.add(user.id)
            if not external:
                continue
            existing = found.by_external.get(external)
            if existing is None:
                found.by_external[external] = user
            elif user.active and not existing.active:
                found.by_external[external] = user
                found.seconds.append(existing)
            else:
                found.seconds.append(user)
        elif external:
            found.foreign.add(user.id)
        else:
            found.unowned.add(user.id)
    return found


def foreign_line(
    users: Sequence[ScimUser], answer_ids: Collection[str], owned: Collection[str]
) -> tuple[bool | None, str]:
    """`check`'s line on users another provisioning client made (never touched by a run):
    ok where there are none, a note where there are."""
    count = sum(
        1 for u in users if u.external_id and u.external_id not in answer_ids and u.id not in owned
    )
    if not count:
        return True, f"no SCIM user was provisioned by another client ({len(users)} users listed)"
    return None, (
        f"{count} of {len(users)} SCIM users were provisioned by another client (their "
        "externalId is no HiBob employee's ID): hibob-sync never changes, deactivates or counts "
        "them; hithrive.adopt: all takes them over by email"
    )


def owned_after(
    before: Mapping[str, bool], plan: Plan, applied: _Applied | None, users: Sequence[ScimUser]
) -> dict[str, bool]:
    """The SCIM ids to keep as created or adopted, each with whether it still waits for its
    first day (created ahead, inactive, never active since).

    ``before``: what the store held; the plan's owners: managed users matched to an
    employee this run; ``applied``: what this run created or adopted. Users the listing no
    longer has are dropped.
    """
    owners, made = plan.owners, applied.made if applied is not None else {}
    listed = {user.id: user.active for user in users}
    kept: dict[str, bool] = {}
    for user_id, ahead in before.items():
        if user_id in listed:
            kept[user_id] = ahead and not listed[user_id]
    for user_id in owners:
        kept.setdefault(user_id, False)
    for user_id, active in made.items():
        kept[user_id] = not active if user_id not in listed else kept.get(user_id, False)
    return kept
