"""HR data is untrusted text: shown escaped everywhere, written to HiThrive without controls."""

from __future__ import annotations

import json

import requests

from hibob_sync.safe_text import cleaned, shown
from tests.sync_fixtures import SyncEnv
from tests.test_run import _active_employee

HOSTILE = "Eng\x1b[31mRED\x1b[0m\r\nVerdict: all good"


def test_hostile_job_title_is_escaped_in_the_plan_and_cleaned_in_scim(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1  # the sandbox's planted bad records
    employee_id = _active_employee(sync_env)
    sync_env.sandbox.company.update(employee_id, {"work.title": HOSTILE})

    plan = sync_env.run("--dry-run")  # shows what would be written: the cleaned text
    assert "\x1b" not in plan.output and "\r" not in plan.output
    assert "-> Eng[31mRED[0m Verdict: all good" in plan.stdout
    assert not any(line.startswith("Verdict") for line in plan.output.splitlines())

    result = sync_env.cli("-v", "run")
    assert "\x1b" not in result.output and "\r" not in result.output
    assert "synced without control characters" in result.stderr  # counted in the summary
    assert "control characters removed from job_title" in result.stderr
    user = sync_env.users_by_external_id()[employee_id]
    assert user["title"] == "Eng[31mRED[0m Verdict: all good"

    summary = json.loads(sync_env.run("--json").stdout)
    assert summary["counts"]["cleaned"] == 1
    assert summary["counts"]["update"] == 0  # written clean once, nothing left to change

    # SCIM data is untrusted too: a title set there by someone else is shown escaped.
    answer = requests.patch(
        f"{sync_env.scim.direct_url}/Users/{user['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": HOSTILE}],
        },
        headers={"Authorization": f"Bearer {sync_env.scim.token}"},
        timeout=30,
    )
    assert answer.ok, answer.text
    plan = sync_env.run("--dry-run")
    assert "\x1b" not in plan.output and "\r" not in plan.output
    assert "job_title: Eng\\x1b[31mRED\\x1b[0m\\r\\nVerdict: all good -> Eng[31m" in plan.stdout


def test_shown_and_cleaned_rules() -> None:
    assert shown("a\x1b]0;owned\x07b") == "a\\x1b]0;owned\\x07b"
    assert shown("Jos\u00e9 \U0001f600") == "Jos\u00e9 \U0001f600"  # printable stays as is
    assert shown("x\u202ey") == "x\\u202ey"  # bidi override (Trojan Source)
    assert cleaned("a\tb\n\nc\x00") == "a b c"


def test_hostile_email_is_set_aside_not_cleaned(sync_env: SyncEnv) -> None:
    employee_id = _active_employee(sync_env)
    sync_env.sandbox.company.update(employee_id, {"root.email": "ann\x1b[2J@example.com"})
    result = sync_env.run()
    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert f"(no valid email) (HiBob {employee_id}): the email in HiBob is not a valid" in (
        result.messages
    )
