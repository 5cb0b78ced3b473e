"""Who a run touches: scope, protected users and `--only`, around the planner.

The planner plans for everyone it is given; this narrows its input (out-of-scope employees)
and settles its output (leaving the scope, protected users, the named people of `--only`),
and keeps what it decided for the summary and for `explain`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.scope import Scope
from hibob_sync.core.extra_profile import Kind
from hibob_sync.core.only import Only, narrow_plan, unmatched
from hibob_sync.core.plan import Action, Plan
from hibob_sync.core.profiles import Profiles, build_profiles
from hibob_sync.core.protect import hold_protected
from hibob_sync.core.scope import Verdict, narrow, out_of_scope, settle
from hibob_sync.hibob.answers import HibobEmployee
from hibob_sync.model import Failure, ScimUser, normalise_email


@dataclass
class Who:
    """The rules of one run, and what they decided."""

    scope: Scope = field(default_factory=Scope)
    protect: frozenset[str] = frozenset()
    only: Only | None = None
    out: dict[str, Verdict] = field(default_factory=dict)  # out-of-scope employees, by ID
    left: list[ScimUser] = field(default_factory=list)  # their managed users
    held: list[Action] = field(default_factory=list)  # actions on protected users, not done
    unknown: list[Failure] = field(default_factory=list)  # --only names nobody knows

    def profiles(
        self,
        employees: Sequence[HibobEmployee],
        mapping: FieldMapping,
        kinds: Mapping[str, Kind] | None = None,
    ) -> Profiles:
        """The planner's input: every employee's profile, less those out of scope."""
        self.out = out_of_scope(employees, self.scope)
        return narrow(build_profiles(employees, mapping, kinds), self.out)

    def settle(
        self,
        plan: Plan,
        users: Sequence[ScimUser],
        profiles: Profiles,
        employees: Sequence[HibobEmployee],
        mapping: FieldMapping,
    ) -> None:
        """Leaving the scope, then `--only`, then protected users: the plan as it will run."""
        self.left = settle(plan, users, self.out, self.scope.out_of_scope)
        plan.outcomes.leave_out(self.out, users)  # every employee accounted for (outcomes.py)
        if self.only is not None:
            email_of = emails_of(employees, mapping)
            named = {
                e.id
                for e in employees
                if e.id in self.only.ids or email_of.get(e.id) in self.only.emails
            }
            narrow_plan(plan, self.only, named, profiles.seen_ids)
            plan.outcomes.narrow(named)
            self.unknown, gone = unmatched(self.only, named, email_of, users)
            plan.rejected += self.unknown
            plan.warnings += gone
            plan.warnings += [  # named, yet left alone: say which rule, not only a count
                Failure(i, email_of.get(i), f"out of scope: {self.out[i].rule}")
                for i in sorted(named & set(self.out))
            ]
        aside = [f.employee_id for f in plan.rejected if (f.email or "") in self.protect]
        self.held = hold_protected(plan, self.protect)
        for action in self.held:
            plan.outcomes.move(
                action.employee_id, action.user.id if action.user else None, "protected"
            )
        for employee_id in aside:
            plan.outcomes.move(employee_id, None, "protected")

    def counts(self) -> dict[str, int]:
        """`out_of_scope` (employees) and `protected` (users whose changes were held)."""
        counts: dict[str, int] = {}
        if self.out:
            counts["out_of_scope"] = len(self.out)
        if self.held:
            counts["protected"] = len(self.held)
        return counts


def emails_of(employees: Sequence[HibobEmployee], mapping: FieldMapping) -> dict[str, str]:
    """HiBob ID -> email as hibob-sync writes it (the first non-empty email source)."""
    found: dict[str, str] = {}
    for employee in employees:
        for source in mapping.sources["email"]:
            value = employee.values.get(source)
            email = normalise_email(value) if isinstance(value, str) else None
            if email:
                found[employee.id] = email
                break
    return found
