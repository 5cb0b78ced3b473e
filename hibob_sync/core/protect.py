"""`hithrive.protect`: SCIM users that hibob-sync never changes, whatever HiBob says.

The CEO's account, a test user, a service account: their actions are taken out of the plan
after planning (so safeguards never count them) and counted in the summary, never an error.
A protected userName that has no user yet is not created either: "never touched" is what an
admin who lists it means.
"""

from __future__ import annotations

from collections.abc import Collection

from hibob_sync.core.plan import Action, Plan


def protected_name(action: Action) -> str:
    """The userName an action would touch: the user's own, or the email a create would use."""
    return (action.user.user_name if action.user is not None else action.email).strip().lower()


def hold_protected(plan: Plan, protect: Collection[str]) -> list[Action]:
    """Take every action on a protected user out of ``plan``; the ones held, for counting.

    Their employees' problems go too: a protected user is left as it is, so a bad record
    behind it makes nothing worse.
    """
    if not protect:
        return []
    held = [a for a in plan.actions if protected_name(a) in protect or a.email in protect]
    if held:
        plan.actions = [a for a in plan.actions if all(a is not h for h in held)]
    plan.rejected = [f for f in plan.rejected if (f.email or "") not in protect]
    plan.warnings = [f for f in plan.warnings if (f.email or "") not in protect]
    return held
