"""The run's steps that talk to the servers: recall (the state store, read once), fetch,
profiles, safeguards, approve and apply, each with plain data in and out; run.py calls them
in the README's order and records what they learnt in one write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone

from hibob_sync import credentials
from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.core.only import Only
from hibob_sync.core.ownership import owned_after
from hibob_sync.core.plan import Plan
from hibob_sync.core.plan_file import PlanFile, PlanOutput
from hibob_sync.core.replay import replay
from hibob_sync.core.safeguards import (
    Tripped,
    check_fetched,
    run_safeguards,
    stop,
    tripped,
)
from hibob_sync.core.scope import check_fields
from hibob_sync.core.summary import RunSummary
from hibob_sync.core.vanished import Countdowns, answer_checked
from hibob_sync.core.who import Who
from hibob_sync.errors import (
    SafeguardError,
)
from hibob_sync.hibob.answers import HibobData
from hibob_sync.http import HttpSettings
from hibob_sync.memory import RunChanges, RunMemory
from hibob_sync.model import ScimUser
from hibob_sync.scim.client import ScimClient
from hibob_sync.scim.dialect import Dialect
from hibob_sync.scim.values import semantics
from hibob_sync.scim.writes import ScimWriter
from hibob_sync.state import StateStore
from hibob_sync.sync import validation as valid
from hibob_sync.sync.apply import Applied, apply_plan
from hibob_sync.sync.clients import hibob_client
from hibob_sync.sync.fetch import fetch_hibob
from hibob_sync.sync.people import name_managers, read_people
from hibob_sync.sync.steps import Planned, Seen, draft, narrowed
from hibob_sync.sync.waits import REMEMBER_PACE, RunWaits, settled

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done so far, total)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


class RunSteps:
    """The run's state between its steps, and the steps that talk to the servers."""

    def __init__(
        self,
        settings: Settings,
        mapping: FieldMapping,
        *,
        dry_run: bool,
        http: HttpSettings | None,
        progress: Progress | None,
        clock: Callable[[], float] | None = None,
        plan_out: PlanOutput | None = None,
        reviewed: PlanFile | None = None,
        only: Only | None = None,
    ) -> None:
        self.who = Who(settings.scope, settings.protect, only)  # scope, protect, --only
        self.plan_out = plan_out  # `plan -o`: write the plan file
        self.reviewed = reviewed  # `apply`: carry out this reviewed plan, or refuse it
        self.settings = settings
        self.mapping = mapping
        self.dry_run = dry_run
        self.waits = RunWaits(settings, http)  # one budget for every 429 of the run
        self.http = self.waits.http
        self.progress = progress
        # The run's clock (the Environment's): run times, `status` and grace windows move
        # together in tests without any sleep.
        self.clock: Callable[[], float] = clock or (http.clock if http else time.time)
        self.summary = RunSummary(started_at=self.now(), dry_run=dry_run, partial=only is not None)
        self.store = StateStore(settings.state_path, read_only=dry_run)  # `plan` writes nothing
        self.memory: RunMemory | None = None  # the state store as the run found it (recall)
        self.changes = RunChanges()  # what the run learnt, kept with its record
        self.coverage: set[str] | None = None
        self.applied: Applied | None = None  # filled while applying, so a failed run has it
        self.countdowns: Countdowns | None = None  # the grace windows this run kept
        self.run_id: int | None = None  # set once the run is recorded

    def now(self) -> str:
        return _iso(self.clock())

    def recall(self, scim_url: str) -> RunMemory:
        """The state store, read once (`plan`: read only, and nothing when there is none)."""
        if self.memory is None:
            if self.dry_run and not self.settings.state_path.exists():
                self.memory = RunMemory()
            else:
                since = datetime.fromtimestamp(self.clock(), timezone.utc) - REMEMBER_PACE
                self.memory = self.store.recall(scim_url, since.isoformat(timespec="seconds"))
        return self.memory

    def fetch(
        self, login: credentials.HibobCredentials, memory: RunMemory
    ) -> tuple[HibobData, list[Tripped]]:
        """HiBob's answer, validated, and the safeguards it trips (`run` stops here)."""
        only, scope = self.who.only, self.settings.scope
        with hibob_client(self.settings, login, self.http) as hibob:
            fetched = fetch_hibob(hibob, self.mapping, scope.fields, only)
        valid.after_hibob(self.mapping, fetched, sample=only is None)  # validation.py
        check_fields(scope, fetched.catalogue, fetched.employees)
        last_good = None if memory.last_good_coverage is None else set(memory.last_good_coverage)

        def on_answer() -> None:  # `--only` naming nobody HiBob knows is no empty company
            if only is None or fetched.employees:
                check_fetched(fetched, self.mapping, last_good)

        found = tripped("HiBob's answer", on_answer)
        if found and not (self.dry_run or self.reviewed):
            raise found[0].error()
        self.coverage = fetched.coverage
        return fetched, found

    def profiles(
        self,
        scim: ScimClient,
        dialect: Dialect,
        memory: RunMemory,
        fetched: HibobData,
        stale: SafeguardError | None,
    ) -> Seen:
        """The profiles HiBob's answer makes, and the SCIM users to compare them with."""
        scim.limiter.start_from(memory.pace)  # the pace an earlier run learnt this week
        if dialect.needs_resources:
            scim.keep_resources = True
        features = scim.discover()
        kinds = valid.after_discovery(self.mapping, features, scim.placement, fetched, stale)
        profiles = self.who.profiles(fetched.employees, self.mapping, kinds)
        only = self.who.only
        if only is None:
            users = scim.list_users()
        else:
            users = read_people(scim, fetched.employees, profiles, self.mapping, only.names)
        log.info("SCIM: %d users", len(users))
        return Seen(fetched, profiles, users, semantics(features, scim.placement))

    def plan(self, scim: ScimClient, memory: RunMemory, seen: Seen) -> Planned:
        """The plan (steps.py), the managers it replaces named by email where not read."""
        plan = draft(self.settings, self.mapping, memory, seen)
        name_managers(scim, plan.actions, seen.users)  # people.py
        return narrowed(self.settings, self.mapping, self.who, memory, seen, plan, self._when())

    def safeguards(
        self, planned: Planned, found: list[Tripped], seen: Seen
    ) -> tuple[Plan, list[Tripped]]:
        """Every safeguard the plan trips, named in the summary."""
        profiles = seen.profiles
        plan = planned.plan
        self.summary.plan = plan
        self.summary.users = seen.users
        self.summary.warnings = list(plan.warnings) + profiles.warnings + profiles.cleaned
        if self.who.only is None:  # the named people are not the company's answer
            found = answer_checked(found, len(seen.fetched.employees), plan, profiles.seen_ids)
        found += run_safeguards(plan, self.settings)
        self.summary.tripped = found
        self.countdowns = planned.countdowns
        return plan, found

    def approve(self, plan: Plan, found: list[Tripped], users: list[ScimUser]) -> tuple[Plan, int]:
        """`run` stops at a tripped safeguard; `apply` takes the reviewed plan's approvals."""
        done_before = 0
        if self.reviewed is not None:  # the fresh plan, where it matches the reviewed one
            plan, done_before = replay(self.reviewed, plan, found, users)
            self.summary.plan = plan  # waiting deactivations approved: done now
        elif found:
            raise stop(found)
        return plan, done_before

    def _when(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def apply(
        self,
        scim: ScimClient,
        dialect: Dialect,
        memory: RunMemory,
        countdowns: Countdowns,
        plan: Plan,
        users: list[ScimUser],
    ) -> Applied:
        """The writes; what the server took is kept for the record even if the run stops."""
        total, done = len(plan.actions), 0

        def step(count: int) -> None:
            nonlocal done
            done += count
            if self.progress:
                self.progress(done, total)

        self.applied = Applied()
        try:
            applied = apply_plan(
                ScimWriter(scim, dialect),
                plan,
                users,
                concurrency=self.settings.concurrency,
                progress=step,
                result=self.applied,
            )
        finally:  # learnt, written with the record (record), even from a run that stopped
            self.changes = RunChanges(
                scim_url=scim.base_url,
                dialect=dict(dialect.forms),
                pace=self.waits.learnt(scim),
                missing=countdowns.missing if self.who.only is None else None,
                managed=owned_after(dict(memory.managed_users), plan, self.applied, users),
            )
        self.summary.concurrency = settled(scim.limiter.report())
        self.waits.judge(scim, applied)
        return applied
