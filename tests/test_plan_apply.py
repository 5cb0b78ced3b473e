"""`plan`, `plan -o FILE`, `apply FILE` and the mass-change breaker, end to end.

spec.md: `plan` exits 0 when `run` would go ahead and 65 when a safeguard would stop it, and
writes nothing to HiThrive; `apply` refuses (65, nothing written) a plan whose users moved,
that expired or was made for another config/target.
"""

from __future__ import annotations

import hashlib
import json
import signal
import stat
from pathlib import Path
from typing import Any

import pytest
import requests

from hibob_sync.sandbox.catalogue import TEAMS_FIELD
from hibob_sync.sync.lock import run_lock
from tests.reliability_helpers import assert_in_sync, assert_no_duplicates
from tests.scim_fixtures import ScimServerFactory
from tests.sync_fixtures import SyncEnv
from tests.test_faults import big_env, start_cli_process, stop, wait_for
from tests.test_run import expected_users, scim_writes

__all__ = ["big_env"]  # the fixture, shared with the fault tests


def plain_employees(env: SyncEnv, count: int) -> list[str]:
    """Active, synced employees that are nobody's manager, fit to change or terminate."""
    company = env.sandbox.company
    managers = {
        (company.get(i).get("work.reportsTo") or {}).get("id")  # type: ignore[union-attr]
        for i in company.ids()
    }
    awkward = {i for ids in company.awkward.values() for i in ids}
    ids = [
        i
        for i in sorted(expected_users(env))
        if i not in managers | awkward and company.get(i)["internal.lifecycleStatus"] == "Employed"
    ]
    assert len(ids) >= count
    return ids[:count]


def retitle(env: SyncEnv, ids: list[str]) -> dict[str, tuple[str, str]]:
    """Give each a new job title in HiBob; employee ID -> (old, new) display names."""
    company = env.sandbox.company
    titles = list(company.list_items("work.title"))
    changed = {}
    for employee_id in ids:
        old = str(company.display(employee_id, "work.title"))
        new_id = next(t for t in titles if t != company.get(employee_id)["work.title"])
        company.update(employee_id, {"work.title": new_id})
        changed[employee_id] = (old, str(company.display(employee_id, "work.title")))
    return changed


def email(env: SyncEnv, employee_id: str) -> str:
    return str(env.sandbox.company.get(employee_id)["root.email"]).strip().lower()


def runs(env: SyncEnv) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(env.cli("history", "--json").stdout)
    return result


# -- plan ----------------------------------------------------------------------------------------


