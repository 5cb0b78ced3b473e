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

from hibob_sync.config.durations import countdown
from hibob_sync.core.plan import Action, Pending, Plan

log = logging.getLogger(__name__)


@dataclass
class Countdowns:
    """What a run leaves for the next: who is missing since when, and what changed."""

    missing: dict[str, str] = field(default_factory=dict)  # employee ID -> missing since
    due: dict[str, str] = field(default_factory=dict)  # deactivated this run, after the window
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

    They go to ``plan.pending`` instead, with their countdown; the safeguard still counts
    them. ``missing_since`` is what the last run left (employee ID -> ISO time).
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
            result.due[employee_id] = first
        else:
            plan.pending.append(Pending(employee_id, action.email, first, countdown(waited, grace)))
    plan.actions = kept
    result.cancelled = sorted(i for i in missing_since if i in seen_ids)
    for employee_id in result.cancelled:
        log.info("HiBob returns employee %s again: deactivation countdown cancelled", employee_id)
    return result
