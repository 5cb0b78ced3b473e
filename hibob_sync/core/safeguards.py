"""Safeguards, checked after planning and before any write.

Each one stops the run with exit 65 (or 77 for a permission that was never there) and says
why and how to proceed. They exist because the cheapest mistake in an HR sync is a silent
mass change: everyone deactivated after a scope change, a field blanked for everyone after a
permission was lost, or one field rewritten for everyone by a rename or a parser bug.

`run` stops at the first; `plan` evaluates them all (``tripped``) so the admin sees every
one with its numbers, and `apply` of a reviewed plan goes past those it names.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from hibob_sync.config.limits import Limit
from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.core.plan import Plan
from hibob_sync.errors import ConfigError, ExitCode, PermissionMissingError, SafeguardError
from hibob_sync.hibob.answers import HibobData, HibobEmployee, MissingField


def check_employees(count: int) -> None:
    """HiBob returned nobody: a scope or permission problem, never a real company."""
    if count == 0:
        raise SafeguardError(
            "HiBob returned no employees at all; nothing was written",
            hint="check the service user's permission group (people scope) with "
            "`hibob-sync check`; an empty answer is never treated as 'everyone left'",
        )


def check_coverage(
    mapping: FieldMapping,
    missing: Sequence[MissingField],
    last_good: Collection[str] | None,
    *,
    catalogue_known: bool = True,
) -> None:
    """A mapped HiBob field that came back for nobody.

    If the last good run had it, a permission was lost and syncing would blank it for
    everyone: stop with 65. If it was never seen, the permission is missing: 77. A field the
    catalogue does not know is a mapping error: 78.
    """
    if not missing:
        return
    unknown = [m for m in missing if m.category_name is None and catalogue_known]
    if unknown:
        names = ", ".join(f"{m.source} ({mapping.fields_of(m.source)})" for m in unknown)
        raise ConfigError(
            f"mapping: HiBob's field catalogue has no field {names}",
            hint="pick an existing field with `hibob-sync map` or `hibob-sync map set`",
        )

    def describe(items: Sequence[MissingField]) -> str:
        return ", ".join(
            f"{m.source} (for {mapping.fields_of(m.source)}; "
            f"grant View on the HiBob category '{m.category_name}')"
            for m in items
        )

    lost = [m for m in missing if last_good is not None and m.source in last_good]
    if lost:
        raise SafeguardError(
            f"{len(lost)} mapped field(s) came back for no employee although the last good "
            f"run had them: {describe(lost)}; syncing would blank them for everyone, so "
            "nothing was written",
            hint="a HiBob permission was probably removed from the service user's group; "
            "restore it and run again (`hibob-sync check` shows what is readable)",
        )
    raise PermissionMissingError(
        f"the HiBob service user cannot read {len(missing)} mapped field(s): {describe(missing)}",
        hint="add the categories to the service user's permission group, or unmap the "
        "fields with `hibob-sync map unset`; then run `hibob-sync check`",
    )


REVIEW_HINT = (
    "review the plan with `hibob-sync plan`; if it is right (e.g. a reorganisation), save it "
    "with `hibob-sync plan -o plan.json` and carry it out with `hibob-sync apply plan.json`"
)
MIN_CHANGES = 10  # the mass-change breaker never trips for fewer users than this
EXAMPLES = 3


@dataclass(frozen=True)
class Tripped:
    """A safeguard that would stop the run: which one, and what it says (with its numbers)."""

    safeguard: str  # e.g. "sync.max_changes (job_title)"
    message: str
    hint: str | None = None
    reviewable: bool = True  # False: no review makes it right, so `plan -o` writes no file

    def error(self) -> SafeguardError:
        return SafeguardError(self.message, hint=self.hint)


def tripped(name: str, check: Callable[[], None]) -> list[Tripped]:
    """Run a check that raises SafeguardError; what it would stop, as data (none: [])."""
    try:
        check()
    except SafeguardError as exc:
        return [Tripped(name, exc.message, exc.hint)]
    return []


def plan_safeguards(
    plan: Plan,
    max_deactivations: Limit,
    max_changes: Limit,
    max_reactivations: Limit | None = None,
) -> list[Tripped]:
    """Every safeguard on the plan that trips, all of them (not only the first).

    ``max_reactivations`` defaults to ``max_deactivations`` (as sync.max_reactivations does).
    """
    found = tripped("sync.max_deactivations", lambda: check_deactivations(plan, max_deactivations))
    again = max_reactivations if max_reactivations is not None else max_deactivations
    found += tripped("sync.max_reactivations", lambda: check_reactivations(plan, again))
    return found + check_changes(plan, max_changes)


def run_safeguards(plan: Plan, settings: Settings) -> list[Tripped]:
    """plan_safeguards with the limits of config.yaml."""
    limits = (settings.max_deactivations, settings.max_changes, settings.max_reactivations)
    return plan_safeguards(plan, *limits)


def plan_verdict(found: Sequence[Tripped]) -> tuple[ExitCode, str]:
    """`plan`'s exit: 0 when `run` would go ahead, 65 (saying why) when it would stop."""
    if not found:
        return ExitCode.OK, ""
    return ExitCode.SAFEGUARD, stop(found).message


