"""`hibob-sync run` end to end: the HiBob sandbox and scim2-server on loopback, the real CLI."""

from __future__ import annotations

import json
import os
import stat
from typing import Any

import pytest

from hibob_sync.sandbox.catalogue import GROUPS_FIELD, TEAMS_FIELD
from tests.sync_fixtures import ENTERPRISE, HITHRIVE, SyncEnv

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def scim_writes(env: SyncEnv) -> list[tuple[str, str]]:
    return [(m, p) for m, p in env.scim.requests if m in WRITES]


def is_active_in_hibob(env: SyncEnv, employee_id: str) -> bool:
    """HiBob's access status decides (spec.md "Who is active in HiThrive")."""
    return env.sandbox.company.get(employee_id)["internal.status"] == "Active"


def active_users(env: SyncEnv) -> list[str]:
    """The expected users HiBob has Active (future hires are held inactive), sorted."""
    return sorted(i for i in expected_users(env) if is_active_in_hibob(env, i))


def expected_users(env: SyncEnv) -> dict[str, dict[str, Any]]:
    """What HiThrive should hold, computed from the sandbox's own data (not our mapping code).

    Active employees, and future hires (Hired, Inactive until the start date: created ahead,
    inactive); not Terminated people, nor anyone else HiBob has Inactive.
    """
    company = env.sandbox.company
    emails: dict[str, list[str]] = {}
    records = {i: company.get(i) for i in company.ids()}
    for employee_id, record in records.items():
        email = record.get("root.email")
        if isinstance(email, str) and email.strip():
            emails.setdefault(email.strip().lower(), []).append(employee_id)
    expected: dict[str, dict[str, Any]] = {}
    for employee_id, record in records.items():
        lifecycle, status = record["internal.lifecycleStatus"], record["internal.status"]
        if status != "Active" and lifecycle != "Hired":
            continue
        email = record.get("root.email")
        if not isinstance(email, str) or not email.strip():
            continue
        email = email.strip().lower()
        if len(emails[email]) > 1:
            continue

        def shown(field_id: str, eid: str = employee_id) -> list[str]:
            value = company.display(eid, field_id)
            return [str(value)] if value else []

        manager = record.get("work.reportsTo")
        expected[employee_id] = {
            "userName": email,
            "title": company.display(employee_id, "work.title"),
            "employeeNumber": str(record["work.employeeIdInCompany"]),
            "startDate": record["work.startDate"],
            "birthDate": record.get("personal.birthDate"),
            "teams": sorted(set(shown("work.department") + shown(TEAMS_FIELD))),
            "groups": sorted(set(shown("work.site") + shown(GROUPS_FIELD))),
            "manager_email": (manager or {}).get("email") if isinstance(manager, dict) else None,
        }
    return expected


def actual(user: dict[str, Any], email_of: dict[str, str]) -> dict[str, Any]:
    ext = user.get(HITHRIVE, {})
    ent = user.get(ENTERPRISE, {})
    manager = (ent.get("manager") or {}).get("value")
    return {
        "userName": user["userName"],
        "title": user.get("title"),
        "employeeNumber": ent.get("employeeNumber"),
        "startDate": ext.get("startDate"),
        "birthDate": ext.get("birthDate"),
        "teams": sorted(ext.get("teams") or []),
        "groups": sorted(ext.get("groups") or []),
        "manager_email": email_of.get(manager) if manager else None,
    }


def assert_in_sync(env: SyncEnv) -> dict[str, dict[str, Any]]:
    """Every employee in scope has one active SCIM user with every field right."""
    users = env.users()
    email_of = {u["id"]: u["userName"].lower() for u in users}
    by_external = {u["externalId"]: u for u in users}
    assert len(by_external) == len(users)
    expected = expected_users(env)
    assert set(by_external) == set(expected)
    for employee_id, want in expected.items():
        got = actual(by_external[employee_id], email_of)
        manager = want.pop("manager_email")
        got_manager = got.pop("manager_email")
        assert got == want, employee_id
        if manager and manager.strip().lower() in email_of.values():
            assert got_manager == manager.strip().lower(), employee_id
        assert by_external[employee_id]["active"] is is_active_in_hibob(env, employee_id)
        work = [e for e in by_external[employee_id]["emails"] if e.get("primary")]
        assert work and work[0]["value"] == want["userName"]
    return expected


