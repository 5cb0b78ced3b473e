"""Every employee accounted for, ownership from evidence, recycled addresses and the
safeguards on access, over plain data (the end-to-end side is test_accounted_e2e.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hibob_sync.config.mapping import validate
from hibob_sync.config.settings import Limit, load_settings
from hibob_sync.core.actions import settle
from hibob_sync.core.outcomes import AccountingError, Outcomes
from hibob_sync.core.plan import Plan, make_plan
from hibob_sync.core.profiles import build_profiles
from hibob_sync.core.safeguards import check_reactivations, plan_safeguards
from hibob_sync.errors import ConfigError, SafeguardError
from hibob_sync.hibob.client import HibobEmployee
from hibob_sync.model import ScimUser
from hibob_sync.state import StateStore

MAPPING = validate({"email": "root.email", "job_title": "work.title"}, "test")
EMPLOYED, LEFT, HIRED = ("Employed", "Active"), ("Terminated", "Inactive"), ("Hired", "Inactive")


def person(
    eid: str, status: tuple[str | None, str | None], email: str | None, title: str = "T"
) -> HibobEmployee:
    return HibobEmployee(eid, *status, None, {"root.email": email, "work.title": title})


def user(uid: str, name: str, external: str | None, active: bool = True) -> ScimUser:
    return ScimUser(uid, name, external, active, {"email": name.lower(), "job_title": "T"})


def plan_of(people: list[HibobEmployee], users: list[ScimUser], **kwargs: object) -> Plan:
    plan = make_plan(build_profiles(people, MAPPING), users, MAPPING.fields, "deactivate", **kwargs)  # type: ignore[arg-type]
    plan.outcomes.check({p.id for p in people}, [u.id for u in users])
    return plan


def kinds(plan: Plan) -> list[tuple[str, str, int]]:
    return sorted((a.kind, a.email, a.wave) for a in plan.actions)


# -- leavers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("email", "title", "problem"),
    [
        (None, "T", "no email in HiBob"),  # cleared at offboarding
        ("not an address", "T", "the email in HiBob is not a valid address"),
        ("gone@x.io", "x" * 300, "job_title is longer than 255 characters"),
    ],
)
def test_a_leaver_is_deactivated_by_id_whatever_their_record_holds(
    email: str | None, title: str, problem: str
) -> None:
    plan = plan_of([person("1", LEFT, email, title)], [user("s1", "gone@x.io", "1")])
    [action] = plan.actions
    assert (action.kind, action.user and action.user.id, action.active) == (
        "deactivate",
        "s1",
        False,
    )
    assert action.changes == {}  # a leaver's other fields are left as they are
    [warning] = plan.warnings
    assert warning.employee_id == "1" and problem in warning.reason
    assert not plan.rejected and plan.outcomes.employees == {"1": "deactivated"}


def test_a_leaver_without_a_user_is_in_sync_and_not_a_warning() -> None:
    plan = plan_of([person("1", LEFT, None)], [])
    assert not plan.actions and not plan.warnings and plan.outcomes.employees == {"1": "in_sync"}


# -- ownership -----------------------------------------------------------------------------
def test_another_clients_users_are_never_touched_and_counted_apart() -> None:
    users = [
        user("e1", "visitor@x.io", "entra-object-1"),  # not in HiBob, not ours
        user("e2", "ada@x.io", "entra-object-2"),  # holds an employee's address
        user("h1", "hand@x.io", None),
    ]
    plan = plan_of([person("1", EMPLOYED, "ada@x.io")], users)
    assert plan.actions == [] and plan.managed_active == 0
    [aside] = plan.rejected
    assert "another provisioning client" in aside.reason and "e2" in aside.reason
    assert plan.outcomes.users == {"e1": "unmanaged", "e2": "unmanaged", "h1": "unmanaged"}
    assert plan.outcomes.foreign == 2 and plan.counts()["unmanaged"] == 3

    adopting = plan_of([person("1", EMPLOYED, "ada@x.io")], users, adopt="all")
    [adopt] = adopting.actions
    assert (adopt.kind, adopt.user and adopt.user.id, adopt.external_id) == ("adopt", "e2", "1")


def test_a_user_the_store_says_is_ours_is_deactivated_once_its_employee_vanished() -> None:
    users = [user("s1", "gone@x.io", "99"), user("s2", "other@x.io", "98")]
    plan = plan_of([person("1", EMPLOYED, "a@x.io")], users, owned={"s1"})
    assert [(a.kind, a.user and a.user.id) for a in plan.actions if a.user] == [
        ("deactivate", "s1")
    ]
    assert plan.outcomes.users == {"s1": "deactivated", "s2": "unmanaged"}


# -- recycled addresses ----------------------------------------------------------------------
@pytest.mark.parametrize(("leaver", "hire"), [("1", "2"), ("2", "1")])
@pytest.mark.parametrize("reverse", [False, True])
def test_a_recycled_address_follows_the_holder_first_in_any_order(
    leaver: str, hire: str, reverse: bool
) -> None:
    people = [person(leaver, LEFT, "ada.old@x.io"), person(hire, EMPLOYED, "ada@x.io")]
    users = [user("s1", "ada@x.io", leaver), user("s0", "bob@x.io", None)]
    if reverse:
        people.reverse()
        users.reverse()
    plan = plan_of(people, users)
    assert kinds(plan) == [("create", "ada@x.io", 1), ("deactivate", "ada.old@x.io", 0)]
    rename = next(a for a in plan.actions if a.kind == "deactivate")
    assert rename.changes == {"email": ("ada@x.io", "ada.old@x.io")}
    assert rename.user is not None and rename.user.id == "s1"
    create = next(a for a in plan.actions if a.kind == "create")
    assert create.external_id == hire


def test_a_holder_with_no_other_address_sets_the_new_hire_aside_naming_them() -> None:
    people = [person("2", EMPLOYED, "ada@x.io"), person("1", LEFT, None)]
    plan = plan_of(people, [user("s1", "ada@x.io", "1")])
    assert kinds(plan) == [("deactivate", "ada@x.io", 0)]  # still deactivated, name kept
    [aside] = plan.rejected
    assert aside.employee_id == "2" and "employee 1, who has left" in aside.reason
    assert plan.outcomes.employees == {"1": "deactivated", "2": "set_aside"}


@pytest.mark.parametrize(("old", "new"), [("1", "2"), ("2", "1")])
def test_a_rehire_with_a_new_record_takes_the_old_records_account_over(old: str, new: str) -> None:
    people = [person(old, LEFT, "ada@x.io"), person(new, EMPLOYED, "ada@x.io")]
    plan = plan_of(people, [user("s1", "ada@x.io", old, active=False)])
    [adopt] = plan.actions
    assert (adopt.kind, adopt.external_id, adopt.active) == ("adopt", new, True)
    assert plan.outcomes.employees == {old: "in_sync", new: "adopted"}
    # Where the old record's user has another address, it stays the old record's.
    other = plan_of(people, [user("s1", "ada.old@x.io", old)])
    assert sorted((a.kind, a.employee_id) for a in other.actions) == [
        ("create", new),
        ("deactivate", old),
    ]


def test_a_chain_of_hand_overs_is_ordered_in_waves() -> None:
    people = [
        person("1", EMPLOYED, "b@x.io"),
        person("2", EMPLOYED, "c@x.io"),
        person("3", EMPLOYED, "a@x.io"),
    ]
    plan = plan_of(people, [user("s1", "a@x.io", "1"), user("s2", "b@x.io", "2")])
    assert kinds(plan) == [
        ("create", "a@x.io", 2),
        ("update", "b@x.io", 1),
        ("update", "c@x.io", 0),
    ]


# -- status and the safeguards on access ------------------------------------------------------
def test_no_status_keeps_active_as_it_is_and_gets_no_new_user() -> None:
    people = [person("1", (None, None), "a@x.io", "New"), person("2", (None, None), "b@x.io")]
    plan = plan_of(people, [user("s1", "a@x.io", "1", active=False)])
    [update] = plan.actions
    assert (update.kind, update.active, update.changes) == (
        "update",
        None,
        {"job_title": ("T", "New")},
    )
    assert {w.employee_id for w in plan.warnings} == {"1"}
    [aside] = plan.rejected
    assert aside.employee_id == "2" and "no user is created" in aside.reason


def test_reactivations_have_their_own_breaker_and_day_one_is_not_one() -> None:
    people = [person(str(i), EMPLOYED, f"p{i}@x.io") for i in range(4)]
    people.append(person("9", ("Hired", "Active"), "hire@x.io"))  # the start date has come
    users = [user(str(i), f"p{i}@x.io", str(i), active=False) for i in range(4)]
    users += [user("a", "first@x.io", "8", active=True), user("h", "hire@x.io", "9", False)]
    people.append(person("8", EMPLOYED, "first@x.io"))
    plan = plan_of(people, users)
    assert sum(a.reactivates for a in plan.actions) == 4
    assert plan.outcomes.counts()["activated"] == 1
    with pytest.raises(SafeguardError, match="reactivate 4 inactive users"):
        check_reactivations(plan, Limit(3, False))
    check_reactivations(plan, Limit(4, False))
    # The default follows max_deactivations, and `plan` names it like the others.
    found = plan_safeguards(plan, Limit(3, False), Limit(100, True))
    assert [t.safeguard for t in found] == ["sync.max_reactivations"]
    # An account created ahead (the state store says so) counts as a first day too.
    ahead = plan_of(
        [person("7", EMPLOYED, "late@x.io")], [user("s7", "late@x.io", "7", False)], ahead={"s7"}
    )
    assert [a.day_one for a in ahead.actions] == [True]


# -- the ledger ------------------------------------------------------------------------------
def test_the_ledger_refuses_a_missing_or_a_double_outcome() -> None:
    ledger = Outcomes()
    ledger.employee("1", "in_sync", "s1")
    with pytest.raises(AccountingError, match="1 employee"):
        ledger.check({"1", "2"}, ["s1"])
    with pytest.raises(AccountingError, match="SCIM user"):
        ledger.check({"1"}, ["s1", "s2"])
    ledger.user("s1", "unmanaged")
    with pytest.raises(AccountingError, match="two outcomes"):
        ledger.check({"1"}, ["s1"])


def test_a_write_the_server_refused_is_failed_not_done() -> None:
    plan = plan_of([person("1", EMPLOYED, "a@x.io")], [])
    from hibob_sync.model import Failure

    settle(plan, {"1"}, [], [Failure("1", "a@x.io", "HTTP 500")])
    assert plan.outcomes.employees == {"1": "failed"}


# -- config and state ------------------------------------------------------------------------
def test_adopt_and_max_reactivations_in_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("hithrive:\n  adopt: all\nsync:\n  max_deactivations: 7\n")
    settings = load_settings(config)
    assert settings.adopt == "all" and settings.max_reactivations == Limit(7, False)
    config.write_text("sync:\n  max_reactivations: 2%\n")
    settings = load_settings(config)
    assert settings.adopt == "unowned" and settings.max_reactivations == Limit(2, True)
    config.write_text("hithrive:\n  adopt: everyone\n")
    with pytest.raises(ConfigError, match=r"hithrive\.adopt: expected unowned or all"):
        load_settings(config)
    config.write_text("sync:\n  max_reactivations: lots\n")
    with pytest.raises(ConfigError, match=r"sync\.max_reactivations"):
        load_settings(config)


def test_an_older_state_store_gains_the_managed_users_table(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:  # a store as an older version left it
        conn.execute(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL,"
            " finished_at TEXT NOT NULL, exit_code INTEGER NOT NULL, outcome TEXT NOT NULL,"
            " message TEXT NOT NULL DEFAULT '', counts TEXT NOT NULL DEFAULT '{}', coverage TEXT)"
        )
        conn.execute(
            "INSERT INTO runs (started_at, finished_at, exit_code, outcome) VALUES"
            " ('2026-01-01', '2026-01-01', 0, 'in sync')"
        )
    store = StateStore(path)
    assert store.managed_users() == {}
    store.set_managed_users({"s1": False, "s2": True})
    assert store.managed_users() == {"s1": False, "s2": True}
    assert len(store.last_runs()) == 1


def test_swapped_addresses_are_set_aside_naming_each_other() -> None:
    people = [person("1", EMPLOYED, "b@x.io"), person("2", EMPLOYED, "a@x.io")]
    plan = plan_of(people, [user("s1", "a@x.io", "1"), user("s2", "b@x.io", "2")])
    assert plan.actions == []
    reasons = {f.employee_id: f.reason for f in plan.rejected}
    assert "employee 2, which waits" in reasons["1"] and "employee 1, which waits" in reasons["2"]


def test_the_summary_says_what_everyone_ended_as() -> None:
    from hibob_sync.core.report import summary_text
    from hibob_sync.core.summary import RunSummary

    people = [person("1", LEFT, None), person("2", EMPLOYED, "a@x.io")]
    plan = plan_of(people, [user("s1", "a@x.io", "1"), user("e", "z@x.io", "entra-1")])
    summary = RunSummary(started_at="2026-01-01T00:00:00+00:00", plan=plan, counts=plan.counts())
    text = summary_text(summary)
    assert (
        "Accounted for: 2 employees from HiBob and 1 SCIM user with no employee: 1 deactivated, "
        "1 set aside, 1 not managed by hibob-sync (1 provisioned by another client" in text
    )
    assert summary.as_dict()["outcomes"]["unmanaged"] == 1  # type: ignore[index]


@pytest.mark.parametrize("policy", ["deactivate", "ignore"])
def test_scope_and_protect_keep_every_employee_accounted_for(policy: str) -> None:
    from hibob_sync.config.scope import Scope
    from hibob_sync.core.who import Who

    people = [
        person("1", EMPLOYED, "in@x.io"),
        HibobEmployee("2", *EMPLOYED, None, {"root.email": "out@x.io", "work.site": "Paris"}),
        person("3", EMPLOYED, "ceo@x.io", "New title"),
    ]
    users = [user("s2", "out@x.io", "2"), user("s3", "ceo@x.io", "3")]
    who = Who(
        Scope(exclude={"work.site": ("Paris",)}, out_of_scope=policy), frozenset({"ceo@x.io"})
    )
    profiles = who.profiles(people, MAPPING)
    plan = make_plan(profiles, users, MAPPING.fields, "deactivate")
    who.settle(plan, users, profiles, people, MAPPING)
    settle(plan, profiles.seen_ids, [u.id for u in users])
    assert plan.outcomes.employees == {"1": "created", "2": "out_of_scope", "3": "protected"}
    kinds = [(a.kind, a.employee_id) for a in plan.actions]
    assert kinds == [("create", "1")] + ([("deactivate", "2")] if policy == "deactivate" else [])
