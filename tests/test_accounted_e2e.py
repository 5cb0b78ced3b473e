"""Issue 21's planner items end to end: the real CLI against the HiBob sandbox and
scim2-server on loopback. Leavers whatever their record holds, users another client made,
recycled addresses, and the safeguards on every change of access."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tests.sync_fixtures import SyncEnv
from tests.test_run import active_users, scim_writes

ENTRA = "urn:ietf:params:scim:schemas:core:2.0:User"


def run_json(env: SyncEnv, *args: str) -> tuple[int, dict[str, Any]]:
    env.scim.reset_counts()
    result = env.run("--json", *args)
    return result.exit_code, json.loads(result.stdout)


def by_id(env: SyncEnv) -> dict[str, dict[str, Any]]:
    return {u["id"]: u for u in env.users()}


def assert_accounted(summary: dict[str, Any]) -> None:
    """The outcomes add up to the employees HiBob returned plus the other SCIM users."""
    totals = summary["accounted_for"]
    assert sum(summary["outcomes"].values()) == totals["employees"] + totals["scim_users"]


def plain_employees(env: SyncEnv, count: int) -> list[str]:
    """Active employees nobody reports to, none of the sandbox's planted oddities."""
    company = env.sandbox.company
    managers = {(company.get(i).get("work.reportsTo") or {}).get("id") for i in company.ids()}  # type: ignore[union-attr]
    planted = {i for ids in company.awkward.values() for i in ids}
    found = [i for i in active_users(env) if i not in managers and i not in planted]
    return found[:count]


def test_a_leaver_whose_record_fails_its_checks_is_still_deactivated(sync_env: SyncEnv) -> None:
    sync_env.run()
    cleared, long_title = plain_employees(sync_env, 2)
    company = sync_env.sandbox.company
    for employee_id in (cleared, long_title):
        company.terminate(employee_id)
    company.update(cleared, {"root.email": None})  # cleared at offboarding
    company.update(long_title, {"work.title": "x" * 300})
    code, summary = run_json(sync_env)
    assert code == 0, summary
    users = sync_env.users_by_external_id()
    assert users[cleared]["active"] is False and users[long_title]["active"] is False
    warned = {w["employee_id"]: w["reason"] for w in summary["warnings"]}
    assert "no email in HiBob" in warned[cleared]
    assert "job_title is longer than 255" in warned[long_title]
    assert summary["outcomes"]["deactivated"] == 2
    assert_accounted(summary)


def test_users_another_client_made_are_never_touched_and_are_reported(
    sync_env: SyncEnv,
) -> None:
    sync_env.write_config(vanished_grace="0s")
    sync_env.run()
    [entra] = sync_env.scim.seed(
        [
            {
                "schemas": [ENTRA],
                "userName": "contractor@elsewhere.example",
                "active": True,
                "externalId": "4f1c2d9e-entra-object",
                "title": "Contractor",
            }
        ]
    )
    ours = plain_employees(sync_env, 1)[0]
    sync_env.sandbox.company.remove(ours)  # HiBob stops returning them: ours, so deactivated
    code, summary = run_json(sync_env)
    assert code == 0, summary
    assert not any(path.endswith(entra["id"]) for _, path in scim_writes(sync_env))
    users = by_id(sync_env)
    assert users[entra["id"]]["active"] is True and users[entra["id"]]["title"] == "Contractor"
    assert sync_env.users_by_external_id()[ours]["active"] is False
    assert summary["counts"]["unmanaged"] == 1 and summary["outcomes"]["unmanaged"] == 1
    assert_accounted(summary)
    # The state store keeps the users hibob-sync made; an older store without it works too.
    with sqlite3.connect(sync_env.state) as conn:
        kept = {row[0] for row in conn.execute("SELECT scim_id FROM managed_users")}
        assert entra["id"] not in kept and sync_env.users_by_external_id()[ours]["id"] in kept
        conn.execute("DROP TABLE managed_users")
    code, summary = run_json(sync_env)
    assert code == 0 and summary["counts"]["unmanaged"] == 2  # the vanished one: no evidence
    check = sync_env.cli("check")
    assert "2 of" in check.output and "provisioned by another client" in check.output
    explained = sync_env.cli("explain", "contractor@elsewhere.example")
    assert "another provisioning client's user, never changed" in explained.output