def test_plan_when_run_would_go_ahead(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1
    [employee_id] = plain_employees(sync_env, 1)
    [(old, new)] = retitle(sync_env, [employee_id]).values()
    sync_env.scim.reset_counts()
    recorded = len(runs(sync_env))

    text = sync_env.cli("plan")
    assert text.exit_code == 0, text.output
    assert f"~ update     {email(sync_env, employee_id)}" in text.stdout
    assert f"job_title: {old} -> {new}" in text.stdout
    assert "still set aside since" in text.stdout  # the set-aside employees, with reasons
    assert "no email in HiBob" in text.stdout
    assert "Safeguards: none tripped" in text.stdout

    as_json = sync_env.cli("plan", "--json")
    assert as_json.exit_code == 0
    plan = json.loads(as_json.stdout)
    assert plan["would_run"] is True and plan["safeguards"] == [] and plan["exit_code"] == 0
    [action] = plan["actions"]
    assert action["kind"] == "update" and action["employee_id"] == employee_id
    assert action["changes"] == {"job_title": {"before": old, "after": new}}
    assert {f["reason"] for f in plan["failures"]} >= {"no email in HiBob"}
    assert all(f["new"] is False for f in plan["failures"])

    # `run --dry-run` prints the same; nothing was written or recorded by any of them.
    assert sync_env.run("--dry-run").stdout == text.stdout
    assert scim_writes(sync_env) == []
    assert len(runs(sync_env)) == recorded


def test_plan_names_every_safeguard_it_would_trip(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1
    ids = plain_employees(sync_env, 16)
    retitle(sync_env, ids[:11])  # more than 9 (25% of ~35, and never fewer than 10)
    for employee_id in ids[11:]:
        sync_env.sandbox.company.terminate(employee_id)  # more than 10%
    sync_env.scim.reset_counts()

    text = sync_env.cli("plan")
    assert text.exit_code == 65, text.output
    assert "Safeguards that would stop `hibob-sync run` (2):" in text.stdout
    assert "[sync.max_deactivations] the run would deactivate 5 of" in text.stdout
    assert "[sync.max_changes (job_title)] job_title would change for 11 of" in text.stdout
    assert "hibob-sync plan -o plan.json" in text.stdout
    assert text.stdout.count("~ update") == 11 and text.stdout.count("- deactivate") == 5

    plan = json.loads(sync_env.cli("plan", "--json").stdout)
    assert plan["exit_code"] == 65 and plan["would_run"] is False
    assert [s["safeguard"] for s in plan["safeguards"]] == [
        "sync.max_deactivations",
        "sync.max_changes (job_title)",
    ]
    assert len(plan["actions"]) == 16

    # `run` stops with both named, before any write; the lock is not needed to plan.
    result = sync_env.run()
    assert result.exit_code == 65
    assert "max_deactivations" in result.stderr and "job_title would change" in result.stderr
    with run_lock(sync_env.state.with_name("state.db.lock")):
        assert sync_env.cli("plan").exit_code == 65
    assert scim_writes(sync_env) == []


def test_plan_escapes_control_characters_in_hr_values(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1
    [employee_id] = plain_employees(sync_env, 1)
    hostile = "Ops\x1b[2J\x1b[31m\u202eevil"
    sync_env.sandbox.company.update(employee_id, {TEAMS_FIELD: hostile})
    text = sync_env.cli("plan").stdout
    json_text = sync_env.cli("plan", "--json").stdout
    for output in (text, json_text):
        assert "\x1b" not in output and "\u202e" not in output
    # Control characters never reach HiThrive (safe_text.cleaned); the bidi override is shown
    # escaped in the text and carried, JSON-escaped, in the JSON.
    assert "Ops[2J[31m\\u202eevil" in text
    [action] = json.loads(json_text)["actions"]
    assert "Ops[2J[31m\u202eevil" in action["changes"]["teams"]["after"]


# -- the mass-change breaker ---------------------------------------------------------------------


def _change_teams(env: SyncEnv, ids: list[str]) -> str:
    company = env.sandbox.company
    department = next(iter(company.list_items("work.department")))
    for employee_id in ids:
        if company.get(employee_id)["work.department"] == department:
            department = list(company.list_items("work.department"))[1]
    for employee_id in ids:
        company.update(employee_id, {"work.department": department})
    return str(company.list_items("work.department")[department])


def _change_manager(env: SyncEnv, ids: list[str]) -> str:
    boss = next(i for i in sorted(expected_users(env)) if i not in ids)
    for employee_id in ids:
        env.sandbox.company.update(employee_id, {"work.reportsTo": boss})
    return email(env, boss)


def _change_title(env: SyncEnv, ids: list[str]) -> str:
    return retitle(env, ids)[ids[0]][1]


@pytest.mark.parametrize(
    ("field", "change"),
    [("job_title", _change_title), ("teams", _change_teams), ("manager_email", _change_manager)],
)
def test_mass_change_breaker_per_field(sync_env: SyncEnv, field: str, change: Any) -> None:
    assert sync_env.run().exit_code == 1
    ids = plain_employees(sync_env, 14)
    value = change(sync_env, ids)
    changed = [
        a["email"]
        for a in json.loads(sync_env.cli("plan", "--json").stdout)["actions"]
        if field in a["changes"]
    ]
    assert len(changed) >= 10
    sync_env.scim.reset_counts()

    result = sync_env.run("--json")
    assert result.exit_code == 65, result.output
    message = json.loads(result.stdout)["message"]
    assert f"{field} would change for {len(changed)} of" in message
    assert "sync.max_changes (25%" in message
    examples = [e for e in changed if e in message]
    assert 1 <= len(examples) <= 3
    assert value not in message  # emails as examples, never values
    assert scim_writes(sync_env) == []

    # Raised for the night, the same change goes through.
    sync_env.write_config(max_changes="100%")
    assert sync_env.run().exit_code == 0
    assert len(scim_writes(sync_env)) == len(changed)


def test_breaker_never_trips_under_ten_users_and_ignores_creates(sync_env: SyncEnv) -> None:
    sync_env.write_config(max_changes=1)
    assert sync_env.run().exit_code == 1  # a first sync creates everyone: creates do not count
    retitle(sync_env, plain_employees(sync_env, 9))
    assert sync_env.run().exit_code == 0
    assert len(scim_writes(sync_env)) > 9


def test_breaker_alert_email_names_field_and_count(sync_env: SyncEnv, smtp_server: Any) -> None:
    from tests.test_alerts_e2e import bodies, notify_block

    smtp = smtp_server()
    sync_env.write_config(notify_block(smtp.port))
    sync_env.run()
    changed = retitle(sync_env, plain_employees(sync_env, 12))
    assert sync_env.run().exit_code == 65
    text = bodies(smtp)[-1]
    assert "safeguard" in text and "job_title would change for 12 of" in text
    assert "hibob-sync apply plan.json" in " ".join(text.split())
    assert not any(new in text for _, new in changed.values())


# -- plan -o and apply ---------------------------------------------------------------------------


@pytest.fixture
def stopped(sync_env: SyncEnv) -> tuple[SyncEnv, list[str]]:
    """A reorganisation the safeguards stop: 11 new titles and 5 leavers."""
    assert sync_env.run().exit_code == 1
    ids = plain_employees(sync_env, 16)
    retitle(sync_env, ids[:11])
    for employee_id in ids[11:]:
        sync_env.sandbox.company.terminate(employee_id)
    assert sync_env.run().exit_code == 65
    sync_env.scim.reset_counts()
    return sync_env, ids


def test_plan_file_mode_and_content(stopped: tuple[SyncEnv, list[str]], tmp_path: Path) -> None:
    env, ids = stopped
    path = tmp_path / "plan.json"
    result = env.cli("plan", "-o", str(path))
    assert result.exit_code == 65
    assert "holds HR profile values" in result.stderr and str(path) in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "hibob-sync plan" and "profile values" in document["note"]
    assert document["scim_url"] == env.scim.url
    config = hashlib.sha256(env.config.read_bytes()).hexdigest()
    assert document["config"]["digest"] == f"sha256:{config}"
    assert document["mapping"]["digest"].startswith("sha256:")
    made = env.clock.now
    assert document["created_at"].startswith(_iso(made))
    assert document["expires_at"].startswith(_iso(made + 24 * 3600))
    assert {s["safeguard"] for s in document["safeguards"]} == {
        "sync.max_deactivations",
        "sync.max_changes (job_title)",
    }
    assert {a["employee_id"] for a in document["actions"]} == set(ids)
    for action in document["actions"]:
        # A record for the reviewer: what changes, before and after; `apply` trusts none of it.
        assert set(action) == {
            "kind",
            "email",
            "employee_id",
            "scim_id",
            "changes",
            "external_id",
            "active",
        }
    assert {f["reason"] for f in document["set_aside"]} >= {"no email in HiBob"}
    assert scim_writes(env) == []


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def test_apply_a_reviewed_plan(stopped: tuple[SyncEnv, list[str]], tmp_path: Path) -> None:
    env, ids = stopped
    path = tmp_path / "plan.json"
    assert env.cli("plan", "-o", str(path)).exit_code == 65
    recorded = len(runs(env))

    result = env.cli("apply", str(path))
    assert result.exit_code == 0, result.output
    assert "applied the reviewed plan" in result.messages
    assert len(scim_writes(env)) == 16
    users = env.users_by_external_id()
    assert [users[i]["active"] for i in ids[11:]] == [False] * 5
    company = env.sandbox.company
    assert all(users[i]["title"] == company.display(i, "work.title") for i in ids[:11])
    last = runs(env)
    assert len(last) == recorded + 1 and last[0]["exit_code"] == 0
    assert "applied the reviewed plan" in last[0]["message"]
    assert "sync.max_deactivations" in last[0]["message"]
    assert "reviewed plan" in env.cli("history").stdout

    # In sync now: the nightly run has nothing to do; the same plan again does nothing.
    env.scim.reset_counts()
    assert env.run().exit_code == 0
    assert env.cli("apply", str(path)).exit_code == 0
    assert scim_writes(env) == []


def test_apply_refuses_a_user_moved_in_hibob(
    stopped: tuple[SyncEnv, list[str]], tmp_path: Path
) -> None:
    env, ids = stopped
    path = tmp_path / "plan.json"
    env.cli("plan", "-o", str(path))
    retitle(env, [ids[2]])
    result = env.cli("apply", str(path))
    assert result.exit_code == 65, result.output
    message = " ".join(result.stderr.split())
    assert f"{email(env, ids[2])} (HiBob {ids[2]}): update differs from the reviewed one" in message
    assert "in job_title (changed in HiBob since" in message
    assert "differs from the reviewed one in 1 place(s)" in message
    assert scim_writes(env) == []


@pytest.mark.parametrize(
    ("config", "path", "value"),
    [
        ("hithrive", "title", "Edited by hand"),  # no meta.version
        ("default", "title", "Edited by hand"),  # meta.version: not what is compared
    ],
)
def test_apply_refuses_a_user_moved_in_hithrive(
    sync_env: SyncEnv,
    scim_server_factory: ScimServerFactory,
    tmp_path: Path,
    config: str,
    path: str,
    value: str,
) -> None:
    sync_env.scim = scim_server_factory(config=config)
    sync_env.write_config()
    sync_env.run()
    ids = plain_employees(sync_env, 12)
    retitle(sync_env, ids)
    plan_path = tmp_path / "plan.json"
    assert sync_env.cli("plan", "-o", str(plan_path)).exit_code == 65
    user = sync_env.users_by_external_id()[ids[3]]
    answer = requests.patch(
        f"{sync_env.scim.direct_url}/Users/{user['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": path, "value": value}],
        },
        headers={"Authorization": f"Bearer {sync_env.scim.token}"},
        timeout=10,
    )
    assert answer.ok, answer.text
    sync_env.scim.reset_counts()
    result = sync_env.cli("apply", str(plan_path))
    assert result.exit_code == 65, result.output
    message = " ".join(result.stderr.split())
    assert f"{email(sync_env, ids[3])} (HiBob {ids[3]}): update differs" in message
    assert "in job_title (changed in HiThrive since, or the file was edited)" in message
    assert scim_writes(sync_env) == []


