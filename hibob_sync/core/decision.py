"""Tonight's decision for one person, and the rule behind it: what `explain` says.

Pure: it reads the plan made for that person (the nightly pipeline, on their data alone)
and what the run remembers (problems since when, grace-window countdowns). Reasons name
rules, fields and dates, never a profile value; the values are shown beside them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hibob_sync.config.durations import format_duration
from hibob_sync.config.settings import Settings
from hibob_sync.core.plan import Action, Plan
from hibob_sync.core.profiles import Profiles
from hibob_sync.core.scope import Verdict
from hibob_sync.model import Failure, ScimUser


@dataclass
class Decision:
    """One person's outcome tonight: a word, the action (if any), why, and the safeguards."""

    outcome: str
    action: Action | None = None
    reasons: list[str] = field(default_factory=list)
    safeguards: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Remembered:
    """What the state store holds of earlier runs (read only; empty without a store)."""

    problems: Mapping[Failure, str] = field(default_factory=dict)  # -> first seen (date)
    missing_since: Mapping[str, str] = field(default_factory=dict)  # HiBob ID -> ISO time
    managed: frozenset[str] = frozenset()  # SCIM ids hibob-sync created or adopted


@dataclass(frozen=True)
class Facts:
    """What was read of one person, on both sides."""

    employee_id: str | None
    email: str | None
    in_hibob: bool
    verdict: Verdict | None  # scope (None: HiBob does not return them)
    user: ScimUser | None
    hibob_active: bool | None = None  # HiBob's access status, as the planner read it
    future_hire: bool = False


def _safeguards(action: Action, plan: Plan, settings: Settings) -> list[str]:
    if action.deactivates:  # every account losing access counts (safeguards.py)
        return [f"sync.max_deactivations ({settings.max_deactivations})"]
    if action.reactivates:  # a first day's activation does not
        return [f"sync.max_reactivations ({settings.max_reactivations})"]
    if action.kind == "create":
        return []
    return [f"sync.max_changes ({settings.max_changes}) for {name}" for name in action.changes]


_DOES = {
    "create": "a HiThrive user is created",
    "update": "the HiThrive user is updated",
    "adopt": "the HiThrive user (added by hand) is adopted: its externalId set",
    "reactivate": "the HiThrive user is made active again",
    "deactivate": "the HiThrive user is deactivated",
}


def _adopting(action: Action) -> str:
    """Whose user an adopt takes: one added by hand, or an earlier HiBob record's (a rehire
    under a new ID, matched by email) — the planner's action tells them apart."""
    before = action.user.external_id if action.user is not None else None
    woken = " and made active again" if action.active else ""
    if before and before != action.employee_id:
        return (
            f"the HiThrive user of HiBob employee {before} (an earlier record with this email, "
            f"no longer active in HiBob) is taken over{woken}: its externalId set to "
            f"{action.employee_id}"
        )
    return f"{_DOES['adopt']}{woken}"


def _acting(action: Action, facts: Facts, plan: Plan, settings: Settings) -> Decision:
    reasons = [_adopting(action) if action.kind == "adopt" else _DOES[action.kind]]
    if action.kind == "create" and action.active is False:
        reasons.append("a future hire: created inactive, activated when HiBob turns them Active")
    if action.kind == "deactivate":
        if facts.verdict is not None and not facts.verdict.in_scope:
            reasons.append(f"out of scope: {facts.verdict.rule} (scope.out_of_scope: deactivate)")
        elif facts.in_hibob:
            reasons.append("HiBob has them inactive (internal.status)")
    return Decision(action.kind, action, reasons, _safeguards(action, plan, settings))


