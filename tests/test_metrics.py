"""`notify.metrics_file`: the Prometheus textfile after every run, parsed back with
prometheus_client's own text parser; written atomically (temp file + rename)."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.sync_fixtures import SyncEnv

METRICS = "metrics/hibob_sync.prom"
NAMES = {
    "hibob_sync_last_run_timestamp_seconds",
    "hibob_sync_last_success_timestamp_seconds",
    "hibob_sync_last_exit_code",
    "hibob_sync_run_duration_seconds",
    "hibob_sync_users",
    "hibob_sync_employees_set_aside",
    "hibob_sync_pending_deactivations",
}


def with_metrics(env: SyncEnv) -> None:
    (env.folder / "metrics").mkdir(exist_ok=True)
    env.write_config(extra=f"notify:\n  metrics_file: {METRICS}\n")


def parse(env: SyncEnv) -> dict[str, dict[str, float]]:
    """Metric name -> {action label or "": value}; every family a gauge with HELP text."""
    text = (env.folder / METRICS).read_text(encoding="utf-8")
    assert "# HELP hibob_sync_users " in text and "# TYPE hibob_sync_users gauge" in text
    values: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge" and family.documentation, family.name
        for sample in family.samples:
            values.setdefault(sample.name, {})[sample.labels.get("action", "")] = sample.value
    assert set(values) == NAMES
    return values


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_good_run_then_failed_run(sync_env: SyncEnv) -> None:
    with_metrics(sync_env)
    first = sync_env.run("--json")
    summary = json.loads(first.stdout)
    values = parse(sync_env)
    assert values["hibob_sync_last_exit_code"][""] == first.exit_code
    assert values["hibob_sync_last_run_timestamp_seconds"][""] == epoch(summary["finished_at"])
    assert values["hibob_sync_last_success_timestamp_seconds"][""] == epoch(summary["finished_at"])
    counts = summary["counts"]
    assert counts["create"] > 30
    for action in ("create", "update", "adopt", "reactivate", "deactivate", "unchanged"):
        assert values["hibob_sync_users"][action] == counts[action], action
    assert values["hibob_sync_employees_set_aside"][""] == counts["rejected"] > 0
    assert values["hibob_sync_pending_deactivations"][""] == 0
    assert values["hibob_sync_run_duration_seconds"][""] >= 0

    # Counts only: no email and no HiBob employee ID is ever in the file.
    text = (sync_env.folder / METRICS).read_text(encoding="utf-8")
    assert "@" not in text
    assert not any(employee_id in text for employee_id in sync_env.sandbox.company.ids())

    # A night later, a run stopped by a safeguard: its own time and code, the old success.
    sync_env.clock.advance(86400)
    for employee_id in sync_env.sandbox.company.ids():
        sync_env.sandbox.company.remove(employee_id)
    assert sync_env.run().exit_code == 65
    values = parse(sync_env)
    assert values["hibob_sync_last_exit_code"][""] == 65
    assert (
        values["hibob_sync_last_run_timestamp_seconds"][""] == epoch(summary["finished_at"]) + 86400
    )
    assert values["hibob_sync_last_success_timestamp_seconds"][""] == epoch(summary["finished_at"])
    assert values["hibob_sync_users"]["create"] == 0


def test_written_atomically_by_rename(sync_env: SyncEnv) -> None:
    """A reader holding the old file keeps reading a whole file: it is replaced, not rewritten."""
    with_metrics(sync_env)
    sync_env.run()
    path = sync_env.folder / METRICS
    with path.open(encoding="utf-8") as old:
        before = os.fstat(old.fileno()).st_ino
        sync_env.clock.advance(3600)
        sync_env.run()
        old_text = old.read()
    assert os.stat(path).st_ino != before  # a new file renamed into place
    assert 'hibob_sync_users{action="create"} 0.0' in path.read_text(encoding="utf-8")
    assert 'hibob_sync_users{action="create"} 0.0' not in old_text  # the old one, whole
    assert old_text.rstrip().endswith("hibob_sync_pending_deactivations 0.0")
    assert os.listdir(path.parent) == [path.name]  # no temp file left behind


def test_dry_run_writes_no_metrics(sync_env: SyncEnv) -> None:
    with_metrics(sync_env)
    sync_env.run("--dry-run")
    assert not (sync_env.folder / METRICS).exists()


def test_unwritable_metrics_never_change_the_outcome(sync_env: SyncEnv) -> None:
    sync_env.write_config(extra="notify:\n  metrics_file: no-such-folder/hibob_sync.prom\n")
    result = sync_env.run()
    assert result.exit_code == 1, result.output  # as without metrics: some set aside
    assert "could not write" in result.stderr and "Traceback" not in result.output
    assert not (sync_env.folder / "no-such-folder").exists()


# -- check: the folder of notify.metrics_file must take the run's temp file and rename --------


def test_check_tries_the_metrics_folder_without_writing_metrics(sync_env: SyncEnv) -> None:
    with_metrics(sync_env)
    folder = sync_env.folder / "metrics"
    result = sync_env.cli("check")
    assert result.exit_code == 0, result.output
    assert f"[ok  ] notify.metrics_file: {folder} is writable" in result.stdout
    # No metrics file (monitoring would read a run that never happened), no temp file left.
    assert os.listdir(folder) == []


@pytest.mark.parametrize("blocker", ["missing", "a file", "a folder named .prom"])
def test_check_fails_on_an_unusable_metrics_folder(sync_env: SyncEnv, blocker: str) -> None:
    if blocker == "a file":
        (sync_env.folder / "metrics").write_text("not a folder\n", encoding="utf-8")
    elif blocker == "a folder named .prom":
        (sync_env.folder / METRICS).mkdir(parents=True)
    sync_env.write_config(extra=f"notify:\n  metrics_file: {METRICS}\n")
    result = sync_env.cli("check")
    assert result.exit_code == 78, result.output
    assert "[FAIL] notify.metrics_file: " in result.stdout
    assert str(sync_env.folder / "metrics") in result.stdout
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_check_fails_on_a_read_only_metrics_folder(sync_env: SyncEnv) -> None:
    with_metrics(sync_env)
    folder = sync_env.folder / "metrics"
    folder.chmod(0o500)
    try:
        result = sync_env.cli("check")
    finally:
        folder.chmod(0o700)
    assert result.exit_code == 78, result.output
    assert f"[FAIL] notify.metrics_file: cannot write in {folder}" in result.stdout
