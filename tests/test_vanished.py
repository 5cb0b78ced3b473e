"""Vanished employees wait out `sync.vanished_grace` (default 3d) before deactivation.

HiBob's own leavers (Terminated / Inactive) are deactivated at once; an employee HiBob stops
returning at all is held back, counted by the safeguard, and forgotten without a write when
it comes back. The clock is injected: days pass without a sleep.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from hibob_sync.core.plan import Action, Plan
from hibob_sync.core.vanished import hold_vanished
from tests.reliability_helpers import scim_writes
from tests.sync_fixtures import SyncEnv
from tests.test_run import expected_users

DAY = 86400.0


def synced(env: SyncEnv) -> list[str]:
    """A first run; the employee IDs it gave an active user, managers last."""
    assert env.run().exit_code in (0, 1)
    company = env.sandbox.company
    managers = {
        str(ref["id"])
        for i in company.ids()
        if isinstance(ref := company.get(i).get("work.reportsTo"), dict)
    }
    return sorted(expected_users(env), key=lambda i: (i in managers, i))


def take_out(env: SyncEnv, employee_id: str) -> dict[str, Any]:
    """Delete the employee from HiBob, returning the record to put back."""
    record = env.sandbox.company.get(employee_id)
    reference = record["work.reportsTo"]
    record["work.reportsTo"] = reference["id"] if isinstance(reference, dict) else None
    env.sandbox.company.remove(employee_id)
    return record


def run_json(env: SyncEnv, *args: str) -> dict[str, Any]:
    result = env.run("--json", *args)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_vanished_waits_then_is_deactivated(sync_env: SyncEnv) -> None:
    gone, leaver = synced(sync_env)[:2]
    email = sync_env.users_by_external_id()[gone]["userName"]
    take_out(sync_env, gone)
    sync_env.sandbox.company.terminate(leaver)  # HiBob says so: acted on at once
    sync_env.scim.reset_counts()
    first_seen = sync_env.clock()

    result = sync_env.run()
    assert result.exit_code == 0, result.output
    assert f"{email} (HiBob {gone}): missing since " in result.stderr
    assert "0 of 3 days of sync.vanished_grace" in result.stderr
    users = sync_env.users_by_external_id()
    assert users[gone]["active"] is True
    assert users[leaver]["active"] is False
    assert len(scim_writes(sync_env)) == 1  # the leaver only

    sync_env.clock.advance(2 * DAY + 3600)
    sync_env.scim.reset_counts()
    dry = sync_env.run("--dry-run")
    assert f"{email} (HiBob {gone})" in dry.stdout and "2 of 3 days" in dry.stdout
    summary = run_json(sync_env)
    (pending,) = summary["pending_deactivations"]
    assert (pending["employee_id"], pending["email"]) == (gone, email)
    assert pending["countdown"] == "2 of 3 days"
    assert summary["counts"]["pending"] == 1 and summary["counts"]["deactivate"] == 0
    assert scim_writes(sync_env) == []

    sync_env.clock.advance(DAY)
    summary = run_json(sync_env)
    assert summary["counts"]["deactivate"] == 1 and summary["pending_deactivations"] == []
    assert sync_env.users_by_external_id()[gone]["active"] is False

    # history keeps when it went missing, by ID; the countdown is over.
    runs = json.loads(sync_env.cli("history", "--json").stdout)
    missing = [v for run in runs for v in run["vanished"]]
    assert {v["missing_since"] for v in missing} == {_iso(first_seen)}
    assert [v["deactivated"] for v in runs[0]["vanished"]] == [True]
    assert all(v["employee_id"] == gone for v in missing)
    history = " ".join(sync_env.cli("history").stdout.split())
    assert f"HiBob {gone} deactivated, missing since {_iso(first_seen)}" in history
    assert email not in json.dumps(runs)  # IDs only
    assert run_json(sync_env)["counts"]["pending"] == 0


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def test_reappearing_cancels_the_countdown_without_a_write(sync_env: SyncEnv) -> None:
    gone = synced(sync_env)[0]
    record = take_out(sync_env, gone)
    assert run_json(sync_env)["pending_deactivations"][0]["countdown"] == "0 of 3 days"
    sync_env.clock.advance(2 * DAY)
    sync_env.sandbox.company.load([record])
    sync_env.scim.reset_counts()
    summary = run_json(sync_env)
    assert summary["pending_deactivations"] == [] and summary["counts"]["pending"] == 0
    assert scim_writes(sync_env) == []
    assert sync_env.users_by_external_id()[gone]["active"] is True

    # Gone again later: a new countdown from zero, not the old one's remaining day.
    sync_env.clock.advance(2 * DAY)
    take_out(sync_env, gone)
    assert run_json(sync_env)["pending_deactivations"][0]["countdown"] == "0 of 3 days"
    assert sync_env.users_by_external_id()[gone]["active"] is True


def test_mass_disappearance_stops_the_run_at_once(sync_env: SyncEnv) -> None:
    ids = synced(sync_env)
    for employee_id in ids[:8]:
        take_out(sync_env, employee_id)
    sync_env.scim.reset_counts()
    result = sync_env.run()
    assert result.exit_code == 65, result.output
    assert "would deactivate 8 of " in result.stderr
    assert "8 of them no longer returned by HiBob at all" in result.stderr
    assert scim_writes(sync_env) == []

    # No countdown started while the safeguard held: once the limit is raised, days later,
    # they wait the whole window from then.
    sync_env.clock.advance(4 * DAY)
    sync_env.write_config(max_deactivations=50)
    summary = run_json(sync_env)
    assert {p["countdown"] for p in summary["pending_deactivations"]} == {"0 of 3 days"}
    assert len(summary["pending_deactivations"]) == 8
    assert scim_writes(sync_env) == []


def test_a_shorter_grace_from_config(sync_env: SyncEnv) -> None:
    gone = synced(sync_env)[0]
    sync_env.write_config(vanished_grace="12h")
    take_out(sync_env, gone)
    assert run_json(sync_env)["pending_deactivations"][0]["countdown"] == "0 of 12 hours"
    sync_env.clock.advance(12 * 3600)
    assert run_json(sync_env)["counts"]["deactivate"] == 1


# -- the pure rule, as a table ------------------------------------------------------------


def _plan() -> Plan:
    return Plan(
        actions=[
            Action("deactivate", "leaver@acme.example", "1", active=False),  # HiBob says so
            Action("deactivate", "gone@acme.example", "2", active=False),  # not returned
            Action("update", "stays@acme.example", "3"),
        ]
    )


NOW = datetime(2026, 11, 29, 2, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("missing_since", "grace", "deactivated", "countdown"),
    [
        ({}, timedelta(days=3), ["1"], "0 of 3 days"),
        ({"2": "2026-11-27T02:15:00+00:00"}, timedelta(days=3), ["1"], "2 of 3 days"),
        ({"2": "2026-11-26T02:15:00+00:00"}, timedelta(days=3), ["1", "2"], None),
        ({}, timedelta(0), ["1", "2"], None),
        ({"2": "not a time"}, timedelta(hours=26), ["1"], "0 of 26 hours"),
    ],
)
def test_hold_vanished(
    missing_since: dict[str, str],
    grace: timedelta,
    deactivated: list[str],
    countdown: str | None,
) -> None:
    plan = _plan()
    seen = {"1", "3", "4"}
    result = hold_vanished(plan, seen, {**missing_since, "4": "2026-11-20T00:00:00"}, NOW, grace)
    assert [a.employee_id for a in plan.of_kind("deactivate")] == deactivated
    assert [a.employee_id for a in plan.of_kind("update")] == ["3"]
    assert [p.countdown for p in plan.pending] == ([countdown] if countdown else [])
    assert list(result.missing) == ["2"]  # kept until the user is inactive
    assert result.cancelled == ["4"]  # returned by HiBob: forgotten
    assert plan.counts()["pending"] == len(plan.pending)
