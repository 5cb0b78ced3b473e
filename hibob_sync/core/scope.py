"""Who is synced: the `scope:` rules judged per employee, and what leaving the scope does.

The rules filter the planner's input (out-of-scope employees' profiles never reach it) and
settle its output (a managed user whose employee is out of scope is deactivated, or left
alone under `out_of_scope: ignore`). Out-of-scope employees stay "seen", so their users are
never mistaken for vanished ones. A verdict's text names the rule and the rule's own values
(config, not HR data), so it may be shown and logged; the employee's values never are.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from hibob_sync.config.mapping_check import did_you_mean
from hibob_sync.config.scope import Scope
from hibob_sync.core.plan import Action, Plan
from hibob_sync.core.profiles import Profiles
from hibob_sync.errors import ConfigError, PermissionMissingError
from hibob_sync.hibob.answers import CatalogueField, HibobEmployee, catalogue_field, index_of
from hibob_sync.model import ScimUser

ROOT_ID = "root.id"
FIELDS_HINT = (
    "scope rules take HiBob field IDs, as the mapping does; `hibob-sync scope fields` lists them"
)


@dataclass(frozen=True)
class Verdict:
    """In or out of scope, and the rule that decided it."""

    in_scope: bool
    rule: str


EVERYONE = Verdict(True, "no scope rules: everyone is synced")


def _texts(value: object) -> set[str]:
    """Every display value a field holds, case-folded: a list field holds one per item."""
    items = value if isinstance(value, (list, tuple)) else [value]
    texts: set[str] = set()
    for item in items:
        if isinstance(item, dict):  # an employee reference: its names and email count
            texts |= {str(v).strip().casefold() for v in item.values() if isinstance(v, str)}
        elif isinstance(item, float) and item.is_integer():
            texts.add(str(int(item)))
        elif item is not None and not isinstance(item, (list, tuple)):
            texts.add(str(item).strip().casefold())
    texts.discard("")
    return texts


def holds(employee: HibobEmployee, field_id: str, values: Iterable[str]) -> bool:
    """Whether one rule holds; never for an employee with no value in the field."""
    if field_id == ROOT_ID:
        have = {employee.id.casefold()}
    else:
        have = _texts(employee.values.get(field_id))
    return bool(have & {v.casefold() for v in values})


def _rule(kind: str, field_id: str, values: Sequence[str]) -> str:
    return f"{kind} {field_id}: [{', '.join(values)}]"


def judge(employee: HibobEmployee, scope: Scope) -> Verdict:
    """In scope when every include rule holds and no exclude rule does."""
    if scope.everyone:
        return EVERYONE
    for field_id, values in scope.include.items():
        if not holds(employee, field_id, values):
            empty = field_id != ROOT_ID and not _texts(employee.values.get(field_id))
            why = f" (they have no value in {field_id})" if empty else ""  # a new hire, often
            return Verdict(
                False, f"the rule {_rule('include', field_id, values)} does not hold{why}"
            )
    for field_id, values in scope.exclude.items():
        if holds(employee, field_id, values):
            return Verdict(False, f"the rule {_rule('exclude', field_id, values)} holds")
    return Verdict(True, "every include rule holds and no exclude rule does")


def out_of_scope(employees: Iterable[HibobEmployee], scope: Scope) -> dict[str, Verdict]:
    """The employees the rules leave out, by HiBob ID, with the rule that did."""
    if scope.everyone:
        return {}
    verdicts = ((employee.id, judge(employee, scope)) for employee in employees)
    return {employee_id: v for employee_id, v in verdicts if not v.in_scope}


def narrow(profiles: Profiles, out: Collection[str]) -> Profiles:
    """The profiles without out-of-scope employees; they stay seen (never "vanished")."""
    if not out:
        return profiles
    return dataclasses.replace(
        profiles,
        profiles=[p for p in profiles.profiles if p.employee_id not in out],
        rejected=[f for f in profiles.rejected if f.employee_id not in out],
        cleaned=[f for f in profiles.cleaned if f.employee_id not in out],
    )


def settle(
    plan: Plan, users: Sequence[ScimUser], out: Mapping[str, Verdict], policy: str
) -> list[ScimUser]:
    """Deactivate the active users of out-of-scope employees (``policy`` "deactivate").

    Returns the managed users the scope left out, whatever the policy. A deactivation
    here is an ordinary one: it counts toward sync.max_deactivations.
    """
    if not out:
        return []
    touched = {action.user.id for action in plan.actions if action.user is not None}
    left: list[ScimUser] = []
    for user in users:
        if user.external_id not in out or user.id in touched:
            continue
        left.append(user)
        if policy == "deactivate" and user.active:
            email = user.user_name.strip().lower()
            plan.actions.append(Action("deactivate", email, user.external_id, user, active=False))
    return left


def field_problems(scope: Scope, catalogue: Sequence[CatalogueField]) -> list[tuple[str, str]]:
    """(field, problem) for each scope field HiBob's catalogue does not have, with the closest."""
    index = index_of(catalogue)
    return [
        (field_id, f"scope: HiBob has no field {field_id}{did_you_mean(field_id, catalogue)}")
        for field_id in scope.fields
        if field_id != ROOT_ID and catalogue_field(field_id, index) is None
    ]


def check_fields(
    scope: Scope,
    catalogue: Sequence[CatalogueField] | None,
    employees: Sequence[HibobEmployee] | None = None,
) -> None:
    """A scope field HiBob does not have (78, with the closest), or one nobody came back
    with (77: unreadable, so every include rule would fail and everyone would leave)."""
    for _, problem in field_problems(scope, catalogue or []) if catalogue is not None else []:
        raise ConfigError(problem, hint=FIELDS_HINT)
    present = {source for employee in employees or () for source in employee.values}
    unread = [f for f in scope.fields if f != ROOT_ID and f not in present]
    if unread and employees:
        index = index_of(catalogue)
        grants = []
        for field_id in unread:
            known = catalogue_field(field_id, index)
            category = known.category_name if known else None
            grants.append(f"{field_id} (grant View on the HiBob category '{category or '?'}')")
        raise PermissionMissingError(
            f"the HiBob service user cannot read the scope field(s) {', '.join(grants)}; "
            "without them nobody could be placed in or out of scope, so nothing was written",
            hint="add the categories to the service user's permission group, then run "
            "`hibob-sync check`",
        )


def unheld(values: Sequence[str], held: Iterable[str]) -> list[tuple[str, str | None]]:
    """(value, the closest held one or None) for each rule value nobody holds today: a typo
    in an exclude rule would silently leave everyone in (`scope include/exclude` warn)."""
    by_fold = {h.casefold(): h for h in held}
    missing: list[tuple[str, str | None]] = []
    for value in values:
        if value.casefold() in by_fold:
            continue
        close = difflib.get_close_matches(value.casefold(), list(by_fold), n=1, cutoff=0.75)
        missing.append((value, by_fold[close[0]] if close else None))
    return missing
