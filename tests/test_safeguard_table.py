"""The mass-change breaker and the plan verdict as tables: a rule change shows in one place."""

from __future__ import annotations

import pytest

from hibob_sync.config.settings import Limit
from hibob_sync.core.plan import Action, ActionKind, Plan
from hibob_sync.core.safeguards import check_changes, plan_safeguards, plan_verdict
from hibob_sync.errors import ExitCode
from hibob_sync.model import ScimUser


def plan_with(managed: int, kind: ActionKind, count: int, field: str = "job_title") -> Plan:
    actions = [
        Action(
            kind,
            f"user{i}@acme.example",
            str(i),
            None if kind == "create" else ScimUser(f"s{i}", f"user{i}@acme.example", str(i), True),
            {field: ("Old", "New")} if kind != "deactivate" else {},
            active=False if kind == "deactivate" else None,
        )
        for i in range(count)
    ]
    return Plan(actions=actions, managed_active=managed)


@pytest.mark.parametrize(
    ("managed", "limit", "changed", "trips"),
    [
        (100, Limit(25, True), 25, False),  # exactly the limit is allowed
        (100, Limit(25, True), 26, True),
        (20, Limit(25, True), 9, False),  # 25% of 20 is 5, but never for fewer than 10
        (20, Limit(25, True), 10, True),
        (1000, Limit(50, False), 50, False),  # a count
        (1000, Limit(50, False), 51, True),
        (1000, Limit(0, False), 9, False),  # even a limit of 0 lets 9 through
        (1000, Limit(100, True), 1000, False),
    ],
)
def test_breaker_threshold(managed: int, limit: Limit, changed: int, trips: bool) -> None:
    found = check_changes(plan_with(managed, "update", changed), limit)
    assert bool(found) is trips
    if trips:
        [item] = found
        assert item.safeguard == "sync.max_changes (job_title)"
        assert f"job_title would change for {changed} of {managed} managed users" in item.message
        assert "New" not in item.message and "Old" not in item.message


@pytest.mark.parametrize(
    ("kind", "counted"),
    [("create", False), ("update", True), ("adopt", True), ("reactivate", True)],
)
def test_which_actions_count(kind: ActionKind, counted: bool) -> None:
    found = check_changes(plan_with(40, kind, 30), Limit(25, True))
    assert bool(found) is counted


def test_each_field_is_its_own_breaker_and_plan_names_them_all() -> None:
    plan = plan_with(40, "update", 12)
    plan.actions += plan_with(40, "update", 11, "teams").actions
    plan.actions += plan_with(40, "deactivate", 6).actions
    found = plan_safeguards(plan, Limit(10, True), Limit(25, True))
    assert [t.safeguard for t in found] == [
        "sync.max_deactivations",
        "sync.max_changes (job_title)",
        "sync.max_changes (teams)",
    ]
    code, message = plan_verdict(found)
    assert code == ExitCode.SAFEGUARD and message.startswith("3 safeguards stopped the run")
    assert plan_verdict([]) == (ExitCode.OK, "")
