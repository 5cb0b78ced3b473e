"""`hibob-sync status`: each monitoring-plugin verdict and exit code, through the CLI.

The clock is injected (the same fake clock the HTTP settings carry), so ages are exact and
nothing sleeps.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hibob_sync.http import HttpSettings
from hibob_sync.state import RunRecord, StateStore
from tests.cli_helpers import CliResult, run_cli
from tests.hibob_fixtures import FakeClock
from tests.sync_fixtures import SyncEnv

HOUR = 3600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "config.yaml").write_text("sync:\n  state_path: state/state.db\n", encoding="utf-8")
    return folder


def status(folder: Path, clock: FakeClock, *args: str) -> CliResult:
    http = HttpSettings(sleep=clock.sleep, clock=clock)
    return run_cli("--config", str(folder / "config.yaml"), "status", *args, http=http)


def record(folder: Path, clock: FakeClock, hours_ago: float, exit_code: int) -> None:
    def at(offset: float) -> str:
        return datetime.fromtimestamp(clock() - offset, timezone.utc).isoformat()

    outcome = {0: "in sync", 1: "some employees failed", 65: "stopped by a safeguard"}
    StateStore(folder / "state" / "state.db").record(
        RunRecord(
            started_at=at(hours_ago * HOUR + 60),
            finished_at=at(hours_ago * HOUR),
            exit_code=exit_code,
            outcome=outcome.get(exit_code, "service unavailable"),
            message="" if exit_code in (0, 1) else "HiBob stayed unavailable",
            counts={"create": 2, "unchanged": 38} if exit_code in (0, 1) else {},
        )
    )


# (runs as (hours ago, exit code), oldest first; --max-age or None; verdict; its exit code)
CASES = {
    "good run an hour ago": ([(1, 0)], None, "OK", 0),
    "exit 1 counts as good": ([(1, 1)], None, "OK", 0),
    "failed last night, good the night before": ([(25, 0), (1, 69)], None, "WARNING", 1),
    "last good too old": ([(30, 0)], None, "CRITICAL", 2),
    "last good too old, failed since": ([(30, 0), (2, 65)], None, "CRITICAL", 2),
    "never a good run": ([(2, 65), (1, 69)], None, "CRITICAL", 2),
    "a longer --max-age": ([(30, 0)], "2d", "OK", 0),
    "a shorter --max-age": ([(2, 0)], "90m", "CRITICAL", 2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_verdicts(folder: Path, clock: FakeClock, case: str) -> None:
    runs, max_age, verdict, code = CASES[case]
    for hours_ago, exit_code in runs:
        record(folder, clock, hours_ago, exit_code)
    args = ("--max-age", max_age) if max_age else ()
    result = status(folder, clock, *args)
    assert result.exit_code == code, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"HIBOB-SYNC {verdict} - "), result.stdout
    assert "last run: " in result.stdout
    as_json = json.loads(status(folder, clock, *args, "--json").stdout)
    assert (as_json["status"], as_json["exit_code"]) == (verdict, code)
    assert as_json["last_run"]["exit_code"] == runs[-1][1]
    good = [r for r in runs if r[1] in (0, 1)]
    if good:
        assert as_json["last_good_run"]["age_seconds"] == int(good[-1][0] * HOUR)
        assert f"last_good_age={int(good[-1][0] * HOUR)}s;;" in first
    else:
        assert as_json["last_good_run"] is None


def test_warning_names_the_failure_and_the_good_run(folder: Path, clock: FakeClock) -> None:
    record(folder, clock, 24, 0)
    record(folder, clock, 0.5, 69)
    result = status(folder, clock)
    assert result.exit_code == 1
    assert "exit 69 (service unavailable)" in result.stdout
    assert "last good run 1d 0h ago" in result.stdout
    assert "2 created, 38 unchanged" in result.stdout


def test_no_state_is_unknown_and_creates_nothing(folder: Path, clock: FakeClock) -> None:
    result = status(folder, clock)
    assert result.exit_code == 3, result.output
    assert result.stdout.startswith("HIBOB-SYNC UNKNOWN - no state store at ")
    assert not (folder / "state").exists()
    assert json.loads(status(folder, clock, "--json").stdout)["status"] == "UNKNOWN"


def test_empty_state_store_is_unknown(folder: Path, clock: FakeClock) -> None:
    StateStore(folder / "state" / "state.db").last_runs()  # creates the tables, no run
    result = status(folder, clock)
    assert result.exit_code == 3
    assert "no run recorded yet" in result.stdout


@pytest.mark.parametrize("max_age", ["26", "soon", "0h"])
def test_bad_max_age_is_unknown_not_a_usage_error(
    folder: Path, clock: FakeClock, max_age: str
) -> None:
    record(folder, clock, 1, 0)
    result = status(folder, clock, "--max-age", max_age)
    assert result.exit_code == 3, result.output
    assert result.stdout.startswith("HIBOB-SYNC UNKNOWN - --max-age: ")


@pytest.mark.parametrize("args", [("--bogus",), ("--max-age",), ("extra",)])
def test_status_usage_error_is_unknown(folder: Path, clock: FakeClock, args: tuple[str]) -> None:
    # Nagios plugin guidelines: invalid arguments are UNKNOWN (3); exit 2 would page CRITICAL.
    record(folder, clock, 1, 0)
    result = status(folder, clock, *args)
    assert result.exit_code == 3, result.output
    assert result.stdout.startswith("HIBOB-SYNC UNKNOWN - "), result.output
    assert run_cli("run", "--bogus").exit_code == 2  # other commands keep the usage code


@pytest.mark.parametrize(
    "before",
    [("-q", "-v"), ("--config", ""), ("--bogus",)],
)
def test_a_usage_error_in_the_global_options_before_status_is_unknown(
    before: tuple[str, ...],
) -> None:
    result = run_cli(*before, "status")
    assert result.exit_code == 3, result.output
    assert result.stdout.startswith("HIBOB-SYNC UNKNOWN - "), result.output
    assert run_cli(*before, "run").exit_code == 2  # other commands keep the usage code


def test_unreadable_state_or_config_is_unknown(folder: Path, clock: FakeClock) -> None:
    state = folder / "state" / "state.db"
    state.parent.mkdir()
    state.write_bytes(b"not a database at all, but long enough to look like one" * 20)
    result = status(folder, clock)
    assert result.exit_code == 3, result.output
    assert "cannot be read" in result.stdout and "Traceback" not in result.output
    (folder / "config.yaml").write_text("sync:\n  state_pat: x\n", encoding="utf-8")
    result = status(folder, clock)
    assert result.exit_code == 3
    assert "unknown key sync.state_pat" in result.stdout


def test_a_damaged_history_row_is_unknown_not_a_crash(folder: Path, clock: FakeClock) -> None:
    # A row written by hand (or a damaged store): the check cannot be made, so UNKNOWN (3)
    # with one line on stdout, never the defect exit (70) a monitoring system cannot read.
    record(folder, clock, 1, 0)
    with sqlite3.connect(folder / "state" / "state.db") as conn:
        conn.execute("UPDATE runs SET exit_code = 'zero'")  # SQLite keeps the text
    conn.close()
    result = status(folder, clock)
    assert result.exit_code == 3, result.output
    assert result.stdout.startswith("HIBOB-SYNC UNKNOWN - the check failed: "), result.output
    assert "'zero'" in result.stdout
    assert result.stdout.count("\n") == 1 and "Traceback" not in result.output
    as_json = status(folder, clock, "--json")
    assert as_json.exit_code == 3, as_json.output
    assert json.loads(as_json.stdout)["status"] == "UNKNOWN"


def test_after_real_runs(sync_env: SyncEnv) -> None:
    """A real run, then status reading its record; the store is left byte for byte."""
    assert sync_env.run().exit_code in (0, 1)
    digest = hashlib.sha256(sync_env.state.read_bytes()).hexdigest()
    result = sync_env.cli("status")
    assert result.exit_code == 0, result.output
    assert "HIBOB-SYNC OK - last run 0m ago" in result.stdout
    sync_env.clock.advance(27 * HOUR)
    result = sync_env.cli("status", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["last_good_run"]["age_seconds"] == 27 * HOUR
    assert hashlib.sha256(sync_env.state.read_bytes()).hexdigest() == digest
