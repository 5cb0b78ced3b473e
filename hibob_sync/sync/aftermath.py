"""What follows a recorded run: the Prometheus textfile and the alert email.

Both are best effort and never change the exit code. A partial run (`run --only`) writes
the textfile with the last good run of the night, not itself, and alerts nobody: the admin
who ran it is at the terminal.
"""

from __future__ import annotations

import logging

from hibob_sync.config.settings import Settings
from hibob_sync.core.summary import RunSummary
from hibob_sync.errors import ExitCode, HibobSyncError
from hibob_sync.memory import RunMemory
from hibob_sync.notify import alerts as notify
from hibob_sync.notify.metrics import record_metrics
from hibob_sync.state import StateStore

log = logging.getLogger(__name__)

# Nights on which nothing was synced for a reason no employee explains: a service down, a
# defect, a run that held the lock. In a row, they count toward alert_after_failed_runs.
FAILED_NIGHTS = (ExitCode.UNAVAILABLE, ExitCode.INTERNAL, ExitCode.LOCKED)


def write_metrics(
    settings: Settings,
    summary: RunSummary,
    *,
    partial: bool = False,
    memory: RunMemory | None = None,
) -> None:
    """The Prometheus textfile, after every run that was recorded (notify.metrics_file)."""
    if settings.metrics_file is not None:
        record_metrics(
            settings.metrics_file,
            settings.state_path,
            started_at=summary.started_at,
            finished_at=summary.finished_at,
            exit_code=int(summary.exit_code),
            counts=summary.counts,
            partial=partial,
            memory=memory,
        )


def alert(
    settings: Settings,
    store: StateStore,
    run_id: int | None,
    summary: RunSummary,
    memory: RunMemory | None = None,
) -> None:
    """Email a person when one must act; best effort, never changes the exit code.

    The failed nights in a row come from the run's memory (this run first), or from the store
    for a run that read none (it found the lock held).

    An alert that could not be sent is noted on the run in the history, so `history` and
    `status` show that nobody was told.
    """
    code = int(summary.exit_code)
    try:
        if code not in FAILED_NIGHTS:
            failures = 1
        elif memory is not None and run_id is not None:  # this run was recorded
            failures = memory.streak(code, FAILED_NIGHTS)
        else:
            failures = store.consecutive_failures(FAILED_NIGHTS)
    except HibobSyncError as exc:  # the store is what failed: alert as if at the threshold
        log.warning("could not count the failed runs in a row: %s", exc.message)
        failures = settings.alert_after_failed_runs
    found = notify.alert_for(
        code,
        summary.message,
        summary.counts,
        consecutive_failures=failures,
        alert_after=settings.alert_after_failed_runs,
    )
    if found is None:
        return
    problems: list[str] = []
    notify.notify(settings, found, problems)
    if problems and run_id is not None:
        try:
            store.add_note(run_id, f"alert email not sent: {problems[0]}")
        except HibobSyncError as exc:
            log.warning("could not note the failed alert in the history: %s", exc.message)
