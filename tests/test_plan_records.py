"""Plan files are records, not instructions (spec.md, "Safety of the host", "Who is active").

`apply` plans afresh and writes only what matches the reviewed plan action for action: an
edited file is refused with 0 writes, waiting deactivations the reviewer saw are carried out,
a refused apply is no run, and an answer no review can approve never becomes a plan file.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.reliability_helpers import scim_writes
from tests.sync_fixtures import SyncEnv
from tests.test_plan_apply import plain_employees, retitle, runs, stopped
from tests.test_run import active_users
from tests.test_vanished import DAY, synced, take_out

__all__ = ["stopped"]  # the fixture: a reorganisation the safeguards stop

ATTACKER = "attacker@evil.example"


def _edit(path: Path, change: Any) -> Path:
    """A copy of the plan file with ``change(document)`` applied, as an attacker would."""
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    edited = path.with_name("edited.json")
    edited.write_text(json.dumps(document), encoding="utf-8")
    return edited


def _user_name(document: dict[str, Any]) -> None:
    action = next(a for a in document["actions"] if a["kind"] == "update")
    action["email"] = ATTACKER
    action["changes"]["email"] = [None, ATTACKER]


def _added_admin(document: dict[str, Any]) -> None:
    document["actions"].append(
        {
            "kind": "create",
            "email": ATTACKER,
            "employee_id": None,
            "scim_id": None,
            "changes": {"email": [None, ATTACKER], "groups": [None, ["Admins"]]},
            "external_id": None,
            "active": True,
        }
    )


def _kept_active(document: dict[str, Any]) -> None:
    action = next(a for a in document["actions"] if a["kind"] == "deactivate")
    action["kind"], action["active"] = "update", None


def _new_title(document: dict[str, Any]) -> None:
    action = next(a for a in document["actions"] if a["kind"] == "update")
    action["changes"]["job_title"][1] = "Chief Everything Officer"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_user_name, ATTACKER),
        (_added_admin, f"{ATTACKER}: reviewed as create, a fresh plan has nothing to do"),
        (_kept_active, "reviewed as update, a fresh plan says deactivate"),
        (_new_title, "differs from the reviewed one in job_title"),
    ],
)
def test_an_edited_plan_file_is_refused_and_the_reviewed_one_applies(
    stopped: tuple[SyncEnv, list[str]], tmp_path: Path, change: Any, named: str
) -> None:
    env, _ = stopped
    path = tmp_path / "plan.json"
    assert env.cli("plan", "-o", str(path)).exit_code == 65
    recorded = len(runs(env))

    result = env.cli("apply", str(_edit(path, change)))
    assert result.exit_code == 65, result.output
    message = " ".join(result.stderr.split())
    assert named in message and "nothing was written" in message
    assert "applied the reviewed plan" not in result.output
    assert scim_writes(env) == []
    assert len(runs(env)) == recorded  # a refused apply is no run
    assert ATTACKER not in json.dumps(env.users())

    # The untouched file is still the reviewed plan: it applies, all 16 actions.
    result = env.cli("apply", str(path))
    assert result.exit_code == 0, result.output
    assert len(scim_writes(env)) == 16
    assert ATTACKER not in json.dumps(env.users())


def test_data_moved_since_is_refused_naming_each_user(
    stopped: tuple[SyncEnv, list[str]], tmp_path: Path
) -> None:
    env, ids = stopped
    path = tmp_path / "plan.json"
    assert env.cli("plan", "-o", str(path)).exit_code == 65
    company = env.sandbox.company
    retitle(env, [ids[0]])  # moved in HiBob
    company.rehire(ids[12])  # a reviewed leaver is back
    newcomer = next(i for i in active_users(env) if i not in ids and i != ids[0])
    company.terminate(newcomer)  # a leaver nobody reviewed
    result = env.cli("apply", str(path))
    assert result.exit_code == 65, result.output
    message = " ".join(result.stderr.split())
    mail = {i: str(company.get(i)["root.email"]).lower() for i in (ids[0], ids[12], newcomer)}
    assert f"{mail[ids[0]]} (HiBob {ids[0]}): update differs" in message
    assert f"{mail[ids[12]]} (HiBob {ids[12]}): reviewed as deactivate" in message
    assert f"{mail[newcomer]} (HiBob {newcomer}): a fresh plan would deactivate them" in message
    assert "in 3 place(s)" in message
    assert scim_writes(env) == []


# -- deactivations waiting in the grace window ----------------------------------------------


def test_apply_carries_out_the_waiting_deactivations_it_shows(sync_env: SyncEnv) -> None:
    ids = synced(sync_env)[:8]
    for employee_id in ids:
        take_out(sync_env, employee_id)
    assert sync_env.run().exit_code == 65  # 8 vanished: more than max_deactivations
    sync_env.clock.advance(DAY)
    sync_env.scim.reset_counts()
    path = sync_env.folder / "plan.json"

    shown = sync_env.cli("plan", "-o", str(path))
    assert shown.exit_code == 65, shown.output
    waiting = [line for line in shown.stdout.splitlines() if line.startswith("- deactivate")]
    assert len(waiting) == 8 and all("waiting: 0 of 3 days" in line for line in waiting)
    assert "hibob-sync plan -o plan.json" in shown.stdout  # this one may be reviewed
    document = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(a["employee_id"] for a in document["actions"] if a.get("waiting")) == sorted(ids)
    planned = json.loads(sync_env.cli("plan", "--json").stdout)["actions"]
    assert sum(1 for a in planned if a["kind"] == "deactivate" and a.get("waiting")) == 8

    result = sync_env.cli("apply", str(path))
    assert result.exit_code == 0, result.output
    assert len(scim_writes(sync_env)) == 8
    users = sync_env.users_by_external_id()
    assert [users[i]["active"] for i in ids] == [False] * 8
    [last] = runs(sync_env)[:1]
    assert sorted(v["employee_id"] for v in last["vanished"] if v["deactivated"]) == sorted(ids)
    assert last["counts"]["deactivate"] == 8 and last["counts"]["pending"] == 0

    # Past the grace window the safeguard has nothing left to count: a quiet night.
    sync_env.clock.advance(4 * DAY)
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0
    assert scim_writes(sync_env) == []


def test_vanished_deactivations_are_recorded_from_what_was_done(sync_env: SyncEnv) -> None:
    ids = synced(sync_env)[:8]
    for employee_id in ids:
        take_out(sync_env, employee_id)
    path = sync_env.folder / "plan.json"
    assert sync_env.cli("plan", "-o", str(path)).exit_code == 65
    refused = sync_env.users_by_external_id()[ids[0]]["id"]
    sync_env.scim.respond(
        400, {"detail": "no", "status": "400"}, method="PATCH", path=f"/Users/{refused}", times=None
    )
    result = sync_env.cli("apply", str(path))
    assert result.exit_code == 1, result.output
    [last] = runs(sync_env)[:1]
    done = sorted(v["employee_id"] for v in last["vanished"] if v["deactivated"])
    assert done == sorted(ids[1:])
    assert last["counts"]["deactivate"] == 7 and last["counts"]["failed"] == 1


# -- a refused apply is no run ---------------------------------------------------------------


def status(env: SyncEnv) -> tuple[str, object, object]:
    """`status` in the parts a run would change (not the ages, which the clock moves)."""
    shown = json.loads(env.cli("status", "--json").stdout)
    return shown["status"], shown["last_run"]["finished_at"], shown["last_run"]["exit_code"]


def test_a_refused_apply_leaves_status_and_metrics_as_they_were(sync_env: SyncEnv) -> None:
    metrics = sync_env.folder / "hibob_sync.prom"
    sync_env.write_config(extra=f"notify:\n  metrics_file: {metrics}\n")
    sync_env.run()
    assert sync_env.run().exit_code == 0
    before = (status(sync_env), metrics.read_bytes(), len(runs(sync_env)))
    assert before[0][0] == "OK"
    retitle(sync_env, plain_employees(sync_env, 11))
    sync_env.scim.reset_counts()
    path = sync_env.folder / "plan.json"
    assert sync_env.cli("plan", "-o", str(path), "--expires", "1h").exit_code == 65

    retitle(sync_env, plain_employees(sync_env, 1))  # moved since
    assert sync_env.cli("apply", str(path)).exit_code == 65
    sync_env.clock.advance(3601)
    result = sync_env.cli("apply", str(path))
    assert result.exit_code == 65 and "it expired at" in result.stderr
    after = (status(sync_env), metrics.read_bytes(), len(runs(sync_env)))
    assert after == before
    assert scim_writes(sync_env) == []


# -- an answer no review can approve ---------------------------------------------------------


def test_an_empty_answer_never_becomes_a_plan_file(sync_env: SyncEnv) -> None:
    synced(sync_env)
    good = sync_env.folder / "good.json"
    retitle(sync_env, plain_employees(sync_env, 11))
    assert sync_env.cli("plan", "-o", str(good)).exit_code == 65
    company = sync_env.sandbox.company
    kept = [take_out(sync_env, i) for i in company.ids()]
    sync_env.scim.reset_counts()
    path = sync_env.folder / "plan.json"

    result = sync_env.cli("plan", "-o", str(path))
    assert result.exit_code == 65, result.output
    assert "no plan file written to" in result.stderr
    assert "HiBob returned no employees at all" in result.stderr
    assert not path.exists()
    assert "No review can approve this plan" in result.stdout
    assert "hibob-sync plan -o plan.json" not in result.stdout
    assert "Wrote the plan" not in result.stderr

    # A file made before cannot carry it out either: no countdowns start, nothing is recorded.
    recorded = len(runs(sync_env))
    result = sync_env.cli("apply", str(good))
    assert result.exit_code == 65, result.output
    assert "no review can approve this" in " ".join(result.stderr.split())
    assert scim_writes(sync_env) == [] and len(runs(sync_env)) == recorded
    company.load(kept)
    assert "Waiting to deactivate" not in sync_env.cli("plan").stdout


def test_an_answer_without_any_managed_user_is_refused_too(sync_env: SyncEnv) -> None:
    managed = synced(sync_env)
    company = sync_env.sandbox.company
    for employee_id in managed:
        take_out(sync_env, employee_id)
    assert company.ids()  # the answer is not empty: people nobody manages remain
    sync_env.scim.reset_counts()
    path = sync_env.folder / "plan.json"
    result = sync_env.cli("plan", "-o", str(path))
    assert result.exit_code == 65, result.output
    assert "holds none of the" in result.stderr and not path.exists()
    assert sync_env.run().exit_code == 65
    assert scim_writes(sync_env) == []


def test_check_on_an_empty_answer_names_the_cause(sync_env: SyncEnv) -> None:
    for employee_id in sync_env.sandbox.company.ids():
        sync_env.sandbox.company.remove(employee_id)
    result = sync_env.cli("check")
    assert result.exit_code == 77, result.output
    assert "HiBob's answer holds no employees" in result.stdout
    assert "people scope" in result.stdout
    assert "cannot read" not in result.stdout


# -- a stopped pool counts the writes it had in flight -----------------------------------------


def test_a_stopped_pool_counts_the_writes_it_had_in_flight(sync_env: SyncEnv) -> None:
    synced(sync_env)
    sync_env.write_config(max_changes="100%")
    ids = plain_employees(sync_env, 12)
    retitle(sync_env, ids)
    users = sync_env.users_by_external_id()
    held, down = users[ids[0]]["id"], users[ids[1]]["id"]
    released = threading.Event()
    # One writer is held on one user's update; the other meets a rejected token on another
    # user's, which stops the run (77) while the held write is in flight.
    sync_env.scim.before(
        lambda _: released.wait(60), method="PATCH", path=f"/Users/{held}", query=""
    )
    sync_env.scim.respond(401, method="PATCH", path=f"/Users/{down}", times=None)

    def release_once_refused() -> None:
        for _ in range(6000):
            if sync_env.scim.count("PATCH", f"/Users/{down}"):
                break
            released.wait(0.01)
        released.wait(0.3)  # the run has met the refusal by then; the held write ends after
        released.set()

    helper = threading.Thread(target=release_once_refused)
    helper.start()
    try:
        result = sync_env.run()
    finally:
        released.set()
        helper.join()
    assert result.exit_code == 77, result.output
    company = sync_env.sandbox.company
    now = sync_env.users_by_external_id()
    written = [i for i in ids if now[i].get("title") == company.display(i, "work.title")]
    assert ids[0] in written and ids[1] not in written
    [last] = runs(sync_env)[:1]
    assert last["counts"]["update"] == len(written)
