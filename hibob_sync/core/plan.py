"""Plan the sync: compare HiBob profiles with SCIM users and decide every write.

Pure data in, pure data out: no network, so a plan can be printed (--dry-run), checked by
the safeguards and tested without servers. The data lives in actions.py, the decisions in
planner.py (matching, leavers, recycled addresses), ownership in ownership.py and the
accounting of every employee and user in outcomes.py.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from hibob_sync.core.actions import (
    ACTION_KINDS,
    Action,
    ActionKind,
    Pending,
    Plan,
    Same,
    current_values,
    settle,
)
from hibob_sync.core.ownership import Adopt
from hibob_sync.core.planner import Planner
from hibob_sync.core.profiles import Profiles
from hibob_sync.model import ScimUser

__all__ = [
    "ACTION_KINDS",
    "Action",
    "ActionKind",
    "Pending",
    "Plan",
    "Same",
    "current_values",
    "make_plan",
    "settle",
]


def make_plan(
    profiles: Profiles,
    users: Sequence[ScimUser],
    fields: Sequence[str],
    leavers: str,
    future_hires: str = "create_inactive",
    *,
    same: Same | None = None,
    owned: Collection[str] | Mapping[str, bool] = (),
    adopt: Adopt = "unowned",
    ahead: Collection[str] | None = None,
) -> Plan:
    """Decide every write of this run (see module docstring).

    ``same`` compares a field's values by meaning (scim_values.semantics: a server's
    caseExact); plain equality without it. ``owned``: SCIM ids hibob-sync created or adopted
    (the state store; as it keeps them, id -> created ahead); ``adopt``: hithrive.adopt;
    ``ahead``: SCIM ids created ahead for a future hire and not active since (their first
    activation is not a reactivation), by default those ``owned`` marks so.
    """
    if ahead is None:
        ahead = {i for i, a in owned.items() if a} if isinstance(owned, Mapping) else ()
    planner = Planner(
        profiles, users, fields, leavers, future_hires, owned=owned, adopt=adopt, ahead=ahead
    )
    if same is not None:
        planner.same = same
    return planner.run()
