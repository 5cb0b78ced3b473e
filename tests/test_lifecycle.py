"""Who is active in HiThrive: HiBob's access status, one test per row of its access table.

Source for every test here: ../shared/hibob-api.md, "Access status (internal.status) per
lifecycle status, from HiBob's help centre": Hired = Inactive until the start date;
Employed = Active; Garden leave = Active until the last day; Leave / Parental leave = Active
or Inactive, as the company's leave settings say; Terminated = Inactive. And spec.md, "Who is
active in HiThrive": internal.status decides, the lifecycle status only where it cannot be
read; future hires are created ahead with active false (or, with `skip`, on their first day).
"""

from __future__ import annotations

from typing import Any

import pytest

from hibob_sync.config.mapping import validate
from hibob_sync.config.settings import Limit
from hibob_sync.core.plan import make_plan
from hibob_sync.core.profiles import build_profiles, is_active, is_future_hire
from hibob_sync.core.safeguards import check_deactivations
from hibob_sync.errors import SafeguardError
from hibob_sync.hibob.client import HibobEmployee
from hibob_sync.model import ScimUser
from hibob_sync.sandbox.catalogue import TEAMS_FIELD
from tests.sync_fixtures import ENTERPRISE, HITHRIVE, SyncEnv
from tests.test_run import active_users, scim_writes


def person(lifecycle: str | None, status: str | None) -> HibobEmployee:
    return HibobEmployee("1", lifecycle, status, None, {"root.email": "a@example.com"})


# -- the rule, as a table ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lifecycle", "status", "active", "future_hire"),
    [
        ("Hired", "Inactive", False, True),  # before the start date
        ("Hired", "Active", True, False),  # the start date has come
        ("Employed", "Active", True, False),
        ("Garden leave", "Active", True, False),
        ("Leave", "Active", True, False),  # the company keeps access during leave
        ("Leave", "Inactive", False, False),  # ... or switches it off
        ("Parental leave", "Active", True, False),
        ("Parental leave", "Inactive", False, False),
        ("Terminated", "Inactive", False, False),
        # internal.status unreadable: the lifecycle status is the fallback.
        ("Hired", None, False, True),
        ("Employed", None, True, False),
        ("Leave", None, True, False),
        ("Terminated", None, False, False),
        # the lifecycle status unreadable: internal.status alone decides.
        (None, "Active", True, False),
        (None, "Inactive", False, False),
    ],
)
def test_access_status_decides(
    lifecycle: str | None, status: str | None, active: bool, future_hire: bool
) -> None:
    employee = person(lifecycle, status)
    assert (is_active(employee), is_future_hire(employee)) == (active, future_hire)


def test_an_active_account_made_inactive_counts_whatever_hibobs_label() -> None:
    mapping = validate({"email": "root.email"}, "test")
    hires = [
        HibobEmployee(str(i), "Hired", "Inactive", None, {"root.email": f"h{i}@example.com"})
        for i in range(5)
    ]
    # Accounts an older version made active ahead of day one: HiBob says Inactive. Taking
    # access away is what the safeguard is for, whatever HiBob calls the person.
    users = [ScimUser(f"u{i}", f"h{i}@example.com", str(i), True) for i in range(5)]
    plan = make_plan(build_profiles(hires, mapping), users, mapping.fields, "deactivate")
    assert [a.active for a in plan.of_kind("deactivate")] == [False] * 5
    with pytest.raises(SafeguardError, match="deactivate 5 of 5"):
        check_deactivations(plan, Limit(4, False))
    check_deactivations(plan, Limit(5, False))


@pytest.mark.parametrize(
    ("status", "user_active", "future_hires", "kind", "active"),
    [
        # a future hire (Hired, Inactive) with no account yet
        ("Inactive", None, "create_inactive", "create", False),
        ("Inactive", None, "skip", None, None),
        # ... with the account created ahead (inactive): only field changes
        ("Inactive", False, "create_inactive", "update", None),
        ("Inactive", False, "skip", None, None),
        # ... with an account an older version made active: made inactive, not a leaver
        ("Inactive", True, "create_inactive", "deactivate", False),
        # the start date has come: HiBob turns them Active
        ("Active", None, "skip", "create", True),
        ("Active", False, "create_inactive", "reactivate", True),
    ],
)
def test_future_hire_plans(
    status: str, user_active: bool | None, future_hires: str, kind: str | None, active: bool | None
) -> None:
    mapping = validate({"email": "root.email", "job_title": "work.title"}, "test")
    hire = HibobEmployee(
        "7", "Hired", status, None, {"root.email": "h@example.com", "work.title": "Engineer"}
    )
    users = [] if user_active is None else [ScimUser("u7", "h@example.com", "7", user_active)]
    plan = make_plan(
        build_profiles([hire], mapping), users, mapping.fields, "deactivate", future_hires
    )
    assert [(a.kind, a.active) for a in plan.actions] == ([(kind, active)] if kind else [])


