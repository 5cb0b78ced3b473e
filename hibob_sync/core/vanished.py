"""A grace window for managed employees that HiBob stops returning at all.

HiBob says plainly when someone leaves (status Inactive, lifecycle Terminated), and that is
acted on at once. An employee that simply vanishes from the answer is different: a record
deleted by mistake, a scope change or a HiBob incident returning a partial list look the
same. So such a user is deactivated only once every run for `sync.vanished_grace` has missed
them; one that comes back cancels the countdown without any write. The countdowns live in
the state store by HiBob employee ID only.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from hibob_sync.config.durations import countdown
from hibob_sync.core.plan import Action, Pending, Plan
from hibob_sync.core.safeguards import Tripped

log = logging.getLogger(__name__)


@dataclass
class Countdowns:
    """What a run leaves for the next: who is missing since when, and what changed."""

    missing: dict[str, str] = field(default_factory=dict)  # employee ID -> missing since
    cancelled: list[str] = field(default_factory=list)  # returned by HiBob again


def _vanished(action: Action, seen_ids: Collection[str]) -> bool:
    """A deactivation of a user whose employee HiBob did not return at all (not a leaver)."""
    return (
        action.kind == "deactivate"
        and action.employee_id is not None
        and action.employee_id not in seen_ids
    )


def _since(text: str | None, now: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(text) if text else now
    except ValueError:
        return now
    return when if when.tzinfo else when.replace(tzinfo=now.tzinfo)


def hold_vanished(
    plan: Plan,
    seen_ids: Collection[str],
    missing_since: Mapping[str, str],
    now: datetime,
    grace: timedelta,
) -> Countdowns:
    """Take the deactivations of vanished employees still within the window out of the plan.

    They go to ``plan.pending`` instead, with their countdown, and their actions to
    ``plan.held`` (what `plan` shows and `apply` of a reviewed plan carries out); the
    safeguard still counts them. ``missing_since`` is what the last run left (employee ID ->
    ISO time).
    """
    result = Countdowns()
    kept: list[Action] = []
    for action in plan.actions:
        if not _vanished(action, seen_ids):
            kept.append(action)
            continue
        employee_id = str(action.employee_id)
        since = _since(missing_since.get(employee_id), now)
        first = since.isoformat(timespec="seconds")
        result.missing[employee_id] = first
        waited = now - since
        if waited >= grace:
            kept.append(action)
        else:
            plan.pending.append(Pending(employee_id, action.email, first, countdown(waited, grace)))
            plan.held.append(action)
            plan.outcomes.move(None, action.user.id if action.user else None, "waiting")
    plan.actions = kept
    result.cancelled = sorted(i for i in missing_since if i in seen_ids)
    for employee_id in result.cancelled:
        log.info("HiBob returns employee %s again: deactivation countdown cancelled", employee_id)
    return result


class _Done(Protocol):
    @property
    def deactivated(self) -> Collection[str]: ...  # employee IDs the server took it for


def done(countdowns: Countdowns | None, applied: _Done | None) -> dict[str, str]:
    """Vanished employees deactivated, from what the run did (not what it planned)."""
    if countdowns is None or applied is None:
        return {}
    missing = countdowns.missing
    return {i: missing[i] for i in sorted(applied.deactivated) if i in missing}


def vanishing(plan: Plan, seen_ids: Collection[str]) -> int:
    """Managed users this plan would count down or deactivate for not being in the answer."""
    due = sum(1 for action in plan.actions if _vanished(action, seen_ids))
    return due + len(plan.pending)


def answer_checked(
    found: list[Tripped], employees: int, plan: Plan, seen_ids: Collection[str]
) -> list[Tripped]:
    """The safeguards found so far, plus those of a HiBob answer no review can make right
    (in place of them all when the answer is empty)."""
    unusable = answer_unusable(employees, plan, seen_ids)
    return unusable if employees == 0 else found + unusable


def answer_unusable(employees: int, plan: Plan, seen_ids: Collection[str]) -> list[Tripped]:
    """A HiBob answer no review can make right: nobody in it, or none of the managed users.

    That is a people scope or a HiBob incident, never a company where everyone left: such a
    plan is not written for `apply`, nor carried out by it.
    """
    if employees == 0:
        return [
            Tripped(
                "HiBob's answer",
                "HiBob returned no employees at all; nothing was written",
                "check the service user's permission group (people scope) with "
                "`hibob-sync check`; an empty answer is never treated as 'everyone left'",
                reviewable=False,
            )
        ]
    gone = vanishing(plan, seen_ids)
    if plan.managed_active > 1 and gone >= plan.managed_active:
        return [
            Tripped(
                "HiBob's answer",
                f"HiBob's answer holds none of the {plan.managed_active} active users "
                f"hibob-sync manages ({employees} other employees); every one of them would "
                "start a sync.vanished_grace countdown; nothing was written",
                "check the service user's permission group (people scope) and "
                "hibob.base_url with `hibob-sync check`",
                reviewable=False,
            )
        ]
    return []