def test_apply_refuses_an_expired_plan(stopped: tuple[SyncEnv, list[str]], tmp_path: Path) -> None:
    env, _ = stopped
    path = tmp_path / "plan.json"
    env.cli("plan", "-o", str(path), "--expires", "2h")
    env.clock.advance(2 * 3600 + 1)
    result = env.cli("apply", str(path))
    assert result.exit_code == 65, result.output
    assert "it expired at" in result.stderr and "nothing was written" in result.stderr
    assert scim_writes(env) == []
    assert env.cli("plan", "--expires", "soon").exit_code == 2
    assert env.cli("plan", "--expires", "0s").exit_code == 2  # expired as it is written


def test_apply_refuses_another_target_or_config(
    stopped: tuple[SyncEnv, list[str]], tmp_path: Path, scim_server_factory: ScimServerFactory
) -> None:
    env, _ = stopped
    path = tmp_path / "plan.json"
    env.cli("plan", "-o", str(path))
    original = env.scim
    env.scim = scim_server_factory()
    env.write_config()
    result = env.cli("apply", str(path))
    assert result.exit_code == 65, result.output
    assert f"made for the SCIM server {original.url}" in result.stderr
    assert env.scim.requests == [] or scim_writes(env) == []

    env.scim = original
    env.write_config(timeout=99)  # the same target, another config (no key written twice)
    result = env.cli("apply", str(path))
    assert result.exit_code == 65
    assert "another config" in result.stderr
    assert scim_writes(env) == []


