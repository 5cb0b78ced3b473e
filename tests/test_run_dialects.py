"""`run` end to end against other SCIM servers' dialects (the test proxy imitates each in front
of scim2-server): the first run recovers per user, the state store remembers, the second run
needs no recovery. Also a manager's email change with her reports, in one run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.scim_fixtures import ScimServerFactory
from tests.sync_fixtures import ENTERPRISE, HITHRIVE, SyncEnv
from tests.test_run import _active_employee, expected_users, scim_writes


def one_at_a_time(env: SyncEnv) -> None:
    """Concurrency 1, so the number of requests of a run is exact."""
    env.config.write_text(env.config.read_text().replace("concurrency: 2", "concurrency: 1"))


def run_json(env: SyncEnv) -> dict[str, Any]:
    env.scim.reset_counts()
    result = env.run("--json")
    assert result.exit_code in (0, 1), result.output  # 1 only for new bad records
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def move_reports(env: SyncEnv, count: int) -> list[str]:
    """Point `count` employees at a new manager in HiBob; their employee IDs."""
    boss = _active_employee(env)
    movers = [i for i in sorted(expected_users(env)) if i != boss][:count]
    for employee_id in movers:
        env.sandbox.company.update(employee_id, {"work.reportsTo": boss})
    return movers


def manager_of(env: SyncEnv, employee_id: str) -> str | None:
    users = env.users_by_external_id()
    manager = users[employee_id].get(ENTERPRISE, {}).get("manager") or {}
    return next((e for e, u in users.items() if u["id"] == manager.get("value")), None)


def test_sub_path_refusing_server_first_run_recovers_once_second_needs_nothing(
    sync_env: SyncEnv,
) -> None:
    one_at_a_time(sync_env)
    sync_env.run()
    sync_env.scim.dialect = "no-sub-path"
    movers = move_reports(sync_env, 3)
    summary = run_json(sync_env)
    # One extra request for the first user; the others start with the form that worked.
    assert [m for m, _ in scim_writes(sync_env)] == ["PATCH"] * (len(movers) + 1)
    assert summary["counts"]["update"] == len(movers) and summary["counts"]["failed"] == 0
    assert summary["scim_recoveries"] == 1
    assert any("whole attribute" in line for line in summary["scim_dialect"])
    boss = manager_of(sync_env, movers[0])
    assert boss is not None and all(manager_of(sync_env, m) == boss for m in movers)

    sync_env.sandbox.company.update(movers[0], {"work.reportsTo": movers[1]})
    summary = run_json(sync_env)
    assert [m for m, _ in scim_writes(sync_env)] == ["PATCH"]
    assert summary["scim_recoveries"] == 0 and manager_of(sync_env, movers[0]) == movers[1]
    text = sync_env.run().output
    assert "SCIM server dialect" in text and "whole attribute" in text
    check = " ".join(sync_env.cli("check").stdout.split())
    assert (
        f"SCIM dialect learned in earlier runs: {ENTERPRISE.lower()}:manager: PATCHed as a" in check
    )


def test_whole_object_crashing_server_is_never_sent_the_whole_object(sync_env: SyncEnv) -> None:
    one_at_a_time(sync_env)
    sync_env.run()
    sync_env.scim.dialect = "no-whole-complex"
    movers = move_reports(sync_env, 3)
    summary = run_json(sync_env)
    assert [m for m, _ in scim_writes(sync_env)] == ["PATCH"] * len(movers)
    assert summary["scim_recoveries"] == 0 and summary["counts"]["failed"] == 0


def test_server_without_patch_remove_learns_put_once(sync_env: SyncEnv) -> None:
    one_at_a_time(sync_env)
    sync_env.run()
    sync_env.scim.dialect = "no-add-remove"
    first, second, third = sorted(expected_users(sync_env))[:3]
    for employee_id in (first, second):
        sync_env.sandbox.company.update(employee_id, {"work.title": None})
    summary = run_json(sync_env)
    # The first user: PATCH (501), then PUT; the second goes straight to PUT.
    assert [m for m, _ in scim_writes(sync_env)] == ["PATCH", "PUT", "PUT"]
    assert summary["scim_recoveries"] == 1 and summary["counts"]["update"] == 2
    users = sync_env.users_by_external_id()
    assert "title" not in users[first] and "title" not in users[second]

    sync_env.sandbox.company.update(third, {"work.title": None})
    summary = run_json(sync_env)
    # Remembered: no PATCH tried, and the listing kept the resource (no GET before the PUT).
    assert scim_writes(sync_env) == [("PUT", f"/Users/{users[third]['id']}")]
    assert not any(
        m == "GET" and p == f"/Users/{users[third]['id']}" for m, p in sync_env.scim.requests
    )
    assert summary["scim_recoveries"] == 0


def test_manager_email_change_keeps_reports_and_takes_a_moved_report(sync_env: SyncEnv) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    boss = _active_employee(sync_env, with_reports=True)
    reports = [
        i
        for i in company.ids()
        if (company.get(i).get("work.reportsTo") or {})
        and company.get(i)["work.reportsTo"].get("id") == boss
    ]  # type: ignore[union-attr]
    mover = next(i for i in sorted(expected_users(sync_env)) if i != boss and i not in reports)
    company.update(boss, {"root.email": "renamed.boss@example.com"})
    company.update(mover, {"work.reportsTo": boss})
    users = sync_env.users_by_external_id()

    summary = run_json(sync_env)
    # Two requests: the manager's new email, the moved report. No write, warning or count
    # for the reports that already point at her.
    assert sorted(scim_writes(sync_env)) == sorted(
        [("PATCH", f"/Users/{users[boss]['id']}"), ("PATCH", f"/Users/{users[mover]['id']}")]
    )
    assert summary["counts"]["update"] == 2
    assert not any(
        "manager" in w["reason"]
        for w in summary["warnings"]
        if w["employee_id"] in [*reports, mover]
    )
    assert manager_of(sync_env, mover) == boss
    assert all(manager_of(sync_env, r) == boss for r in reports if r in expected_users(sync_env))
    assert sync_env.users_by_external_id()[boss]["userName"] == "renamed.boss@example.com"
    assert scim_writes(sync_env) and run_json(sync_env)["counts"]["update"] == 0


@pytest.fixture
def datetime_env(sync_env: SyncEnv, scim_server_factory: ScimServerFactory) -> SyncEnv:
    """The run against scim2-server whose startDate is typed dateTime (as some servers type it)."""
    sync_env.scim = scim_server_factory(schemas="datetime")
    sync_env.write_config()
    return sync_env


def test_a_datetime_start_date_round_trips_and_a_quiet_night_writes_nothing(
    datetime_env: SyncEnv,
) -> None:
    run_json(datetime_env)
    expected = expected_users(datetime_env)
    users = datetime_env.users_by_external_id()
    for employee_id, want in expected.items():
        stored = users[employee_id][HITHRIVE].get("startDate")
        if want["startDate"]:
            # Written as a dateTime at midnight UTC, read back as the date.
            assert stored == f"{want['startDate']}T00:00:00Z", employee_id
    summary = run_json(datetime_env)
    assert scim_writes(datetime_env) == []
    assert summary["counts"]["update"] == 0 and summary["counts"]["unchanged"] == len(expected)


@pytest.fixture
def names_env(sync_env: SyncEnv, scim_server_factory: ScimServerFactory) -> SyncEnv:
    """The run against a server whose /Schemas requires displayName and name.givenName."""
    sync_env.scim = scim_server_factory(schemas="names")
    sync_env.write_config()
    return sync_env


def test_check_names_required_attributes_and_the_mapping_field_for_each(
    names_env: SyncEnv,
) -> None:
    result = names_env.cli("check")
    assert result.exit_code == 78, result.output
    out = " ".join(result.stdout.split())
    core = "urn:ietf:params:scim:schemas:core:2.0:User"
    for path, field in (
        (f"{core}:displayName", "display_name"),
        (f"{core}:name.givenName", "first_name"),
    ):
        assert f"the SCIM server requires {path} to create a user" in out
        assert f"hibob-sync map set {field}" in out

    assert names_env.cli("map", "set", "first_name", "root.firstName").exit_code == 0
    assert names_env.cli("map", "set", "display_name", "root.displayName").exit_code == 0
    result = names_env.cli("check")
    assert "requires" not in result.stdout, result.output


def test_a_create_refused_for_a_required_attribute_names_it_and_its_field(
    names_env: SyncEnv,
) -> None:
    refusal = {"status": "400", "scimType": "invalidValue", "detail": "missing attribute"}
    names_env.scim.respond(400, refusal, method="POST", path="/Users", times=None)
    summary = run_json(names_env)
    reasons = {f["reason"] for f in summary["failures"] if f["reason"].startswith("SCIM")}
    assert reasons and all(
        "requires urn:ietf:params:scim:schemas:core:2.0:User:displayName" in r
        and "map display_name" in r
        for r in reasons
    )


def test_check_names_an_attribute_whose_type_cannot_hold_its_field(sync_env: SyncEnv) -> None:
    text = sync_env.config.read_text().replace(
        "hithrive:\n", "hithrive:\n  attributes:\n    teams: nickName\n"
    )
    sync_env.config.write_text(text)
    result = sync_env.cli("check")
    assert result.exit_code == 78, result.output
    out = " ".join(result.stdout.split())
    core = "urn:ietf:params:scim:schemas:core:2.0:User"
    assert f"{core}:nickName (for teams) is single-valued, but teams has several values" in out
