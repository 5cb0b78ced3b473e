"""The nightly run: fetch, build profiles, plan, check safeguards, apply, record.

Each step is a separate function with plain data between them. This module wires them
together with the credentials, the lock, the state store and the alerts; it never prints
or exits: the CLI shows the RunSummary it returns, or the error it raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from hibob_sync import credentials, notify
from hibob_sync.apply import Applied, apply_plan
from hibob_sync.config import Settings
from hibob_sync.errors import ConfigError, ExitCode, HibobSyncError, LockedError, RemoteError
from hibob_sync.hibob import CatalogueField, HibobClient, missing_fields
from hibob_sync.http import HttpSettings
from hibob_sync.lock import run_lock
from hibob_sync.mapping import FieldMapping
from hibob_sync.model import ScimUser
from hibob_sync.plan import Plan, make_plan
from hibob_sync.profiles import build_profiles
from hibob_sync.safeguards import (
    check_coverage,
    check_deactivations,
    check_employees,
    check_lifecycle,
    check_targets,
)
from hibob_sync.scim import ScimClient
from hibob_sync.scim_writes import ScimWriter
from hibob_sync.state import Failure, RunRecord, StateStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done so far, total)


@dataclass
class RunSummary:
    """What a run did: counts, the employees that failed or were set aside, the outcome."""

    started_at: str
    finished_at: str = ""
    dry_run: bool = False
    exit_code: int = ExitCode.OK
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    plan: Plan | None = None
    users: list[ScimUser] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        return {
            ExitCode.OK: "in sync",
            ExitCode.PARTIAL: "some employees failed",
            ExitCode.SAFEGUARD: "stopped by a safeguard",
            ExitCode.UNAVAILABLE: "service unavailable",
            ExitCode.LOCKED: "locked",
            ExitCode.NO_PERMISSION: "credentials or permission",
            ExitCode.CONFIG: "configuration",
        }.get(ExitCode(self.exit_code), "error")

    def as_dict(self) -> dict[str, object]:
        """The JSON form of --json: counts, IDs and emails only, never profile values."""
        return {
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "dry_run": self.dry_run,
            "exit_code": int(self.exit_code),
            "outcome": self.outcome,
            "message": self.message,
            "counts": self.counts,
            "failures": [vars(f) for f in self.failures],
            "warnings": [vars(f) for f in self.warnings],
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def http_settings(
    settings: Settings, base: HttpSettings | None = None
) -> tuple[HttpSettings, HttpSettings]:
    """HTTP settings for HiBob and for SCIM, from config (and a base, e.g. for tests)."""
    base = base or HttpSettings()
    base = replace(base, read_timeout=settings.timeout)
    return (
        replace(base, ca_bundle=settings.hibob_ca_bundle),
        replace(base, ca_bundle=settings.scim_ca_bundle),
    )


def require_scim_url(settings: Settings) -> str:
    """The SCIM base URL, which `run` and `check` cannot do without."""
    if not settings.scim_url:
        where = settings.path or "config.yaml"
        raise ConfigError(f"{where}: hithrive.scim_url: expected the SCIM base URL, got nothing")
    return settings.scim_url


class _Run:
    def __init__(
        self,
        settings: Settings,
        mapping: FieldMapping,
        *,
        dry_run: bool,
        http: HttpSettings | None,
        progress: Progress | None,
    ) -> None:
        self.settings = settings
        self.mapping = mapping
        self.dry_run = dry_run
        self.hibob_http, self.scim_http = http_settings(settings, http)
        self.progress = progress
        self.summary = RunSummary(started_at=_now(), dry_run=dry_run)
        self.store = StateStore(settings.state_path)
        self.coverage: set[str] | None = None

    def execute(self) -> RunSummary:
        scim_url = require_scim_url(self.settings)
        hibob_login = credentials.hibob_credentials()
        scim_token = credentials.scim_token()
        last_good = (
            self.store.last_good_coverage()
            if not self.dry_run or self.settings.state_path.exists()
            else None
        )

        hibob = HibobClient(
            self.settings.hibob_url, hibob_login.user_id, hibob_login.token, self.hibob_http
        )
        sources = self.mapping.all_sources()
        catalogue = _catalogue(hibob)
        found = hibob.search(sources, catalogue=catalogue)
        log.info("HiBob: %d employees", len(found.employees))
        check_employees(len(found.employees))
        check_lifecycle(found.employees, _category_of("internal.lifecycleStatus", catalogue))
        check_coverage(
            self.mapping,
            missing_fields(found, sources, catalogue or []),
            last_good,
            catalogue_known=catalogue is not None,
        )
        self.coverage = set(found.present) & set(sources)

        with ScimClient(
            scim_url, scim_token, self.scim_http, self.settings.scim_attributes
        ) as scim:
            check_targets(self.mapping, scim.missing_attributes(scim.discover()))
            users = scim.list_users()
            log.info("SCIM: %d users", len(users))
            profiles = build_profiles(found.employees, self.mapping)
            plan = make_plan(profiles, users, self.mapping.fields, self.settings.leavers)
            self.summary.plan = plan
            self.summary.users = users
            self.summary.warnings = [
                Failure(r.employee_id, r.email, r.reason) for r in plan.warnings
            ]
            check_deactivations(plan, self.settings.max_deactivations)
            if self.dry_run:
                self.summary.counts = plan.counts()
                some_left = bool(plan.rejected or plan.warnings)
                return self._finish(ExitCode.PARTIAL if some_left else ExitCode.OK)
            applied = self._apply(scim, plan, users)

        self.summary.counts = self._counts(plan, applied)
        self.summary.failures = [
            Failure(r.employee_id, r.email, r.reason) for r in plan.rejected
        ] + applied.failures
        self.summary.warnings += applied.warnings
        # A warning names an employee synced without their reports-to (their own manager, a
        # manager nobody can see): not "every employee in sync", so exit 1 like a failure.
        not_synced = bool(self.summary.failures or self.summary.warnings)
        return self._finish(ExitCode.PARTIAL if not_synced else ExitCode.OK)

    def _apply(self, scim: ScimClient, plan: Plan, users: list[ScimUser]) -> Applied:
        total = len(plan.actions)
        done = 0

        def step(count: int) -> None:
            nonlocal done
            done += count
            if self.progress:
                self.progress(done, total)

        writer = ScimWriter(scim)
        return apply_plan(writer, plan, users, concurrency=self.settings.concurrency, progress=step)

    @staticmethod
    def _counts(plan: Plan, applied: Applied) -> dict[str, int]:
        counts = {
            kind: applied.done.get(kind, 0)
            for kind in ("create", "update", "adopt", "reactivate", "deactivate")
        }
        counts["unchanged"] = plan.unchanged
        counts["rejected"] = len(plan.rejected)
        counts["failed"] = len(applied.failures)
        return counts

    def _finish(self, code: int, message: str = "") -> RunSummary:
        self.summary.exit_code = code
        self.summary.message = message
        self.summary.finished_at = _now()
        return self.summary

    def record(self) -> None:
        """Store the run (not dry runs, not lock refusals)."""
        if self.dry_run:
            return
        good = self.summary.exit_code in (ExitCode.OK, ExitCode.PARTIAL)
        self.store.record(
            RunRecord(
                started_at=self.summary.started_at,
                finished_at=self.summary.finished_at,
                exit_code=int(self.summary.exit_code),
                outcome=self.summary.outcome,
                message=self.summary.message,
                counts=self.summary.counts,
                coverage=sorted(self.coverage) if good and self.coverage is not None else None,
                failures=self.summary.failures,
            )
        )


def _catalogue(hibob: HibobClient) -> list[CatalogueField] | None:
    """The field catalogue, or None where HiBob will not give it (the run goes on without)."""
    try:
        return hibob.fields()
    except RemoteError as exc:
        log.warning("HiBob's field catalogue could not be read (%s); going on without it", exc)
        return None


def _category_of(field_id: str, catalogue: list[CatalogueField] | None) -> str | None:
    for entry in catalogue or ():
        if entry.id == field_id:
            return entry.category_name
    return None


def _alert(settings: Settings, store: StateStore, summary: RunSummary) -> None:
    """Email a person when one must act; best effort, never changes the exit code."""
    code = int(summary.exit_code)
    failures = store.consecutive_failures([code]) if code == ExitCode.UNAVAILABLE else 1
    alert = notify.alert_for(
        code,
        summary.message,
        summary.counts,
        consecutive_failures=failures,
        alert_after=settings.alert_after_failed_runs,
    )
    if alert is not None:
        notify.notify(settings, alert)


def run_sync(
    settings: Settings,
    mapping: FieldMapping,
    *,
    dry_run: bool = False,
    http: HttpSettings | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Run the sync once. Returns the summary; raises the HibobSyncError that stopped it.

    Runs that end in an error are recorded and alerted too, then the error is re-raised.
    """
    run = _Run(settings, mapping, dry_run=dry_run, http=http, progress=progress)
    ping_http = run.hibob_http
    if dry_run:
        return run.execute()
    with run_lock(settings.state_path.with_name(settings.state_path.name + ".lock")):
        notify.ping(settings.healthcheck_url, "start", ping_http)
        try:
            summary = run.execute()
        except LockedError:
            raise
        except HibobSyncError as exc:
            run.summary.finished_at = _now()
            run.summary.exit_code = exc.exit_code
            run.summary.message = exc.message
            _record_quietly(run)
            notify.ping(settings.healthcheck_url, "fail", ping_http, f"exit {int(exc.exit_code)}")
            _alert(settings, run.store, run.summary)
            raise
        run.record()
        # The run finished: exit 1 (some employees named in the summary) is still a
        # completed run, and the healthcheck exists to notice runs that did not happen.
        event: notify.PingEvent = "success"
        notify.ping(settings.healthcheck_url, event, ping_http, f"exit {int(summary.exit_code)}")
        return summary


def _record_quietly(run: _Run) -> None:
    """Record a failed run; a broken state store must not hide the original error."""
    try:
        run.record()
    except HibobSyncError as exc:
        log.warning("could not record the run: %s", exc.message)


def history(settings: Settings, limit: int = 10) -> list[RunRecord]:
    """The newest runs first (empty when no run has been recorded yet)."""
    if not settings.state_path.exists():
        return []
    return StateStore(settings.state_path).last_runs(limit)
