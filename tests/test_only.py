"""`run --only WHO` and `plan --only WHO`: the named people now, nobody else, a partial run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.sync_fixtures import ENTERPRISE, SyncEnv
from tests.test_metrics import epoch, parse, with_metrics
from tests.test_run import active_users, scim_writes


def retitle(env: SyncEnv, employee_id: str) -> str:
    company = env.sandbox.company
    current = company.get(employee_id)["work.title"]
    title = next(t for t in company.list_items("work.title") if t != current)
    company.update(employee_id, {"work.title": title})
    return title


def user_lookups(env: SyncEnv) -> list[str]:
    """The query of every GET /Users: a filter each, never a page of the listing."""
    return [c.query for c in env.scim.calls if c.method == "GET" and c.path == "/Users"]


def test_run_only_writes_exactly_the_named_peoples_changes(sync_env: SyncEnv) -> None:
    sync_env.run()
    named, other = active_users(sync_env)[:2]
    users = sync_env.users_by_external_id()
    retitle(sync_env, named)
    retitle(sync_env, other)
    manager = active_users(sync_env)[3]
    hire = sync_env.sandbox.company.add(
        {"root.email": "Starts.Today@acme.example", "work.reportsTo": manager}
    )
    sync_env.scim.reset_counts()
    sync_env.sandbox.reset_records()

    result = sync_env.run("--only", "starts.today@ACME.example", "--only", users[named]["userName"])
    assert result.exit_code == 0, result.output
    assert "Done for the named people only (--only): 1 created, 1 updated." in result.messages
    after = sync_env.users_by_external_id()
    writes = scim_writes(sync_env)
    assert sorted(writes) == sorted([("POST", "/Users"), ("PATCH", f"/Users/{users[named]['id']}")])
    assert after[hire][ENTERPRISE]["manager"]["value"] == users[manager]["id"]
    assert after[other]["title"] == users[other]["title"]  # untouched until tonight
    # One HiBob search, filtered by the people; one filtered SCIM lookup each.
    bodies = sync_env.sandbox.search_bodies
    assert len(bodies) == 1 and bodies[0]["filters"][0]["fieldPath"] == "root.email"
    lookups = user_lookups(sync_env)
    assert len(lookups) == 2 and all("filter=" in query for query in lookups)

    # The nightly run then does the rest.
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code in (0, 1)
    assert scim_writes(sync_env) == [("PATCH", f"/Users/{users[other]['id']}")]


def test_only_by_id_deactivates_a_leaver_and_plan_only_shows_it(sync_env: SyncEnv) -> None:
    sync_env.run()
    leaver, other = active_users(sync_env)[:2]
    user_id = sync_env.users_by_external_id()[leaver]["id"]
    sync_env.sandbox.company.terminate(leaver)
    sync_env.sandbox.company.terminate(other)
    sync_env.scim.reset_counts()

    plan = sync_env.cli("plan", "--only", leaver, "--json")
    assert plan.exit_code == 0, plan.output
    actions = json.loads(plan.stdout)["actions"]
    assert [(a["kind"], a["employee_id"]) for a in actions] == [("deactivate", leaver)]
    assert scim_writes(sync_env) == []

    assert sync_env.run("--only", leaver).exit_code == 0
    assert scim_writes(sync_env) == [("PATCH", f"/Users/{user_id}")]
    assert sync_env.users_by_external_id()[other]["active"] is True


def test_history_and_status_treat_the_run_as_partial(sync_env: SyncEnv) -> None:
    sync_env.run()
    first = json.loads(sync_env.cli("status", "--json").stdout)["last_good_run"]
    named = active_users(sync_env)[0]
    retitle(sync_env, named)
    sync_env.clock.advance(3600)

    assert sync_env.run("--only", named).exit_code == 0
    history = sync_env.cli("history", "--json")
    runs = json.loads(history.stdout)
    assert [r["partial"] for r in runs] == [True, False]
    assert "(partial)" in sync_env.cli("history").stdout
    status = json.loads(sync_env.cli("status", "--json").stdout)
    assert status["last_good_run"]["started_at"] == first["started_at"]
    assert status["last_run"]["started_at"] == first["started_at"]

    sync_env.clock.advance(26 * 3600)  # a partial run is not the night's good run
    assert sync_env.cli("status").exit_code == 2


def test_only_names_nobody_knows_exit_1_and_write_nothing(sync_env: SyncEnv) -> None:
    sync_env.run()
    sync_env.scim.reset_counts()
    result = sync_env.run("--only", "nobody@nowhere.example")
    assert result.exit_code == 1, result.output
    assert "nobody@nowhere.example: neither HiBob nor HiThrive knows them" in result.stderr
    assert "(HiBob )" not in result.stderr  # no empty ID for an address nobody knows
    assert scim_writes(sync_env) == []
    # The nightly run's problems are its own: the partial one does not make them "new".
    assert sync_env.run().exit_code == 0


def test_an_old_state_store_is_migrated(sync_env: SyncEnv) -> None:
    sync_env.state.parent.mkdir(mode=0o700)
    with sqlite3.connect(sync_env.state) as conn:
        conn.execute(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL,"
            " finished_at TEXT NOT NULL, exit_code INTEGER NOT NULL, outcome TEXT NOT NULL,"
            " message TEXT NOT NULL DEFAULT '', counts TEXT NOT NULL DEFAULT '{}', coverage TEXT)"
        )
        conn.execute(
            "INSERT INTO runs (started_at, finished_at, exit_code, outcome)"
            " VALUES ('2023-01-01T00:00:00+00:00', '2023-01-01T00:01:00+00:00', 0, 'in sync')"
        )
    sync_env.state.chmod(0o600)
    assert sync_env.cli("status").exit_code == 2  # read before any migration: old, not broken
    assert sync_env.run("--only", active_users(sync_env)[0]).exit_code in (0, 1)
    runs = json.loads(sync_env.cli("history", "--json").stdout)
    assert [r["partial"] for r in runs] == [True, False]


def test_the_metrics_last_good_run_is_the_nightly_one(sync_env: SyncEnv) -> None:
    with_metrics(sync_env)
    nightly = json.loads(sync_env.run("--json").stdout)
    sync_env.clock.advance(3600)
    named = active_users(sync_env)[0]
    retitle(sync_env, named)
    partial = json.loads(sync_env.run("--only", named, "--json").stdout)
    assert partial["exit_code"] == 0 and partial["counts"]["update"] == 1 and partial["partial"]
    assert nightly["partial"] is False
    values = parse(sync_env)
    assert values["hibob_sync_last_success_timestamp_seconds"][""] == epoch(nightly["finished_at"])


def test_plan_only_writes_no_plan_file(sync_env: SyncEnv) -> None:
    result = sync_env.cli("plan", "--only", "a@b.example", "-o", "plan.json")
    assert result.exit_code == 2 and "--only" in result.stderr
    assert not Path("plan.json").exists() and sync_env.sandbox.request_count() == 0


def test_only_never_takes_over_the_user_of_an_employee_it_did_not_read(sync_env: SyncEnv) -> None:
    sync_env.run()
    holder = active_users(sync_env)[0]
    email = sync_env.users_by_external_id()[holder]["userName"]
    company = sync_env.sandbox.company
    company.update(holder, {"root.email": "moved.away@acme.example"})
    newcomer = company.add({"root.email": email})  # the address moves to a new employee
    sync_env.scim.reset_counts()

    result = sync_env.run("--only", newcomer)
    assert result.exit_code == 1, result.output
    assert f"held in HiThrive by the user of employee {holder}" in result.stderr
    assert scim_writes(sync_env) == []
    sync_env.run()  # the nightly runs rename the holder, then create the newcomer
    sync_env.run()
    users = sync_env.users_by_external_id()
    assert users[holder]["userName"] == "moved.away@acme.example"
    assert users[newcomer]["userName"] == email


def test_only_by_id_sets_a_duplicate_email_aside_as_the_nightly_run_does(
    sync_env: SyncEnv,
) -> None:
    first, second = sync_env.sandbox.company.awkward["duplicate_email"]
    reason = f"the same email is used by 2 active employees ({', '.join(sorted([first, second]))})"

    planned = sync_env.cli("plan", "--only", first, "--json")
    assert planned.exit_code == 0, planned.output
    document = json.loads(planned.stdout)
    assert document["actions"] == []
    assert [(f["employee_id"], f["reason"]) for f in document["failures"]] == [(first, reason)]

    result = sync_env.run("--only", first)
    assert result.exit_code == 1, result.output
    assert reason in result.stderr and second not in result.stderr.replace(reason, "")
    assert scim_writes(sync_env) == []
    # The second search reads the others holding the address, by email.
    bodies = sync_env.sandbox.search_bodies
    assert [b["filters"][0]["fieldPath"] for b in bodies[-2:]] == ["root.id", "root.email"]

    nightly = sync_env.run()
    assert nightly.exit_code == 1 and reason in nightly.stderr
    assert first not in sync_env.users_by_external_id()


def test_only_the_old_record_of_a_rehire_never_deactivates_the_rehires_user(
    sync_env: SyncEnv,
) -> None:
    sync_env.run()
    old = active_users(sync_env)[0]
    user = sync_env.users_by_external_id()[old]
    company = sync_env.sandbox.company
    company.terminate(old)
    rehire = company.add({"root.email": user["userName"]})  # back, with a new HiBob record
    sync_env.scim.reset_counts()

    # The nightly run gives the address to the active record; naming the old one does nothing.
    assert sync_env.run("--only", old).exit_code == 0
    assert scim_writes(sync_env) == []
    planned = json.loads(sync_env.cli("plan", "--only", rehire, "--json").stdout)
    assert [(a["kind"], a["employee_id"]) for a in planned["actions"]] == [("adopt", rehire)]
    text = sync_env.cli("plan", "--only", rehire).stdout  # the old record's ID, not (none)
    assert f"      externalId: {old} -> {rehire}" in text, text
    assert sync_env.run("--only", rehire).exit_code == 0
    after = sync_env.users_by_external_id()
    assert after[rehire]["id"] == user["id"] and after[rehire]["active"] is True


def test_only_names_the_rule_that_leaves_a_named_person_out(sync_env: SyncEnv) -> None:
    from tests.test_scope import scoped

    hire = sync_env.sandbox.company.add({"root.email": "far.away@acme.example"})
    sync_env.write_config(extra=scoped(exclude=f'root.id: ["{hire}"]'))
    result = sync_env.run("--only", "far.away@acme.example")
    assert result.exit_code == 0, result.output  # a warning, never a failure
    assert (
        f"far.away@acme.example (HiBob {hire}): out of scope: the rule exclude root.id: "
        f"[{hire}] holds" in result.stderr
    )
    assert scim_writes(sync_env) == []
    nightly = sync_env.run()
    assert "far.away@acme.example" not in nightly.stderr  # the nightly counts them only


def test_only_names_the_manager_hithrive_holds_by_email(sync_env: SyncEnv) -> None:
    sync_env.run()
    users = sync_env.users_by_external_id()
    employee_id, old_boss, new_boss = active_users(sync_env)[:3]
    company = sync_env.sandbox.company
    company.update(employee_id, {"work.reportsTo": old_boss})
    assert sync_env.run("--only", employee_id).exit_code == 0
    company.update(employee_id, {"work.reportsTo": new_boss})
    old_email, new_email = users[old_boss]["userName"], users[new_boss]["userName"]
    planned = sync_env.cli("plan", "--only", employee_id)
    assert f"      manager_email: {old_email} -> {new_email}" in planned.stdout, planned.output
    assert "unknown SCIM id" not in planned.stdout
    assert sync_env.run("--only", employee_id).exit_code == 0
    after = sync_env.users_by_external_id()[employee_id][ENTERPRISE]["manager"]["value"]
    assert after == users[new_boss]["id"]  # the write is the planned one