def test_apply_of_a_damaged_file_is_78(sync_env: SyncEnv, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{not json", encoding="utf-8")
    result = sync_env.cli("apply", str(path))
    assert result.exit_code == 78
    assert f"{path}: not a usable hibob-sync plan file" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["missing.json", "a-folder"])
def test_apply_of_a_missing_file_is_a_usage_error(
    sync_env: SyncEnv, tmp_path: Path, name: str
) -> None:
    # spec.md: 2 is a command-line usage error; a FILE argument naming nothing usable is one.
    (tmp_path / "a-folder").mkdir()
    result = sync_env.cli("apply", str(tmp_path / name))
    assert result.exit_code == 2, result.output
    assert f"Invalid value for 'FILE': File '{tmp_path / name}'" in result.stderr
    assert "Traceback" not in result.output
    assert sync_env.scim.requests == [] and sync_env.sandbox.request_count() == 0


# -- a killed apply, then the same apply again ---------------------------------------------------


def test_apply_killed_mid_way_then_rerun_finishes_without_duplicates(
    big_env: SyncEnv, tmp_path: Path
) -> None:
    path = tmp_path / "plan.json"
    assert big_env.cli("plan", "-o", str(path)).exit_code == 0  # a first sync: 190-odd creates
    creates = len(json.loads(path.read_text(encoding="utf-8"))["actions"])
    proc = start_cli_process(big_env, "apply", str(path))
    try:
        wait_for(lambda: len(scim_writes(big_env)) >= 20, 60, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == -signal.SIGKILL
    written = len(big_env.users())
    assert 0 < written < creates - 3, "the kill did not land in the middle of applying"

    # The same reviewed plan again: what the killed apply wrote counts as done, not as moved.
    result = big_env.cli("apply", str(path))
    assert result.exit_code == 1, result.output  # the seeded bad records, new to the history
    assert "already done by an earlier apply" in result.messages
    assert_no_duplicates(big_env.users())
    assert len(big_env.users()) == creates
    assert_in_sync(big_env)  # includes a nightly run that writes nothing
