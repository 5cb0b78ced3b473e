"""The run's steps that need no server: the plan with its grace windows, what apply did in
the summary's counts, and the run's record with what it learnt (memory.py), all plain data.

run_steps.py's plan step calls draft and narrowed; run.py counts and records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.core.actions import Same
from hibob_sync.core.plan import ACTION_KINDS, Plan, make_plan
from hibob_sync.core.profiles import Profiles
from hibob_sync.core.summary import RunSummary
from hibob_sync.core.vanished import Countdowns, done, hold_vanished
from hibob_sync.core.who import Who
from hibob_sync.errors import ExitCode
from hibob_sync.hibob.answers import HibobData
from hibob_sync.memory import RunMemory
from hibob_sync.model import ScimUser
from hibob_sync.state import RunRecord
from hibob_sync.sync.apply import Applied


@dataclass(frozen=True)
class Seen:
    """What the profiles step saw: HiBob's answer as profiles, and the SCIM users."""

    fetched: HibobData
    profiles: Profiles
    users: list[ScimUser]
    same: Same  # compares a field's values by meaning, as this server keeps them


@dataclass(frozen=True)
class Planned:
    """The plan step's answer: the plan, and the grace windows it kept."""

    plan: Plan
    countdowns: Countdowns


def draft(settings: Settings, mapping: FieldMapping, memory: RunMemory, seen: Seen) -> Plan:
    """Compare the profiles with the SCIM users: every write the run could make."""
    return make_plan(
        seen.profiles,
        seen.users,
        mapping.targets,
        settings.leavers,
        settings.future_hires,
        same=seen.same,
        owned=dict(memory.managed_users),
        adopt=settings.adopt,
    )


def narrowed(
    settings: Settings,
    mapping: FieldMapping,
    who: Who,
    memory: RunMemory,
    seen: Seen,
    plan: Plan,
    when: datetime,
) -> Planned:
    """The plan as it will run: scope, `--only` and protect, who vanished held back."""
    profiles = seen.profiles
    who.settle(plan, seen.users, profiles, seen.fetched.employees, mapping)
    countdowns = hold_vanished(
        plan, profiles.seen_ids, dict(memory.missing_since), when, settings.vanished_grace
    )
    return Planned(plan, countdowns)


def counts(plan: Plan, applied: Applied) -> dict[str, int]:
    """The plan's counts, with what apply did in place of what it meant to do."""
    result = plan.counts()
    result.update({kind: applied.done.get(kind, 0) for kind in ACTION_KINDS})
    result["failed"] = len(applied.failures)
    return result


def run_record(
    summary: RunSummary,
    coverage: set[str] | None,
    countdowns: Countdowns | None,
    applied: Applied | None,
    partial: bool,
) -> RunRecord:
    """The run as history keeps it; coverage only for a good nightly run."""
    good = summary.exit_code in (ExitCode.OK, ExitCode.PARTIAL) and not partial
    waiting: Mapping[str, str] = (
        {p.employee_id: p.missing_since for p in summary.plan.pending}
        if countdowns and summary.plan
        else {}
    )
    return RunRecord(
        started_at=summary.started_at,
        finished_at=summary.finished_at,
        exit_code=int(summary.exit_code),
        outcome=summary.outcome,
        message=summary.message,
        counts=summary.counts,
        coverage=sorted(coverage) if good and coverage is not None else None,
        failures=summary.failures,
        since=summary.since,
        waiting=dict(waiting),
        vanished_deactivated=done(countdowns, applied),
        partial=partial,
    )
