"""The nightly run: fetch, build profiles, plan, check safeguards, apply, record.

Each step is a function with plain data between them, wired here with the credentials, lock,
state store and alerts; never prints or exits: the CLI shows the summary, or the error raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timezone

from hibob_sync import credentials
from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.core.actions import settle
from hibob_sync.core.only import Only
from hibob_sync.core.ownership import owned_after
from hibob_sync.core.plan import ACTION_KINDS, Plan, make_plan
from hibob_sync.core.plan_file import PlanFile, PlanOutput, applied_message, write
from hibob_sync.core.problems import verdict
from hibob_sync.core.replay import replay
from hibob_sync.core.safeguards import (
    check_fetched,
    plan_verdict,
    run_safeguards,
    stop,
    tripped,
)
from hibob_sync.core.scope import check_fields
from hibob_sync.core.summary import RunSummary, with_cleaned
from hibob_sync.core.vanished import Countdowns, answer_checked, done, hold_vanished
from hibob_sync.core.who import Who
from hibob_sync.errors import ExitCode, HibobSyncError, InterruptedRun, LockedError, PlanRefused
from hibob_sync.host_files import check_private_folder
from hibob_sync.http import HttpSettings
from hibob_sync.model import ScimUser
from hibob_sync.notify import alerts as notify
from hibob_sync.scim.dialect import Dialect, describe
from hibob_sync.scim.values import semantics
from hibob_sync.scim.writes import ScimWriter
from hibob_sync.state import RunRecord, StateStore
from hibob_sync.sync import validation as valid
from hibob_sync.sync.aftermath import alert, write_metrics
from hibob_sync.sync.apply import Applied, apply_plan
from hibob_sync.sync.clients import hibob_client, neutral_http, require_scim_url, scim_client
from hibob_sync.sync.crash import guarded
from hibob_sync.sync.fetch import fetch_hibob
from hibob_sync.sync.lock import state_lock
from hibob_sync.sync.people import name_managers, read_people
from hibob_sync.sync.waits import RunWaits, settled

__all__ = ["Progress", "RunSummary", "run_sync"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done so far, total)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


class _Run:
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
        self.store = StateStore(settings.state_path)
        self.coverage: set[str] | None = None
        self.applied: Applied | None = None  # filled while applying, so a failed run has it
        self.countdowns: Countdowns | None = None  # the grace windows this run kept
        self.run_id: int | None = None  # set once the run is recorded

    def now(self) -> str:
        return _iso(self.clock())

    def execute(self) -> RunSummary:
        scim_url = require_scim_url(self.settings)
        stale = None  # a reviewed plan's refusal that waits for the mapping's validation
        if self.reviewed is not None:
            stale = valid.reviewed_plan(self.reviewed, self.settings, self.mapping, self._when())
        hibob_login = credentials.hibob_credentials()
        scim_token = credentials.scim_token()
        last_good = (
            self.store.last_good_coverage()
            if not self.dry_run or self.settings.state_path.exists()
            else None
        )

        only, scope = self.who.only, self.settings.scope
        with hibob_client(self.settings, hibob_login, self.http) as hibob:
            fetched = fetch_hibob(hibob, self.mapping, scope.fields, only)
        valid.after_hibob(self.mapping, fetched, sample=only is None)  # validation.py
        check_fields(scope, fetched.catalogue, fetched.employees)

        # `plan` names every safeguard and `apply` goes past reviewed ones; `run` stops here.
        def on_answer() -> None:  # `--only` naming nobody HiBob knows is no empty company
            if only is None or fetched.employees:
                check_fetched(fetched, self.mapping, last_good)

        found = tripped("HiBob's answer", on_answer)
        if found and not (self.dry_run or self.reviewed):
            raise found[0].error()
        self.coverage = fetched.coverage

        known = not self.dry_run or self.settings.state_path.exists()
        dialect = Dialect(self.store.dialect(scim_url) if known else None)
        with scim_client(self.settings, scim_token, self.http, tuple(self.mapping.extra)) as scim:
            self.waits.start(scim, self.store if known else None, self.clock())
            if dialect.needs_resources:
                scim.keep_resources = True
            features = scim.discover()
            kinds = valid.after_discovery(self.mapping, features, scim.placement, fetched, stale)
            profiles = self.who.profiles(fetched.employees, self.mapping, kinds)
            if only is None:
                users = scim.list_users()
            else:
                users = read_people(scim, fetched.employees, profiles, self.mapping, only.names)
            log.info("SCIM: %d users", len(users))
            same = semantics(features, scim.placement)
            owned = self.store.managed_users() if known else {}  # ownership.py
            plan = make_plan(
                profiles,
                users,
                self.mapping.targets,
                self.settings.leavers,
                self.settings.future_hires,
                same=same,
                owned=owned,
                adopt=self.settings.adopt,
            )
            name_managers(scim, plan.actions, users)  # a manager not read: by email (people.py)
            self.who.settle(plan, users, profiles, fetched.employees, self.mapping)
            countdowns = hold_vanished(
                plan,
                profiles.seen_ids,
                self.store.missing_since() if known else {},
                datetime.fromtimestamp(self.clock(), timezone.utc),
                self.settings.vanished_grace,
            )
            self.summary.plan = plan
            self.summary.users = users
            self.summary.warnings = list(plan.warnings) + profiles.warnings + profiles.cleaned
            if only is None:  # the named people are not the company's answer
                found = answer_checked(found, len(fetched.employees), plan, profiles.seen_ids)
            found += run_safeguards(plan, self.settings)
            self.summary.tripped = found
            if self.dry_run:
                settle(plan, profiles.seen_ids, [u.id for u in users])
                self.summary.counts = with_cleaned(
                    plan.counts(), profiles.cleaned, self.who.counts()
                )
                return self._planned(plan)
            done_before = 0
            if self.reviewed is not None:  # the fresh plan, where it matches the reviewed one
                plan, done_before = replay(self.reviewed, plan, found, users)
                self.summary.plan = plan  # waiting deactivations approved: done now
            elif found:
                raise stop(found)
            if only is None:  # past the safeguards: they count (the nightly's alone)
                self.store.set_missing(countdowns.missing)
            self.countdowns = countdowns
            try:
                applied = self._apply(ScimWriter(scim, dialect), plan, users)
            finally:  # what the server took is worth keeping even from a run that stopped
                self.store.remember_dialect(scim_url, dialect.forms, self.now())
                self.waits.remember(scim, self.store, self.now())
                self.store.set_managed_users(owned_after(owned, plan, self.applied, users))
            self.summary.concurrency = settled(scim.limiter.report())
            self.waits.judge(scim, applied)
        self.summary.dialect = describe(dialect.forms)
        self.summary.recoveries = dialect.recoveries

        self.summary.counts = with_cleaned(
            self._counts(plan, applied), profiles.cleaned, self.who.counts()
        )
        self.summary.failures = plan.rejected + applied.failures
        self.summary.warnings += applied.warnings
        settle(plan, profiles.seen_ids, [u.id for u in users], applied.failures)
        self._judge()
        if self.reviewed is not None:
            self.summary.message = applied_message(self.reviewed, done_before, self.summary.message)
        return self.summary

    def _planned(self, plan: Plan) -> RunSummary:
        """`plan`: the plan file if asked for; exit 65 when `run` would stop, else 0."""
        self.summary.failures, found = list(plan.rejected), self.summary.tripped
        self._judge()  # names old problems with their date, as `run` would
        if self.plan_out is not None:  # refused (65) for a plan no review can approve
            write(self.plan_out, plan, found, self.settings, self.mapping, self._when())
        return self._finish(*plan_verdict(found))

    def _when(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def _judge(self) -> RunSummary:
        """Exit 1 only for problems the last finished run did not have (problems.py)."""
        known = self.store.known_problems() if self.settings.state_path.exists() else {}
        found = verdict(self.summary.failures, known)
        self.summary.since = found.since
        return self._finish(found.exit_code, found.message)

    def _apply(self, writer: ScimWriter, plan: Plan, users: list[ScimUser]) -> Applied:
        total = len(plan.actions)
        done = 0

        def step(count: int) -> None:
            nonlocal done
            done += count
            if self.progress:
                self.progress(done, total)

        self.applied = Applied()
        return apply_plan(
            writer,
            plan,
            users,
            concurrency=self.settings.concurrency,
            progress=step,
            result=self.applied,
        )

    @staticmethod
    def _counts(plan: Plan, applied: Applied) -> dict[str, int]:
        counts = plan.counts()
        counts.update({kind: applied.done.get(kind, 0) for kind in ACTION_KINDS})
        counts["failed"] = len(applied.failures)
        return counts

    def _finish(self, code: int, message: str = "") -> RunSummary:
        self.summary.rate_limit = self.waits.summary()
        self.summary.exit_code = code
        self.summary.message = message
        self.summary.finished_at = self.now()
        return self.summary

    def stopped_by(self, exc: HibobSyncError) -> None:
        """Finish the summary of a run an error stopped: its code, message, what it did."""
        if exc.summary is self.summary:
            return  # already done, where the run was recorded
        exc.summary = self.summary
        self.summary.rate_limit = self.waits.summary()
        self.summary.finished_at = self.now()
        self.summary.exit_code = exc.exit_code
        self.summary.message = exc.message
        if self.applied is not None and self.summary.plan is not None:
            self.summary.counts = self._counts(self.summary.plan, self.applied)

    def record(self) -> None:
        """Store the run (not dry runs; a lock refusal is stored, so held nights alert)."""
        if self.dry_run:
            return
        good = self.summary.exit_code in (ExitCode.OK, ExitCode.PARTIAL) and not self.who.only
        self.run_id = self.store.record(
            RunRecord(
                started_at=self.summary.started_at,
                finished_at=self.summary.finished_at,
                exit_code=int(self.summary.exit_code),
                outcome=self.summary.outcome,
                message=self.summary.message,
                counts=self.summary.counts,
                coverage=sorted(self.coverage) if good and self.coverage is not None else None,
                failures=self.summary.failures,
                since=self.summary.since,
                waiting=(
                    {p.employee_id: p.missing_since for p in self.summary.plan.pending}
                    if self.countdowns and self.summary.plan
                    else {}
                ),
                vanished_deactivated=done(self.countdowns, self.applied),
                partial=self.who.only is not None,
            )
        )


def run_sync(
    settings: Settings,
    mapping: FieldMapping,
    *,
    dry_run: bool = False,
    http: HttpSettings | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] | None = None,
    plan_out: PlanOutput | None = None,
    reviewed: PlanFile | None = None,
    only: Only | None = None,
) -> RunSummary:
    """Run the sync once. Returns the summary; raises the HibobSyncError that stopped it.

    ``dry_run`` is `plan`: every safeguard evaluated, exit 0 or 65, nothing written, no lock;
    ``plan_out`` also writes the plan file. ``reviewed`` is `apply`: that plan file carried
    out past its safeguards, or refused (65). Runs that end in an error are recorded and
    alerted too, then the error is re-raised carrying the run's summary (``exc.summary``),
    so `run --json` shows what it had done. ``only`` is `--only`: the named people alone,
    recorded as a partial run (no healthcheck ping, no alert, not the night's good run).
    """
    run = _Run(
        settings,
        mapping,
        dry_run=dry_run,
        http=http,
        progress=progress,
        plan_out=plan_out,
        reviewed=reviewed,
        clock=clock,
        only=only,
    )
    try:
        return _run_once(run, settings, neutral_http(settings, http))
    except HibobSyncError as exc:
        run.stopped_by(exc)
        raise


def _run_once(run: _Run, settings: Settings, ping_http: HttpSettings) -> RunSummary:
    """The run under the lock, with its healthcheck pings, record and alerts."""
    if run.dry_run:  # no lock, but the state folder must pass what a run's would
        check_private_folder(settings.state_path.parent, "sync.state_path")
        return _execute(run, settings)
    ping_url = None if run.who.only else settings.healthcheck_url  # not the nightly run
    with ExitStack() as held:
        try:
            held.enter_context(state_lock(settings))
        except LockedError as exc:  # a night whose lock was held: recorded, alerts like 69
            if run.reviewed is None:  # `apply`: the admin is there, and it is no run
                _stopped(run, settings, (ping_url, ping_http), exc)
            raise
        if run.reviewed is None:  # an `apply` may be refused, which is no run
            notify.ping(ping_url, "start", ping_http)
        try:
            summary = _execute(run, settings)
        except PlanRefused:  # no run: no record, metrics, ping or alert
            raise
        except HibobSyncError as exc:
            _stopped(run, settings, (ping_url, ping_http), exc)
            raise
        except KeyboardInterrupt:  # history and status must show a run that may have written
            run.stopped_by(InterruptedRun("interrupted (Ctrl-C, SIGTERM) before the run finished"))
            _record_quietly(run, settings)
            raise
        run.record()
        write_metrics(settings, summary, partial=run.who.only is not None)
        if not run.who.only:
            alert(settings, run.store, run.run_id, summary)  # exit 1: new problems only
        # The run finished: exit 1 (some employees named in the summary) is still a
        # completed run, and the healthcheck exists to notice runs that did not happen.
        event: notify.PingEvent = "success"
        notify.ping(ping_url, event, ping_http, f"exit {int(summary.exit_code)}")
        return summary
    raise AssertionError("unreachable")  # ExitStack may swallow in theory; mypy wants a return


def _execute(run: _Run, settings: Settings) -> RunSummary:
    """The run within sync.max_runtime (69 past it); an unexpected exception is 70."""
    return guarded(run.execute, settings.max_runtime, settings.state_path.parent)


def _stopped(
    run: _Run, settings: Settings, ping: tuple[str | None, HttpSettings], exc: HibobSyncError
) -> None:
    """A run an error ended: recorded, metrics, a fail ping and the alert it calls for."""
    run.stopped_by(exc)
    _record_quietly(run, settings)
    notify.ping(ping[0], "fail", ping[1], f"exit {int(exc.exit_code)}")
    if not ((run.reviewed and exc.exit_code == ExitCode.SAFEGUARD) or run.who.only):
        alert(settings, run.store, run.run_id, run.summary)  # nobody at the terminal


def _record_quietly(run: _Run, settings: Settings) -> None:
    """Record a failed run and its metrics; a broken state store must not hide the error."""
    try:
        run.record()
    except HibobSyncError as exc:
        log.warning("could not record the run: %s", exc.message)
    write_metrics(settings, run.summary, partial=run.who.only is not None)
