"""sync.max_runtime bounds a run, and nights that synced nothing because the lock was held
alert like 69: a hung run can neither hold the lock forever nor go unnoticed."""

from __future__ import annotations

import fcntl
import json
import os

from hibob_sync.sandbox import SEARCH_PATH
from tests.reliability_helpers import scim_writes
from tests.smtp_fixtures import StartSmtp
from tests.sync_fixtures import SyncEnv
from tests.test_alerts_e2e import bodies, notify_block


def history(env: SyncEnv) -> list[dict[str, object]]:
    result = env.cli("history", "--json")
    assert result.exit_code == 0, result.output
    runs: list[dict[str, object]] = json.loads(result.stdout)
    return runs


def test_a_hung_answer_stops_at_max_runtime_recorded_alerted_lock_released(
    sync_env: SyncEnv, smtp_server: StartSmtp
) -> None:
    smtp = smtp_server()
    # HiBob holds its answer far longer than the run may take (and than its read timeout
    # would allow before a retry): only the run's deadline can end this night.
    sync_env.sandbox.delay_next(600, path=SEARCH_PATH)
    sync_env.write_config(notify_block(smtp.port, after=1), max_runtime="1s", timeout=600)
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert "Traceback" not in result.output
    assert "passed sync.max_runtime (1s) and was stopped" in result.messages
    assert scim_writes(sync_env) == []
    [run] = history(sync_env)
    assert run["exit_code"] == 69 and "max_runtime" in str(run["message"])
    [alert] = bodies(smtp)
    assert "unavailable" in alert
    # The lock was released: the next night runs (the sandbox's planted bad records: 1).
    sync_env.sandbox.clear_faults()
    sync_env.write_config(max_runtime="1h")
    assert sync_env.run().exit_code == 1


def hold_lock(env: SyncEnv) -> int:
    lock = env.state.with_name(env.state.name + ".lock")
    lock.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_nights_in_a_row_with_the_lock_held_alert(
    sync_env: SyncEnv, smtp_server: StartSmtp
) -> None:
    smtp = smtp_server()
    sync_env.write_config(notify_block(smtp.port, after=2))
    fd = hold_lock(sync_env)  # a run that hangs, as far as the next nights can tell
    try:
        first = sync_env.run()
        assert first.exit_code == 75 and "holds the lock" in first.messages, first.output
        assert bodies(smtp) == []  # one night: no alert yet
        assert sync_env.run().exit_code == 75
    finally:
        os.close(fd)
    [alert] = bodies(smtp)
    assert "2 runs in a row" in alert and "lock" in alert
    assert "TimeoutStartSec" in alert
    assert [r["exit_code"] for r in history(sync_env)] == [75, 75]
    assert sync_env.sandbox.request_count() == 0


def test_max_runtime_is_a_duration_above_zero(sync_env: SyncEnv) -> None:
    for value, problem in (("0s", "a duration above zero"), ("soon", "a duration such as")):
        sync_env.write_config(max_runtime=value)
        result = sync_env.run()
        assert result.exit_code == 78, result.output
        assert f"sync.max_runtime: expected {problem}" in result.messages, result.messages