def test_another_clients_user_is_adopted_by_email_only_with_adopt_all(sync_env: SyncEnv) -> None:
    employee_id = plain_employees(sync_env, 1)[0]
    email = str(sync_env.sandbox.company.get(employee_id)["root.email"]).lower()
    [entra] = sync_env.scim.seed(
        [{"schemas": [ENTRA], "userName": email, "active": True, "externalId": "entra-7"}]
    )
    code, summary = run_json(sync_env)
    assert code == 1
    [aside] = [f for f in summary["failures"] if f["employee_id"] == employee_id]
    assert f"SCIM user {entra['id']}" in aside["reason"] and "hithrive.adopt" in aside["reason"]
    assert by_id(sync_env)[entra["id"]]["externalId"] == "entra-7"
    sync_env.config.write_text(
        sync_env.config.read_text().replace("hithrive:\n", "hithrive:\n  adopt: all\n")
    )
    code, summary = run_json(sync_env)
    assert code == 0, summary
    assert by_id(sync_env)[entra["id"]]["externalId"] == employee_id


def test_a_recycled_address_goes_to_the_new_hire_whatever_the_id_order(
    sync_env: SyncEnv,
) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    candidates = plain_employees(sync_env, 40)
    hires = [company.add({"root.email": f"placeholder{n}@acme.example"}) for n in range(2)]
    sync_env.run()
    # One leaver whose ID sorts before its successor's, one after.
    first = next(i for i in candidates if i < hires[0])
    second = next(i for i in candidates if i > hires[1] and i != first)
    users = sync_env.users_by_external_id()
    for leaver, hire in ((first, hires[0]), (second, hires[1])):
        address = users[leaver]["userName"]
        company.terminate(leaver)
        company.update(leaver, {"root.email": "former." + address})
        company.update(hire, {"root.email": address})
    sync_env.scim.delete(users[hires[0]]["id"])  # one successor has no user yet
    code, summary = run_json(sync_env)
    assert code == 0, summary
    after = sync_env.users_by_external_id()
    for leaver, hire in ((first, hires[0]), (second, hires[1])):
        address = users[leaver]["userName"]
        assert after[leaver]["userName"] == "former." + address
        assert after[leaver]["active"] is False
        assert after[hire]["userName"] == address and after[hire]["active"] is True
    writes = scim_writes(sync_env)
    assert writes.index(("PATCH", f"/Users/{users[first]['id']}")) < writes.index(
        ("POST", "/Users")
    )
    assert_accounted(summary)
    assert run_json(sync_env)[0] == 0 and scim_writes(sync_env) == []


def test_a_holder_with_no_address_left_sets_the_new_hire_aside(sync_env: SyncEnv) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    leaver = plain_employees(sync_env, 1)[0]
    address = sync_env.users_by_external_id()[leaver]["userName"]
    company.terminate(leaver)
    company.update(leaver, {"root.email": None})
    hire = company.add({"root.email": address})
    code, summary = run_json(sync_env)
    assert code == 1
    [aside] = [f for f in summary["failures"] if f["employee_id"] == hire]
    assert f"employee {leaver}, who has left" in aside["reason"]
    held = sync_env.users_by_external_id()
    assert held[leaver]["active"] is False and held[leaver]["userName"] == address
    assert hire not in held


def test_reactivations_are_limited_and_a_first_day_is_not_one(sync_env: SyncEnv) -> None:
    sync_env.write_config(max_deactivations=50)
    sync_env.run()
    company = sync_env.sandbox.company
    returning = plain_employees(sync_env, 3)
    for employee_id in returning:
        company.terminate(employee_id)
    hire = company.hire({"root.email": "first.day@acme.example"}, start_in_days=5)
    assert run_json(sync_env)[0] == 0
    for employee_id in returning:
        company.rehire(employee_id)
    company.start(hire)
    sync_env.write_config(max_deactivations=50, max_reactivations=2)
    code, summary = run_json(sync_env)
    assert code == 65 and "sync.max_reactivations" in summary["message"]
    assert scim_writes(sync_env) == []
    plan = sync_env.cli("plan")
    assert plan.exit_code == 65 and "[sync.max_reactivations]" in plan.output
    sync_env.write_config(max_deactivations=50, max_reactivations=3)  # the first day: not one
    code, summary = run_json(sync_env)
    assert code == 0, summary
    users = sync_env.users_by_external_id()
    assert all(users[i]["active"] for i in [*returning, hire])
    assert summary["outcomes"]["reactivated"] == 3 and summary["outcomes"]["activated"] == 1


def test_an_employee_with_no_status_keeps_active_as_it_is(sync_env: SyncEnv) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    unknown = plain_employees(sync_env, 1)[0]
    company.update(unknown, {"internal.status": None, "internal.lifecycleStatus": None})
    newcomer = company.add(
        {
            "root.email": "nostatus@acme.example",
            "internal.status": None,
            "internal.lifecycleStatus": None,
        }
    )
    code, summary = run_json(sync_env)
    assert code == 1
    users = sync_env.users_by_external_id()
    assert users[unknown]["active"] is True and newcomer not in users
    assert any(w["employee_id"] == unknown for w in summary["warnings"])
    assert any(f["employee_id"] == newcomer for f in summary["failures"])