def stop(found: Sequence[Tripped]) -> SafeguardError:
    """One error for `run` that names every safeguard that tripped."""
    if len(found) == 1:
        return found[0].error()
    return SafeguardError(
        f"{len(found)} safeguards stopped the run: "
        + " ALSO: ".join(item.message for item in found),
        hint=REVIEW_HINT,
    )


def check_changes(plan: Plan, limit: Limit) -> list[Tripped]:
    """The mass-change breaker: one field changing for more managed users than allowed.

    Creates do not count (a first sync sets every field); deactivations have no field
    changes. Examples name users by email only, never values.
    """
    changed: dict[str, list[str]] = {}
    for action in plan.actions:
        if action.kind == "create":
            continue
        for name in action.changes:
            changed.setdefault(name, []).append(action.email)
    # Changes reach inactive users too (a future hire created ahead): count them all.
    managed = max(plan.managed, plan.managed_active)
    allowed = max(limit.allowed(managed), MIN_CHANGES - 1)
    found = []
    for name, emails in changed.items():
        if len(emails) > allowed:
            examples = ", ".join(sorted(emails)[:EXAMPLES])
            found.append(
                Tripped(
                    f"sync.max_changes ({name})",
                    f"{name} would change for {len(emails)} of {managed} managed "
                    f"users, more than sync.max_changes ({limit}, i.e. {allowed}) allows "
                    f"(e.g. {examples}); nothing was written",
                    "a HiBob-side rename, a permission change or a mapping change can rewrite "
                    "a field for everyone; " + REVIEW_HINT,
                )
            )
    return found


def check_deactivations(plan: Plan, limit: Limit) -> None:
    """More deactivations than sync.max_deactivations allows.

    Every account that is active now and would not be counts, whatever HiBob's label
    (a Hired employee's account made inactive until day one included): what matters is
    access taken away. Users waiting out sync.vanished_grace count too: a mass
    disappearance stops the run tonight, not in three days when the countdowns end.
    """
    count = sum(1 for action in plan.actions if action.deactivates)
    count += len(plan.pending)
    allowed = limit.allowed(plan.managed_active)
    if count > allowed:
        waiting = (
            f" ({len(plan.pending)} of them no longer returned by HiBob at all, after "
            "sync.vanished_grace)"
            if plan.pending
            else ""
        )
        raise SafeguardError(
            f"the run would deactivate {count} of {plan.managed_active} managed users{waiting}, "
            f"more than sync.max_deactivations ({limit}, i.e. {allowed}) allows; nothing was "
            "written",
            hint=REVIEW_HINT,
        )


def check_reactivations(plan: Plan, limit: Limit) -> None:
    """More accounts made active again than sync.max_reactivations allows.

    Giving access back is as much a change of access as taking it away (a HiBob import gone
    wrong can mark every leaver active). A future hire's account made active on their first
    day is no reactivation and is not counted.
    """
    count = sum(1 for action in plan.actions if action.reactivates)
    allowed = limit.allowed(plan.managed_active)
    if count > allowed:
        raise SafeguardError(
            f"the run would reactivate {count} inactive users ({plan.managed_active} managed "
            f"users are active), more than sync.max_reactivations ({limit}, i.e. {allowed}) "
            "allows; nothing was written",
            hint=REVIEW_HINT,
        )


def check_lifecycle(employees: Sequence[HibobEmployee], category: str | None) -> None:
    """Without lifecycle fields, leavers would look active and be (re)created: stop."""
    if employees and all(e.lifecycle_status is None and e.status is None for e in employees):
        raise PermissionMissingError(
            "HiBob sent no lifecycle status (internal.lifecycleStatus / internal.status) for "
            "any employee, so leavers cannot be told from active employees",
            hint=f"grant View on the HiBob category '{category or 'Lifecycle'}' to the "
            "service user's permission group",
        )


def check_targets(mapping: FieldMapping, missing: Sequence[tuple[str, str]]) -> None:
    """A mapped field whose SCIM attribute the server does not announce has nowhere to go."""
    lost = [(name, path) for name, path in missing if name in mapping.fields]
    if lost:
        names = ", ".join(f"{path} (for {name})" for name, path in lost)
        raise ConfigError(
            f"the SCIM server's /Schemas has no attribute {names}; nothing was written",
            hint="set hithrive.attributes.<field> to an attribute the server has, or unmap "
            "the field with `hibob-sync map unset`",
        )


def check_fetched(
    fetched: HibobData, mapping: FieldMapping, last_good: Collection[str] | None
) -> None:
    """The safeguards on what HiBob gave, before anything is planned (see each check)."""
    check_employees(len(fetched.employees))
    check_lifecycle(fetched.employees, fetched.category_of("internal.lifecycleStatus"))
    check_coverage(
        mapping, fetched.missing, last_good, catalogue_known=fetched.catalogue is not None
    )