# -- end to end, one lifecycle row at a time ---------------------------------------------------
def user_of(env: SyncEnv, employee_id: str) -> dict[str, Any]:
    return env.users_by_external_id()[employee_id]


def run_once(env: SyncEnv) -> list[tuple[str, str]]:
    env.scim.reset_counts()
    result = env.run()
    # The sandbox's planted bad records: exit 1 the first time, 0 once they are repeats.
    assert result.exit_code in (0, 1), result.output
    return scim_writes(env)


def test_hired_is_created_ahead_inactive_then_activated_with_one_patch(sync_env: SyncEnv) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    manager = active_users(sync_env)[0]
    hire = company.hire(
        {"root.email": "new.hire@acme.example", "work.reportsTo": manager, TEAMS_FIELD: "Core"},
        start_in_days=10,
    )
    assert company.get(hire)["internal.status"] == "Inactive"
    assert run_once(sync_env) == [("POST", "/Users")]
    user = user_of(sync_env, hire)
    assert user["active"] is False
    assert user[ENTERPRISE]["manager"]["value"] == user_of(sync_env, manager)["id"]
    assert "Core" in user[HITHRIVE]["teams"]
    assert run_once(sync_env) == []  # nothing changes until HiBob turns them Active

    company.start(hire)
    assert run_once(sync_env) == [("PATCH", f"/Users/{user['id']}")]
    assert user_of(sync_env, hire)["active"] is True


def test_hired_with_skip_is_created_on_the_first_day(sync_env: SyncEnv) -> None:
    sync_env.write_config(future_hires="skip")
    sync_env.run()
    company = sync_env.sandbox.company
    planted = company.awkward["hired_future_start"]
    assert planted and not set(planted) & set(sync_env.users_by_external_id())
    hire = company.hire({"root.email": "later@acme.example"})
    assert run_once(sync_env) == []
    company.start(hire)
    assert run_once(sync_env) == [("POST", "/Users")]
    assert user_of(sync_env, hire)["active"] is True


def test_planted_future_hires_are_inactive_after_the_first_run(sync_env: SyncEnv) -> None:
    sync_env.run()
    users = sync_env.users_by_external_id()
    planted = sync_env.sandbox.company.awkward["hired_future_start"]
    assert planted and all(users[i]["active"] is False for i in planted)


def test_employed_is_active(sync_env: SyncEnv) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    employed = [i for i in company.by_status("Employed") if i in active_users(sync_env)]
    users = sync_env.users_by_external_id()
    assert employed and all(users[i]["active"] is True for i in employed)


def test_garden_leave_stays_active_until_the_last_day(sync_env: SyncEnv) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    employee_id = active_users(sync_env)[1]
    company.set_lifecycle(employee_id, "Garden leave")
    assert run_once(sync_env) == []
    company.terminate(employee_id)
    user_id = user_of(sync_env, employee_id)["id"]
    assert run_once(sync_env) == [("PATCH", f"/Users/{user_id}")]
    assert user_of(sync_env, employee_id)["active"] is False


@pytest.mark.parametrize("leave", ["Leave", "Parental leave"])
def test_leave_follows_the_company_setting(sync_env: SyncEnv, leave: str) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    employee_id = active_users(sync_env)[2]
    user_id = user_of(sync_env, employee_id)["id"]
    company.set_lifecycle(employee_id, leave)  # the company keeps access during leave
    assert company.get(employee_id)["internal.status"] == "Active"
    assert run_once(sync_env) == []
    company.set_leave_status(leave, "Inactive")  # ... now it switches access off
    users = sync_env.users_by_external_id()
    on_leave = company.by_status(leave)  # the seed has others on that leave too
    patches = sorted(("PATCH", f"/Users/{users[i]['id']}") for i in on_leave if i in users)
    assert ("PATCH", f"/Users/{user_id}") in patches
    assert sorted(run_once(sync_env)) == patches
    users = sync_env.users_by_external_id()
    assert all(users[i]["active"] is False for i in on_leave if i in users)
    company.set_lifecycle(employee_id, "Employed")  # back from leave
    assert run_once(sync_env) == [("PATCH", f"/Users/{user_id}")]
    assert user_of(sync_env, employee_id)["active"] is True


def test_terminated_is_deactivated(sync_env: SyncEnv) -> None:
    sync_env.run()
    company = sync_env.sandbox.company
    terminated = company.by_status("Terminated")
    assert terminated and not set(terminated) & set(sync_env.users_by_external_id())
    employee_id = active_users(sync_env)[3]
    user_id = user_of(sync_env, employee_id)["id"]
    company.terminate(employee_id)
    assert run_once(sync_env) == [("PATCH", f"/Users/{user_id}")]
    assert user_of(sync_env, employee_id)["active"] is False
