"""Exit 70: an exception nothing expected is named in one line, its traceback kept in a
private file, the run recorded as failed, metrics written and the alert sent as for 69.

The fault is real, not patched in: a state store whose last good run holds coverage that
is not JSON (a damaged row, as a disk or a hand edit leaves one). The run reads that
coverage before it plans, which nothing in the tool foresees.
"""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

from tests.reliability_helpers import scim_writes
from tests.smtp_fixtures import StartSmtp
from tests.sync_fixtures import SyncEnv
from tests.test_alerts_e2e import bodies, notify_block
from tests.test_metrics import METRICS, parse

LINE = re.compile(
    r"internal error \(a defect in hibob-sync\): JSONDecodeError in "
    r"hibob_sync/state\.py:\d+ \(last_good_coverage\); the traceback is in (\S+)"
)


def damage_coverage(state: Path) -> None:
    with closing(sqlite3.connect(state)) as conn, conn:
        changed = conn.execute(
            "UPDATE runs SET coverage = '[\"work.title' WHERE coverage IS NOT NULL"
        ).rowcount
    assert changed == 1


def saved_traceback(stderr: str, folder: Path) -> str:
    """The file the one line names: in the state folder, new, mode 0600, the whole stack."""
    found = LINE.search(stderr)
    assert found, stderr
    path = Path(found.group(1).rstrip(";"))
    assert path.parent == folder
    assert stat.S_IMODE(path.lstat().st_mode) == 0o600 and not path.is_symlink()
    return path.read_text(encoding="utf-8")


def test_a_crash_is_named_recorded_measured_and_alerted(
    sync_env: SyncEnv, smtp_server: StartSmtp
) -> None:
    smtp = smtp_server()
    (sync_env.folder / "metrics").mkdir()
    sync_env.write_config(
        notify_block(smtp.port, after=1) + f"  metrics_file: {METRICS}\n", max_runtime="1h"
    )
    assert sync_env.run().exit_code == 1  # the sandbox's planted bad records
    alerts_before = len(smtp.envelopes)
    damage_coverage(sync_env.state)
    sync_env.scim.reset_counts()

    result = sync_env.run()

    assert result.exit_code == 70, result.output
    assert "Traceback" not in result.output
    [line] = [x for x in result.messages.splitlines() if "internal error" in x]
    text = saved_traceback(line, sync_env.state.parent)
    assert "Traceback (most recent call last)" in text and "json.decoder" in text
    for secret in (sync_env.scim.token, "HIBOB_SERVICE_USER_TOKEN"):
        assert secret not in result.output
    assert sync_env.scim.token not in text
    assert scim_writes(sync_env) == []
    # Recorded as failed: history shows it, status warns, metrics carry 70.
    runs = json.loads(sync_env.cli("history", "--json").stdout)
    assert [r["exit_code"] for r in runs] == [70, 1]
    assert "JSONDecodeError" in runs[0]["message"]
    status = sync_env.cli("status")
    assert status.exit_code == 1 and "exit 70" in status.stdout, status.output
    assert parse(sync_env)["hibob_sync_last_exit_code"][""] == 70
    # Alerted as 69 would be (alert_after_failed_runs: 1), without employee data.
    [alert] = bodies(smtp)[alerts_before:]
    assert "internal error" in alert and "JSONDecodeError" in alert
    assert "@" not in alert.split("What to do")[0].replace("hibob-sync@", "")


def test_a_crash_in_plan_is_named_too(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1
    damage_coverage(sync_env.state)
    result = sync_env.cli("plan")
    assert result.exit_code == 70, result.output
    assert "Traceback" not in result.output
    assert "JSONDecodeError" in saved_traceback(result.messages, sync_env.state.parent)
    # plan is no run: nothing recorded
    runs = json.loads(sync_env.cli("history", "--json").stdout)
    assert [r["exit_code"] for r in runs] == [1]