def decide(
    facts: Facts,
    plan: Plan,
    profiles: Profiles,
    held: Sequence[Action],
    remembered: Remembered,
    settings: Settings,
    now: datetime,
) -> Decision:
    """The outcome, checked in the order the run applies its rules (module docstring)."""
    user_name = (facts.user.user_name if facts.user else facts.email or "").strip().lower()
    if held or user_name in settings.protect:
        fields = f" of {', '.join(held[0].changes)}" if held and held[0].changes else ""
        would = f" (without it, tonight: {held[0].kind}{fields})" if held else ""
        return Decision("protected", None, [f"hithrive.protect lists {user_name}{would}"])
    if not facts.in_hibob and facts.user is None:
        return Decision("unknown", None, ["neither HiBob nor HiThrive knows them"])
    if facts.verdict is not None and not facts.verdict.in_scope:
        if plan.actions:
            return _acting(plan.actions[0], facts, plan, settings)
        why = f"out of scope: {facts.verdict.rule}"
        if facts.user is not None and settings.scope.out_of_scope == "ignore":
            why += "; scope.out_of_scope: ignore leaves their user as it is"
        return Decision("out of scope", None, [why])
    if plan.rejected:
        dated = [
            f"{f.reason} (since {since})" if since else f"{f.reason} (new tonight)"
            for f in plan.rejected
            for since in [remembered.problems.get(f)]
        ]
        return Decision("set aside", None, ["set aside: " + "; ".join(dated)])
    if plan.actions:
        decision = _acting(plan.actions[0], facts, plan, settings)
        decision.reasons += [f"warning: {w.reason}" for w in plan.warnings]
        return decision
    if not facts.in_hibob:
        return _not_in_hibob(facts, remembered, settings, now)
    reasons = [_unchanged(facts, settings)]
    reasons += [f"warning: {w.reason}" for w in plan.warnings]
    return Decision("unchanged", None, reasons)


def _unchanged(facts: Facts, settings: Settings) -> str:
    """Why nothing happens to someone HiBob returns: in sync, or a leaver already handled."""
    user = facts.user
    if user is None:
        return (
            "no HiThrive user, and none is created: HiBob has them inactive "
            "(or a future hire under sync.future_hires: skip)"
        )
    if facts.future_hire:
        state = "active" if user.active else "inactive until HiBob turns them Active"
        return f"in sync: nothing to change (a future hire; the user is {state})"
    if facts.hibob_active is False:
        if not user.active:
            return "a leaver: HiBob has them inactive and the HiThrive user is inactive already"
        if settings.leavers != "deactivate":
            return "a leaver: HiBob has them inactive; sync.leavers: ignore leaves the user active"
    return "in sync: nothing to change"


def _not_in_hibob(
    facts: Facts, remembered: Remembered, settings: Settings, now: datetime
) -> Decision:
    user = facts.user
    if user is None:
        return Decision("unknown", None, ["neither HiBob nor HiThrive knows them"])
    if not user.external_id:
        return Decision(
            "unmanaged",
            None,
            [
                "added by hand (no externalId) and no HiBob employee has this email: "
                "hibob-sync never changes it"
            ],
        )
    if user.id not in remembered.managed:  # ownership.py: another client's user
        return Decision(
            "unmanaged",
            None,
            [
                f"its externalId ({user.external_id}) is no HiBob employee's ID and hibob-sync "
                "did not create or adopt it: another provisioning client's user, never changed "
                "(hithrive.adopt: all takes such users over by email)"
            ],
        )
    if not user.active:
        return Decision("unchanged", None, ["HiBob no longer returns them; the user is inactive"])
    if settings.leavers != "deactivate":
        return Decision("unchanged", None, ["HiBob no longer returns them; sync.leavers: ignore"])
    since_text = remembered.missing_since.get(user.external_id)
    since = _parse(since_text, now)
    until = since + settings.vanished_grace
    if until <= now:
        return Decision(
            "deactivate",
            None,
            [
                f"HiBob no longer returns them (since {since.isoformat(timespec='seconds')}); "
                f"sync.vanished_grace ({format_duration(settings.vanished_grace)}) is over: "
                "deactivated tonight"
            ],
            [f"sync.max_deactivations ({settings.max_deactivations})"],
        )
    first = "" if since_text else " (first missed tonight)"
    return Decision(
        "waiting",
        None,
        [
            f"HiBob no longer returns them{first}: waiting in the grace window "
            f"(sync.vanished_grace) until {until.isoformat(timespec='seconds')}, then deactivated"
        ],
        [f"sync.max_deactivations ({settings.max_deactivations}): counted while waiting"],
    )


def _parse(text: str | None, now: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(text) if text else now
    except ValueError:
        return now
    return when if when.tzinfo else when.replace(tzinfo=now.tzinfo)
