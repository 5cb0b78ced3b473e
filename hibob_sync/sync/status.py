"""`status`: is the nightly sync alive? Answered the way a monitoring plugin answers.

A cron job cannot report that it did not run; a monitoring system can notice, if something
tells it when the last good run was. This reads the state store (never writes it) and gives
the Nagios/Icinga plugin verdict: 0 OK, 1 WARNING (the last run failed, but a good one is
recent enough), 2 CRITICAL (no good run within the maximum age), 3 UNKNOWN (no state, or
the check itself could not be made). Zabbix and others run the same command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from pathlib import Path

from hibob_sync.config.durations import format_duration, parse_duration
from hibob_sync.core.report import counts_text
from hibob_sync.errors import HibobSyncError
from hibob_sync.safe_text import shown
from hibob_sync.state import RunRecord, last_and_last_good

DEFAULT_MAX_AGE = "26h"  # a nightly job, with two hours of slack


class Verdict(IntEnum):
    """The monitoring-plugin exit codes (Nagios plugin guidelines, Icinga, Zabbix)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class Status:
    """The verdict, why, and the two runs it was drawn from."""

    verdict: Verdict
    reason: str
    checked_at: datetime
    max_age: timedelta | None
    last_run: RunRecord | None = None
    last_good: RunRecord | None = None

    def _age(self, run: RunRecord) -> timedelta | None:
        when = _finished(run)
        return None if when is None else max(timedelta(0), self.checked_at - when)

    def text(self) -> str:
        """Plugin output: one status line with performance data, then the two runs."""
        line = f"HIBOB-SYNC {self.verdict.name} - {self.reason}"
        good_age = self._age(self.last_good) if self.last_good else None
        if good_age is not None and self.max_age is not None:
            limit = int(self.max_age.total_seconds())
            line += f" | last_good_age={int(good_age.total_seconds())}s;;{limit};0;"
            if self.last_run is not None:
                line += f" last_exit_code={self.last_run.exit_code}"
        lines = [line]
        for title, run in (("last run", self.last_run), ("last good run", self.last_good)):
            if run is not None:
                lines.append(f"{title}: {self._describe(run)}")
        return "\n".join(lines)

    def _describe(self, run: RunRecord) -> str:
        age = self._age(run)
        text = f"{run.finished_at or run.started_at}"
        if age is not None:
            text += f" ({_ago(age)})"
        text += f", exit {run.exit_code} ({run.outcome})"
        if any(run.counts.values()):
            text += f": {counts_text(run.counts)}"
        if run.message:
            text += f"; {shown(run.message[:200])}"
        return text

    def as_dict(self) -> dict[str, object]:
        """The --json form."""

        def run_dict(run: RunRecord | None) -> dict[str, object] | None:
            if run is None:
                return None
            age = self._age(run)
            return {
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "age_seconds": None if age is None else int(age.total_seconds()),
                "exit_code": run.exit_code,
                "outcome": run.outcome,
                "message": run.message,
                "counts": run.counts,
            }

        return {
            "status": self.verdict.name,
            "exit_code": int(self.verdict),
            "reason": self.reason,
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
            "max_age": format_duration(self.max_age) if self.max_age is not None else None,
            "last_run": run_dict(self.last_run),
            "last_good_run": run_dict(self.last_good),
        }

    def json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)


def _finished(run: RunRecord) -> datetime | None:
    """When the run ended (its start if the end was not recorded), timezone-aware."""
    try:
        when = datetime.fromisoformat(run.finished_at or run.started_at)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _ago(age: timedelta) -> str:
    minutes = int(age.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h ago"
    if hours:
        return f"{hours}h {minutes}m ago"
    return f"{minutes}m ago"


def evaluate(
    last_run: RunRecord | None,
    last_good: RunRecord | None,
    max_age: timedelta,
    now: datetime,
) -> Status:
    """The verdict from the newest run and the newest good run (pure: no I/O, no clock)."""
    if last_run is None:
        return Status(Verdict.UNKNOWN, "no run recorded yet", now, max_age)
    status = Status(Verdict.UNKNOWN, "", now, max_age, last_run, last_good)
    limit = format_duration(max_age)
    good_age = status._age(last_good) if last_good is not None else None
    if last_good is None or good_age is None or good_age > max_age:
        since = f"the last one {_ago(good_age)}" if good_age is not None else "none recorded"
        return Status(
            Verdict.CRITICAL,
            f"no good run within {limit} ({since}); last run: exit {last_run.exit_code} "
            f"({last_run.outcome})",
            now,
            max_age,
            last_run,
            last_good,
        )
    if last_run.id != last_good.id:
        return Status(
            Verdict.WARNING,
            f"the last run failed: exit {last_run.exit_code} ({last_run.outcome}); "
            f"last good run {_ago(good_age)}",
            now,
            max_age,
            last_run,
            last_good,
        )
    return Status(
        Verdict.OK,
        f"last run {_ago(good_age)}: exit {last_good.exit_code} ({last_good.outcome})",
        now,
        max_age,
        last_run,
        last_good,
    )


def check(state_path: Callable[[], Path], max_age: str, clock: Callable[[], float]) -> Status:
    """The whole check: every problem with the check itself is an UNKNOWN verdict, not a crash.

    A plugin must answer 0-3 whatever happens (a bad --max-age, a broken config, an
    unreadable store, a damaged history row, a defect here), or the monitoring system
    reports its own error (exit 70 would read as UNKNOWN at best, as a broken plugin at worst).
    """
    now = datetime.fromtimestamp(clock(), timezone.utc)
    try:
        status = _check(state_path, max_age, now)
        status.text(), status.json()  # a run that cannot be shown is as unreadable
    except Exception as exc:  # noqa: BLE001 - any failure of the check is UNKNOWN
        detail = shown(str(exc)[:200]) or "no detail"
        return Status(
            Verdict.UNKNOWN, f"the check failed: {type(exc).__name__}: {detail}", now, None
        )
    return status


def _check(state_path: Callable[[], Path], max_age: str, now: datetime) -> Status:
    try:
        limit = parse_duration(max_age)
        if not limit:
            raise ValueError(f"expected a duration above zero, got {max_age!r}")
    except ValueError as exc:
        return Status(Verdict.UNKNOWN, f"--max-age: {exc}", now, None)
    try:
        path = state_path()
        try:
            last_run, last_good = last_and_last_good(path)
        except FileNotFoundError:
            return Status(
                Verdict.UNKNOWN,
                f"no state store at {path}: no run recorded yet "
                "(or sync.state_path points elsewhere)",
                now,
                limit,
            )
    except HibobSyncError as exc:
        reason = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        return Status(Verdict.UNKNOWN, reason, now, limit)
    return evaluate(last_run, last_good, limit, now)
