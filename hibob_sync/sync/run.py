"""The nightly run: fetch, build profiles, plan, check safeguards, apply, record.

Each step is a function with plain data between them, wired here with the credentials, lock,
state store and alerts; never prints or exits: the CLI shows the summary, or the error raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack

from hibob_sync import credentials
from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.core.actions import settle
from hibob_sync.core.only import Only
from hibob_sync.core.plan import Plan
from hibob_sync.core.plan_file import PlanFile, PlanOutput, applied_message, write
from hibob_sync.core.problems import verdict
from hibob_sync.core.safeguards import (
    plan_verdict,
)
from hibob_sync.core.summary import RunSummary, with_cleaned
from hibob_sync.errors import (
    ExitCode,
    HibobSyncError,
    InterruptedRun,
    LockedError,
    PlanRefused,
)
from hibob_sync.host_files import check_private_folder
from hibob_sync.http import HttpSettings
from hibob_sync.notify import alerts as notify
from hibob_sync.scim.dialect import Dialect, describe
from hibob_sync.sync import validation as valid
from hibob_sync.sync.aftermath import alert, write_metrics
from hibob_sync.sync.apply import Applied
from hibob_sync.sync.clients import neutral_http, require_scim_url, scim_client
from hibob_sync.sync.crash import guarded
from hibob_sync.sync.lock import state_lock
from hibob_sync.sync.run_steps import Progress, RunSteps
from hibob_sync.sync.steps import Seen, counts, run_record

__all__ = ["Progress", "RunSummary", "run_sync"]

log = logging.getLogger(__name__)


class _Run(RunSteps):
    """The run: its steps in order, its summary, its record."""

    def execute(self) -> RunSummary:
        """fetch -> profiles -> plan -> safeguards -> apply, as the README names them; the
        state store read once before (recall), the record written once after (record)."""
        scim_url = require_scim_url(self.settings)
        stale = None  # a reviewed plan's refusal that waits for the mapping's validation
        if self.reviewed is not None:
            stale = valid.reviewed_plan(self.reviewed, self.settings, self.mapping, self._when())
        hibob_login, scim_token = credentials.hibob_credentials(), credentials.scim_token()
        memory = self.recall(scim_url)
        fetched, found = self.fetch(hibob_login, memory)
        dialect = Dialect(dict(memory.dialect) or None)
        with scim_client(self.settings, scim_token, self.http, tuple(self.mapping.extra)) as scim:
            seen = self.profiles(scim, dialect, memory, fetched, stale)
            planned = self.plan(scim, memory, seen)
            plan, found = self.safeguards(planned, found, seen)
            if self.dry_run:
                return self._planned(plan, seen)
            plan, done_before = self.approve(plan, found, seen.users)
            applied = self.apply(scim, dialect, memory, planned.countdowns, plan, seen.users)
        return self._applied(plan, applied, seen, dialect, done_before)

    def _applied(
        self, plan: Plan, applied: Applied, seen: Seen, dialect: Dialect, done_before: int
    ) -> RunSummary:
        """The summary of a run that applied its plan: counts, failures, the exit code."""
        self.summary.dialect = describe(dialect.forms)
        self.summary.recoveries = dialect.recoveries
        cleaned, who = seen.profiles.cleaned, self.who.counts()
        self.summary.counts = with_cleaned(counts(plan, applied), cleaned, who)
        self.summary.failures = plan.rejected + applied.failures
        self.summary.warnings += applied.warnings
        settle(plan, seen.profiles.seen_ids, [u.id for u in seen.users], applied.failures)
        self._judge()
        if self.reviewed is not None:
            self.summary.message = applied_message(self.reviewed, done_before, self.summary.message)
        return self.summary

    def _planned(self, plan: Plan, seen: Seen) -> RunSummary:
        """`plan`: the plan file if asked for; exit 65 when `run` would stop, else 0."""
        settle(plan, seen.profiles.seen_ids, [u.id for u in seen.users])
        cleaned, who = seen.profiles.cleaned, self.who.counts()
        self.summary.counts = with_cleaned(plan.counts(), cleaned, who)
        self.summary.failures, found = list(plan.rejected), self.summary.tripped
        self._judge()  # names old problems with their date, as `run` would
        if self.plan_out is not None:  # refused (65) for a plan no review can approve
            write(self.plan_out, plan, found, self.settings, self.mapping, self._when())
        return self._finish(*plan_verdict(found))

    def _judge(self) -> RunSummary:
        """Exit 1 only for problems the last finished run did not have (problems.py)."""
        known = self.memory.known_problems if self.memory is not None else {}
        found = verdict(self.summary.failures, dict(known))
        self.summary.since = found.since
        return self._finish(found.exit_code, found.message)

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
            self.summary.counts = counts(self.summary.plan, self.applied)

    def record(self) -> None:
        """Store the run and what it learnt, in one write (not dry runs; a lock refusal is
        stored, so held nights alert)."""
        if self.dry_run:
            return
        partial = self.who.only is not None
        self.run_id = self.store.remember(
            run_record(self.summary, self.coverage, self.countdowns, self.applied, partial),
            self.changes,
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
    finally:  # one read and one write, plus a note on the run when its alert failed
        log.debug("state store: %d read, %d write", run.store.reads, run.store.writes)


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
        write_metrics(settings, summary, partial=run.who.only is not None, memory=run.memory)
        if not run.who.only:
            alert(settings, run.store, run.run_id, summary, run.memory)  # exit 1: new problems only
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
        alert(settings, run.store, run.run_id, run.summary, run.memory)  # nobody at the terminal


def _record_quietly(run: _Run, settings: Settings) -> None:
    """Record a failed run and its metrics; a broken state store must not hide the error."""
    try:
        run.record()
    except HibobSyncError as exc:
        log.warning("could not record the run: %s", exc.message)
    write_metrics(settings, run.summary, partial=run.who.only is not None, memory=run.memory)
