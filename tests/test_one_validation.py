"""One validation of the mapping, run by every command (issue 26.3; spec.md, mapping.yaml).

A source whose kind cannot fill its field is refused (78) by map validate, check, plan, run
and apply alike; a field whose values are mostly not of its kind stops a run before any
write (65, naming it), and `check` fails it sooner; one bad manager address is a warning
that leaves the link as it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sync_fixtures import SyncEnv
from tests.test_run import _active_employee, active_users, scim_writes

CASES = [
    ("birthday: personal.birthDate", "birthday: work.title", "birthday needs a date field"),
    ("start_date: work.startDate", "start_date: root.displayName", "start_date needs a date"),
    ("manager_email: work.reportsTo.email", "manager_email: work.site", "employee reference"),
]


def _break(env: SyncEnv, good: str, bad: str) -> None:
    path = env.folder / "mapping.yaml"
    assert good in path.read_text()
    path.write_text(path.read_text().replace(good, bad))


@pytest.mark.parametrize(("good", "bad", "says"), CASES)
def test_every_command_refuses_a_source_of_the_wrong_kind(
    sync_env: SyncEnv, tmp_path: Path, good: str, bad: str, says: str
) -> None:
    plan = tmp_path / "plan.json"
    sync_env.cli("plan", "-o", str(plan))  # made while the mapping was valid
    _break(sync_env, good, bad)
    field = bad.split(":")[0]
    for command in (("map", "validate"), ("check",), ("plan",), ("run",), ("apply", str(plan))):
        result = sync_env.cli(*command)
        assert result.exit_code == 78, (command, result.output)
        assert f"mapping.{field}: " in result.output and says in result.output, command
    assert scim_writes(sync_env) == []
    assert not sync_env.state.exists() or "in sync" not in sync_env.cli("status").output


def test_most_manager_values_not_addresses_stop_the_run_before_any_write(
    sync_env: SyncEnv,
) -> None:
    _break(sync_env, "manager_email: work.reportsTo.email", "manager_email: root.displayName")
    check = sync_env.cli("check")
    assert check.exit_code == 78, check.output
    assert "[FAIL] manager_email: 0 of " in check.stdout
    assert "values of root.displayName are addresses or employee IDs" in check.stdout
    for command in ("plan", "run"):
        result = sync_env.cli(command)
        assert result.exit_code == 65, result.output
        assert "mapping.manager_email: 0 of " in result.stderr
        assert "nothing was written" in result.stderr
    assert sync_env.cli("map", "validate").exit_code == 78
    assert scim_writes(sync_env) == []


def test_most_emails_not_addresses_stop_the_run(sync_env: SyncEnv) -> None:
    _break(sync_env, "email: root.email", "email: root.firstName")
    result = sync_env.run()
    assert result.exit_code == 65, result.output
    assert "mapping.email: 0 of " in result.stderr and "root.firstName" in result.stderr
    assert scim_writes(sync_env) == []
    validate = sync_env.cli("map", "validate")
    assert validate.exit_code == 78 and "root.firstName are addresses" in validate.stderr


def test_check_samples_manager_email_and_says_when_it_is_right(sync_env: SyncEnv) -> None:
    result = sync_env.cli("check")
    assert result.exit_code == 0, result.output
    assert "[ok  ] manager_email: " in result.stdout


def test_one_bad_manager_address_is_a_warning_and_the_employee_still_syncs(
    sync_env: SyncEnv,
) -> None:
    assert sync_env.run().exit_code in (0, 1)
    company = sync_env.sandbox.company
    boss = _active_employee(sync_env, with_reports=True)
    report = next(
        i
        for i in active_users(sync_env)
        if (company.get(i).get("work.reportsTo") or {}).get("id") == boss  # type: ignore[union-attr]
    )
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    linked = sync_env.users_by_external_id()[report][enterprise]["manager"]["value"]
    # The manager's address turns bad in HiBob: the report's reports-to cannot be read.
    company.update(boss, {"root.email": "not-an-address"})
    company.update(report, {"work.title": "Chief Tester"})
    result = sync_env.run()
    assert result.exit_code == 1, result.output  # the manager is set aside (no valid email)
    after = sync_env.users_by_external_id()[report]
    assert after["title"] == "Chief Tester"  # the report still syncs
    assert after[enterprise]["manager"]["value"] == linked  # and keeps its link
    messages = " ".join(result.messages.split())
    assert "manager_email is not a valid email address; reports-to left unchanged" in messages
    assert "not-an-address" not in result.output  # reasons never hold values


def test_map_set_and_the_interactive_map_sample_the_values(sync_env: SyncEnv) -> None:
    before = (sync_env.folder / "mapping.yaml").read_text()
    result = sync_env.cli("map", "set", "manager_email", "root.displayName")
    assert result.exit_code == 78, result.output
    assert "mapping.manager_email: 0 of " in result.stderr
    assert (sync_env.folder / "mapping.yaml").read_text() == before

    answers = [""] * 7 + ["root.displayName", "work.reportsTo.email", "", "y"]
    result = sync_env.cli("map", input="\n".join(answers) + "\n", terminal=True)
    assert result.exit_code == 0, result.output
    assert "values of root.displayName are addresses or employee IDs" in result.stdout
    assert "manager_email: work.reportsTo.email" in (sync_env.folder / "mapping.yaml").read_text()