def test_verbose_run_reports_the_settled_concurrency_once(sync_env: SyncEnv) -> None:
    # -v adds the log; the limiter's outcome is in the summary and not repeated by the log.
    result = sync_env.cli("-v", "run")
    assert result.exit_code == 1, result.output
    assert result.stderr.count("concurrency settled at") == 1, result.stderr


def test_first_run_creates_everyone_with_every_field(sync_env: SyncEnv) -> None:
    result = sync_env.run()
    # The sandbox plants bad records (no email, a duplicate email): exit 1, each named.
    assert result.exit_code == 1, result.output
    company = sync_env.sandbox.company
    assert "no email in HiBob" in result.stderr
    for employee_id in company.awkward["duplicate_email"]:
        assert employee_id in result.stderr
    assert "Traceback" not in result.output
    # sync.concurrency (2 here) is the ceiling of what the limiter found.
    assert "SCIM concurrency settled at " in result.stderr
    assert "(ceiling sync.concurrency 2, at most " in result.stderr

    expected = assert_in_sync(sync_env)
    # One write per user: managers were created before their reports.
    assert len(scim_writes(sync_env)) == len(expected)


def test_second_run_writes_nothing(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1
    sync_env.scim.reset_counts()
    result = sync_env.run("--json")
    assert result.exit_code == 0
    assert scim_writes(sync_env) == []
    summary = json.loads(result.stdout)
    assert summary["counts"]["create"] == 0 and summary["counts"]["update"] == 0
    assert summary["concurrency"]["ceiling"] == 2
    assert 1 <= summary["concurrency"]["settled"] <= summary["concurrency"]["peak"] <= 2
    assert summary["counts"]["unchanged"] == len(expected_users(sync_env))


def _active_employee(env: SyncEnv, *, with_reports: bool = False) -> str:
    company = env.sandbox.company
    managers = {
        (company.get(i).get("work.reportsTo") or {}).get("id")  # type: ignore[union-attr]
        for i in company.ids()
    }
    for employee_id in active_users(env):
        if with_reports == (employee_id in managers) and employee_id not in company.awkward.get(
            "terminated_manager", []
        ):
            return employee_id
    raise AssertionError("no suitable employee")


def test_title_change_is_one_patch_of_one_attribute(sync_env: SyncEnv) -> None:
    sync_env.run()
    employee_id = _active_employee(sync_env)
    company = sync_env.sandbox.company
    titles = list(company.list_items("work.title"))
    current = company.get(employee_id)["work.title"]
    new_title = next(t for t in titles if t != current)
    company.update(employee_id, {"work.title": new_title})
    sync_env.scim.reset_counts()

    result = sync_env.run()
    assert result.exit_code == 0
    user = sync_env.users_by_external_id()[employee_id]
    writes = scim_writes(sync_env)
    assert writes == [("PATCH", f"/Users/{user['id']}")]
    body = next(c.body for c in sync_env.scim.calls if c.method == "PATCH")
    assert [op["path"] for op in body["Operations"]] == ["title"]
    assert user["title"] == company.display(employee_id, "work.title")


def test_email_change_updates_username_without_duplicate(sync_env: SyncEnv) -> None:
    sync_env.run()
    employee_id = _active_employee(sync_env)
    before = sync_env.users_by_external_id()[employee_id]
    sync_env.sandbox.company.update(employee_id, {"root.email": "  New.Address@Example.COM "})
    sync_env.scim.reset_counts()

    assert sync_env.run().exit_code == 0
    users = sync_env.users_by_external_id()
    assert users[employee_id]["id"] == before["id"]
    assert users[employee_id]["userName"] == "new.address@example.com"
    assert scim_writes(sync_env) == [("PATCH", f"/Users/{before['id']}")]
    assert len(sync_env.users()) == len(users)


def test_termination_then_rehire(sync_env: SyncEnv) -> None:
    sync_env.run()
    employee_id = _active_employee(sync_env)
    user_id = sync_env.users_by_external_id()[employee_id]["id"]
    sync_env.sandbox.company.terminate(employee_id)
    sync_env.scim.reset_counts()

    assert sync_env.run().exit_code == 0
    assert scim_writes(sync_env) == [("PATCH", f"/Users/{user_id}")]
    assert sync_env.users_by_external_id()[employee_id]["active"] is False

    sync_env.sandbox.company.rehire(employee_id)
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0
    assert scim_writes(sync_env) == [("PATCH", f"/Users/{user_id}")]
    assert sync_env.users_by_external_id()[employee_id]["active"] is True


def test_manager_change_points_at_new_managers_scim_id(sync_env: SyncEnv) -> None:
    sync_env.run()
    employee_id = _active_employee(sync_env)
    users = sync_env.users_by_external_id()
    new_manager = next(i for i in sorted(users) if i != employee_id)
    sync_env.sandbox.company.update(employee_id, {"work.reportsTo": new_manager})
    sync_env.scim.reset_counts()

    assert sync_env.run().exit_code == 0
    user = sync_env.users_by_external_id()[employee_id]
    assert scim_writes(sync_env) == [("PATCH", f"/Users/{user['id']}")]
    assert user[ENTERPRISE]["manager"]["value"] == users[new_manager]["id"]


def test_hand_added_user_untouched_and_email_match_adopted(sync_env: SyncEnv) -> None:
    employee_id = _active_employee(sync_env)
    email = expected_users(sync_env)[employee_id]["userName"]
    hand, twin = sync_env.scim.seed(
        [
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "visitor@elsewhere.example",
                "title": "Guest",
                "active": True,
            },
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email.upper(),
                "active": True,
            },
        ]
    )
    result = sync_env.run("--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["counts"]["adopt"] == 1
    users = {u["id"]: u for u in sync_env.users()}
    assert users[hand["id"]]["title"] == "Guest" and "externalId" not in users[hand["id"]]
    assert users[twin["id"]]["externalId"] == employee_id
    assert not any(p == f"/Users/{hand['id']}" for _, p in scim_writes(sync_env))
    assert sum(1 for u in users.values() if u["userName"].lower() == email) == 1


def test_dry_run_writes_nothing_and_shows_the_diff(sync_env: SyncEnv) -> None:
    result = sync_env.run("--dry-run")
    assert result.exit_code == 0  # as `plan`: 0 when `run` would go ahead
    assert scim_writes(sync_env) == []
    assert "+ create" in result.stdout and "job_title:" in result.stdout
    assert not sync_env.state.exists()

    sync_env.run()
    employee_id = _active_employee(sync_env)
    company = sync_env.sandbox.company
    old = company.display(employee_id, "work.title")
    new_title = next(
        t for t in company.list_items("work.title") if t != company.get(employee_id)["work.title"]
    )
    company.update(employee_id, {"work.title": new_title})
    sync_env.scim.reset_counts()
    result = sync_env.run("--dry-run")
    assert scim_writes(sync_env) == []
    assert f"job_title: {old} -> {company.display(employee_id, 'work.title')}" in result.stdout


def test_safeguard_too_many_deactivations(sync_env: SyncEnv) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    for employee_id in active_users(sync_env)[:8]:
        company.terminate(employee_id)
    sync_env.scim.reset_counts()
    result = sync_env.run()
    assert result.exit_code == 65, result.output
    assert "max_deactivations" in result.stderr and "Traceback" not in result.output
    assert scim_writes(sync_env) == []
    # Raising the limit lets the reviewed plan through.
    sync_env.write_config(max_deactivations=50)
    assert sync_env.run().exit_code == 0
    assert len(scim_writes(sync_env)) == 8


def test_safeguard_no_employees(sync_env: SyncEnv) -> None:
    sync_env.run()
    for employee_id in sync_env.sandbox.company.ids():
        sync_env.sandbox.company.remove(employee_id)
    sync_env.scim.reset_counts()
    result = sync_env.run("--json")
    assert result.exit_code == 65
    assert "no employees" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["exit_code"] == 65 and "no employees" in summary["message"]
    # The run's own summary, carried by the error: the same run history recorded.
    recorded = json.loads(sync_env.cli("history", "--json").stdout)[0]
    assert (summary["started_at"], summary["finished_at"]) == (
        recorded["started_at"],
        recorded["finished_at"],
    )
    assert scim_writes(sync_env) == []


def test_safeguard_lost_permission(sync_env: SyncEnv) -> None:
    sync_env.run()
    sync_env.sandbox.add_service_user(
        "restricted",
        "restricted-token",
        categories={"root", "work", "identification", "lifecycle", "category_1700000000000"},
        people_scope="all",
    )
    os.environ["HIBOB_SERVICE_USER_ID"] = "restricted"
    os.environ["HIBOB_SERVICE_USER_TOKEN"] = "restricted-token"
    sync_env.scim.reset_counts()
    result = sync_env.run()
    assert result.exit_code == 65, result.output
    assert "personal.birthDate" in result.stderr and "'Personal'" in result.stderr
    assert scim_writes(sync_env) == []


def test_missing_permission_on_first_run_is_77(sync_env: SyncEnv) -> None:
    sync_env.sandbox.add_service_user(
        "restricted",
        "restricted-token",
        categories={"root", "work", "identification", "lifecycle", "personal"},
        people_scope="all",
    )
    os.environ["HIBOB_SERVICE_USER_ID"] = "restricted"
    os.environ["HIBOB_SERVICE_USER_TOKEN"] = "restricted-token"
    result = sync_env.run()
    assert result.exit_code == 77, result.output
    assert "'Engagement'" in result.stderr
    assert scim_writes(sync_env) == []


def test_history_and_state_file_mode(sync_env: SyncEnv) -> None:
    sync_env.run()
    sync_env.run()
    result = sync_env.cli("history", "--json")
    assert result.exit_code == 0
    runs = json.loads(result.stdout)
    assert len(runs) == 2 and [r["exit_code"] for r in runs] == [0, 1]
    assert runs[1]["counts"]["create"] > 0
    assert stat.S_IMODE(sync_env.state.stat().st_mode) == 0o600
    text = sync_env.cli("history")
    assert "some employees failed" in text.stdout


def test_lock_held_exits_75_and_writes_nothing(sync_env: SyncEnv) -> None:
    from hibob_sync.sync.lock import run_lock

    lock = sync_env.state.with_name("state.db.lock")
    with run_lock(lock):
        result = sync_env.run()
    assert result.exit_code == 75
    assert "another hibob-sync run" in result.stderr
    assert scim_writes(sync_env) == []


def test_unusable_state_path_names_the_key_and_exits_78(sync_env: SyncEnv) -> None:
    # The lock file (next to the state store) cannot be created: a file where sync.state_path
    # needs a folder. (Root may write anywhere, so a folder without write permission would
    # not fail here; a file in the way fails for everyone.)
    (sync_env.folder / "blocker").write_text("not a folder\n", encoding="utf-8")
    text = sync_env.config.read_text(encoding="utf-8")
    sync_env.config.write_text(text.replace("state/state.db", "blocker/state.db"))
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    lock = sync_env.folder / "blocker" / "state.db.lock"
    assert f"{sync_env.config}: sync.state_path: cannot create the lock file {lock}" in (
        result.messages
    )
    assert "Traceback" not in result.output
    assert scim_writes(sync_env) == [] and sync_env.sandbox.request_count() == 0


@pytest.mark.parametrize("leavers", ["ignore"])
def test_leavers_ignore_never_deactivates(sync_env: SyncEnv, leavers: str) -> None:
    sync_env.write_config(leavers=leavers)
    sync_env.run()
    employee_id = _active_employee(sync_env)
    sync_env.sandbox.company.terminate(employee_id)
    sync_env.scim.reset_counts()
    sync_env.run()
    assert scim_writes(sync_env) == []


def test_scim_server_without_target_attributes_is_78(
    sync_env: SyncEnv, scim_server_factory: Any
) -> None:
    sync_env.scim = scim_server_factory(schemas="rfc")
    sync_env.write_config()
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    assert "extension:hithrive:2.0:User:startDate (for start_date)" in result.stderr
    assert scim_writes(sync_env) == []
    # Mapping only what the server has makes the run go through.
    for name in ("start_date", "birthday", "teams", "groups"):
        assert sync_env.cli("map", "unset", name).exit_code == 0
    assert sync_env.run().exit_code == 1
    assert len(sync_env.users()) == len(expected_users(sync_env))


def test_lifecycle_not_readable_is_77(sync_env: SyncEnv) -> None:
    categories = {"root", "work", "identification", "personal", "category_1700000000000"}
    sync_env.sandbox.add_service_user(
        "nolife", "nolife-token", categories=categories, people_scope="all"
    )
    os.environ["HIBOB_SERVICE_USER_ID"] = "nolife"
    os.environ["HIBOB_SERVICE_USER_TOKEN"] = "nolife-token"
    result = sync_env.run()
    assert result.exit_code == 77, result.output
    assert "'Lifecycle'" in result.stderr
    assert scim_writes(sync_env) == []


def test_run_goes_on_without_the_field_catalogue(sync_env: SyncEnv) -> None:
    sync_env.sandbox.answer_next(
        404, {"key": "notFound", "error": "no such module"}, path="/v1/company/people/fields"
    )
    result = sync_env.run()
    assert result.exit_code == 1, result.output
    assert "field catalogue could not be read" in result.stderr
    assert len(sync_env.users()) == len(expected_users(sync_env))


@pytest.mark.parametrize("config", ["default", "nopatch"])
def test_other_service_providers_converge(
    sync_env: SyncEnv, scim_server_factory: Any, config: str
) -> None:
    """scim2-server's own defaults (bulk, large pages) and a server without PATCH (PUT)."""
    sync_env.scim = scim_server_factory(config=config)
    sync_env.write_config()
    assert sync_env.run().exit_code == 1
    assert_in_sync(sync_env)
    employee_id = _active_employee(sync_env)
    company = sync_env.sandbox.company
    new_title = next(
        t for t in company.list_items("work.title") if t != company.get(employee_id)["work.title"]
    )
    company.update(employee_id, {"work.title": new_title})
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0
    assert len(scim_writes(sync_env)) == 1
    assert sync_env.users_by_external_id()[employee_id]["title"] == company.display(
        employee_id, "work.title"
    )
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0
    assert scim_writes(sync_env) == []


def test_reports_to_mapped_as_the_whole_reference(sync_env: SyncEnv) -> None:
    """`manager_email: work.reportsTo` (the object, not .email) resolves to the email too."""
    assert sync_env.cli("map", "set", "manager_email", "work.reportsTo").exit_code == 0
    assert sync_env.run().exit_code == 1
    assert_in_sync(sync_env)
    managed = [u for u in sync_env.users() if u.get(ENTERPRISE, {}).get("manager")]
    assert len(managed) > len(sync_env.users()) // 2
