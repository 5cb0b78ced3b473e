"""Quiet repeats: exit 1 (and the alert email) only for problems the last run did not have.

spec.md, exit codes: 1 = "employees could not be synced that the last run had no problem
with"; 0 also when "the only ones left out were already left out by the last run (still
named)"; warnings never change the exit code.
"""

from __future__ import annotations

import json
import sqlite3
from email import message_from_bytes
from pathlib import Path

from hibob_sync.model import Failure
from hibob_sync.state import RunRecord, StateStore
from tests.smtp_fixtures import StartSmtp
from tests.sync_fixtures import SyncEnv
from tests.test_alerts_e2e import notify_block
from tests.test_run import _active_employee, scim_writes


def subjects(smtp: object) -> list[str]:
    return [str(message_from_bytes(e.original_content)["Subject"]) for e in smtp.envelopes]  # type: ignore[attr-defined]


def test_three_nights_new_same_new(sync_env: SyncEnv, smtp_server: StartSmtp) -> None:
    smtp = smtp_server()
    sync_env.write_config(notify_block(smtp.port))

    # Night 1: the sandbox's planted bad records are new problems: exit 1, one email.
    first = sync_env.run()
    assert first.exit_code == 1, first.output
    assert "Employees not synced, new since the last run (3):" in first.stderr
    assert len(subjects(smtp)) == 1 and "new employees" in subjects(smtp)[0]
    body = message_from_bytes(smtp.envelopes[0].original_content).get_payload(decode=True)
    assert b"no email in HiBob" in body
    for failure in json.loads(sync_env.cli("history", "--json").stdout)[0]["failures"]:
        assert failure["email"] is None or failure["email"].encode() not in body
    first_day = json.loads(sync_env.cli("history", "--json").stdout)[0]["started_at"][:10]

    # Night 2: the same employees, the same reasons: exit 0, still named with their date;
    # the warnings (reports of a manager who left) are shown and change nothing.
    second = sync_env.run()
    assert second.exit_code == 0, second.output
    assert f"3 still set aside since {first_day}:" in second.stderr
    assert "no email in HiBob" in second.stderr
    assert "Warnings (" in second.stderr
    assert "new since the last run" not in second.stderr
    assert len(smtp.envelopes) == 1  # no email for a repeat

    # Under cron (-q) a night with only old problems prints nothing at all.
    quiet = sync_env.cli("-q", "run")
    assert quiet.exit_code == 0 and quiet.output == ""

    # Night 3: another employee loses their email in HiBob: exit 1 for that one only.
    employee_id = _active_employee(sync_env)
    sync_env.sandbox.company.update(employee_id, {"root.email": "not-an-address"})
    third = sync_env.run("--json")
    assert third.exit_code == 1, third.output
    failures = json.loads(third.stdout)["failures"]
    new = [f for f in failures if f["new"]]
    assert [f["employee_id"] for f in new] == [employee_id]
    assert {f["since"] for f in failures if not f["new"]} == {first_day}
    assert len(smtp.envelopes) == 2
    history = json.loads(sync_env.cli("history", "--json").stdout)
    assert [run["exit_code"] for run in history] == [1, 0, 0, 1]
    assert "1 employee newly set aside" in history[0]["message"]


def test_failed_night_in_between_does_not_make_old_problems_new(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1
    sync_env.sandbox.fail_next(50, 503)
    assert sync_env.run().exit_code == 69
    sync_env.sandbox.clear_faults()
    assert sync_env.run().exit_code == 0  # compared with the last run that finished


def test_history_n0_failed_runs_and_whole_messages(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1
    # A stop before any write: history says nothing was written, not "nothing to do".
    company = sync_env.sandbox.company
    for employee_id in sorted(company.ids())[:12]:
        company.terminate(employee_id)
    assert sync_env.run().exit_code == 65

    result = sync_env.cli("history", "-n", "0")
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(sync_env.cli("history", "-n", "0", "--json").stdout) == []

    text = sync_env.cli("history").stdout
    [stopped] = [line for line in text.splitlines() if " 65  " in line]
    assert stopped.rstrip().endswith("nothing written")
    message = json.loads(sync_env.cli("history", "--json").stdout)[0]["message"]
    assert len(message) > 100
    shown = " ".join(text.split())
    assert " ".join(message.split()) in shown  # whole, wrapped at spaces only


def test_run_stopped_mid_apply_shows_what_it_did(sync_env: SyncEnv) -> None:
    """An outage after the creates: history shows the creates, not 'nothing'."""
    employee_id = _active_employee(sync_env)
    email = sync_env.sandbox.company.get(employee_id)["root.email"]
    sync_env.scim.seed(
        [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email}]
    )
    sync_env.scim.respond(503, None, method="PATCH", times=None)  # the adoption fails
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    created = sum(1 for method, _ in scim_writes(sync_env) if method == "POST")
    assert created > 0
    text = sync_env.cli("history").stdout
    assert f"{created} created before it stopped" in text


def test_store_from_an_older_version_gains_the_since_column(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL,"
            " finished_at TEXT NOT NULL, exit_code INTEGER NOT NULL, outcome TEXT NOT NULL,"
            " message TEXT NOT NULL DEFAULT '', counts TEXT NOT NULL DEFAULT '{}',"
            " coverage TEXT);"
            "CREATE TABLE failures (run_id INTEGER NOT NULL, employee_id TEXT, email TEXT,"
            " reason TEXT NOT NULL);"
            "INSERT INTO runs (started_at, finished_at, exit_code, outcome)"
            " VALUES ('2026-11-20T02:00:00+00:00', '2026-11-20T02:01:00+00:00', 1, 'x');"
            "INSERT INTO failures VALUES (1, '42', NULL, 'no email in HiBob');"
        )
    conn.close()
    store = StateStore(path)
    old = Failure("42", None, "no email in HiBob")
    assert store.known_problems() == {old: "2026-11-20"}
    store.record(
        RunRecord(
            "2026-11-21T02:00:00+00:00",
            "2026-11-21T02:01:00+00:00",
            0,
            "in sync",
            failures=[old, Failure("7", "a@b.example", "too long")],
            since={old: "2026-11-20"},
        )
    )
    assert store.known_problems() == {
        old: "2026-11-20",
        Failure("7", "a@b.example", "too long"): "2026-11-21",
    }
