"""Bad input through the CLI: a message naming the file, key, field or employee, the
documented exit code, and never a traceback; bad employees never stop the others.

(The file-level config and mapping cases of `map` live in test_cli_foundation.py; here the
same kinds of mistakes are run through `run` and `check`.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.core.profiles import MAX_ITEMS, MAX_TEXT, Profile, build_profiles
from hibob_sync.hibob.client import HibobEmployee
from hibob_sync.model import Failure
from hibob_sync.sandbox.catalogue import TEAMS_FIELD
from tests.cli_helpers import run_cli
from tests.reliability_helpers import scim_writes
from tests.sync_fixtures import ENTERPRISE, SyncEnv
from tests.test_run import actual, expected_users

GOOD_CONFIG = """\
hibob:
  base_url: https://api.hibob.com/v1
hithrive:
  scim_url: https://tenant.example/scim/v2
mapping_file: mapping.yaml
sync:
  state_path: state/state.db
"""
GOOD_MAPPING = "mapping:\n  email: root.email\n  job_title: work.title\n"

# case: (config text or None for no file, mapping text, what the message must name)
BAD_FILES: dict[str, tuple[str | None, str, str]] = {
    "malformed YAML": ("hithrive: {scim_url: [\n", GOOD_MAPPING, "malformed YAML"),
    "wrong type": (
        GOOD_CONFIG.replace("  state_path:", "  concurrency: many\n  state_path:"),
        GOOD_MAPPING,
        "sync.concurrency",
    ),
    "unknown key": (
        GOOD_CONFIG.replace("  scim_url:", "  scim_urll: x\n  scim_url:"),
        GOOD_MAPPING,
        "unknown key hithrive.scim_urll",
    ),
    "missing config file": (None, GOOD_MAPPING, "does not exist"),
    "non-https remote URL": (
        GOOD_CONFIG.replace("https://api.hibob.com", "http://api.hibob.com"),
        GOOD_MAPPING,
        "hibob.base_url",
    ),
    "no SCIM URL": (
        GOOD_CONFIG.replace("  scim_url: https://tenant.example/scim/v2\n", ""),
        GOOD_MAPPING,
        "hithrive.scim_url",
    ),
    "missing ca_bundle": (
        GOOD_CONFIG.replace("hithrive:\n", "hithrive:\n  ca_bundle: corp-ca.pem\n"),
        GOOD_MAPPING,
        "corp-ca.pem does not exist",
    ),
    "mapping file is a list": (GOOD_CONFIG, "- email: root.email\n", "top-level 'mapping:'"),
    "mapping without email": (
        GOOD_CONFIG,
        "mapping:\n  job_title: work.title\n",
        "mapping.email",
    ),
    "unknown HiThrive field": (
        GOOD_CONFIG,
        "mapping:\n  email: root.email\n  shoe_size: work.shoeSize\n",
        "unknown HiThrive field 'shoe_size'",
    ),
}


def assert_names_problem(result: Any, *needles: str, code: int = 78) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert re.match(r"\d{4}-\d\d-\d\dT\S+ ERROR ", result.stderr), result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


# `check` reads HiBob before it looks at the SCIM URL, so that case is for `run` only.
FILE_CASES = [
    (case, command)
    for case in sorted(BAD_FILES)
    for command in ("run", "check")
    if (case, command) != ("no SCIM URL", "check")
]


@pytest.mark.parametrize(("case", "command"), FILE_CASES)
def test_bad_config_or_mapping_stops_run_and_check(
    tmp_path: Path, case: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_text, mapping_text, needle = BAD_FILES[case]
    folder = tmp_path / "etc"
    folder.mkdir()
    config = folder / "config.yaml"
    if config_text is not None:
        config.write_text(config_text, encoding="utf-8")
    mapping = folder / "mapping.yaml"
    mapping.write_text(mapping_text, encoding="utf-8")
    # Credentials present, so only the bad file can be what stops the command.
    monkeypatch.setenv("HIBOB_SERVICE_USER_ID", "someone")
    monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", "something")
    monkeypatch.setenv("HITHRIVE_SCIM_TOKEN", "something")
    result = run_cli("--config", str(config), command)
    named = mapping if "mapping" in case or "HiThrive" in case else config
    assert_names_problem(result, str(named), needle)
    assert result.stdout == ""


# -- mapping problems only HiBob can reveal ----------------------------------------------------


def test_run_with_a_field_hibob_does_not_know_is_78(sync_env: SyncEnv) -> None:
    (sync_env.folder / "mapping.yaml").write_text(
        "mapping:\n  email: root.email\n  job_title: work.titel\n", encoding="utf-8"
    )
    result = sync_env.run()
    assert_names_problem(result, "mapping.job_title: HiBob has no field work.titel")
    assert sync_env.scim.requests == []


# -- bad employees -----------------------------------------------------------------------------


def failures_by_id(stdout: str) -> dict[str, dict[str, Any]]:
    summary = json.loads(stdout)
    return {f["employee_id"]: f for f in summary["failures"]}


def test_bad_records_are_named_and_the_rest_synced(sync_env: SyncEnv) -> None:
    company = sync_env.sandbox.company
    long_title = "Principal " + "Very " * 60 + "Long Title"
    assert len(long_title) > MAX_TEXT
    bad = {
        company.add({"root.email": "   "}): (None, "no email in HiBob"),
        company.add({"root.email": "ada@@acme.example"}): (None, "not a valid address"),
        company.add({"root.email": "no-at-sign.acme.example"}): (None, "not a valid address"),
        company.add({"root.email": "feb30@acme.example", "work.startDate": "2023-02-30"}): (
            "feb30@acme.example",
            "start_date is not a valid date",
        ),
        company.add({"root.email": "month13@acme.example", "personal.birthDate": "1990-13-01"}): (
            "month13@acme.example",
            "birthday is not a valid date",
        ),
        company.add({"root.email": "long.title@acme.example", "work.title": long_title}): (
            "long.title@acme.example",
            f"job_title is longer than {MAX_TEXT} characters",
        ),
    }
    first = company.awkward["duplicate_email"][0]
    twin_email = str(company.get(first)["root.email"])
    twin = company.add({"root.email": f" {twin_email.upper()} "})
    for employee_id in [*company.awkward["duplicate_email"], twin]:
        bad[employee_id] = (twin_email, "the same email is used by 3 active employees")
    for employee_id in company.awkward["no_email"]:
        bad[employee_id] = (None, "no email in HiBob")

    text = sync_env.run()
    assert text.exit_code == 1, text.output
    assert "Traceback" not in text.output
    for employee_id, (email, _) in bad.items():
        line = next(line for line in text.stderr.splitlines() if employee_id in line)
        assert (email or "(no valid email)") in line, line
    # The bad values themselves are not echoed.
    assert "2023-02-30" not in text.output and long_title not in text.output

    sync_env.scim.reset_counts()
    result = sync_env.run("--json")
    assert result.exit_code == 0  # the same employees as the run before: still named
    failures = failures_by_id(result.stdout)
    assert set(failures) == set(bad)
    for employee_id, (email, reason) in bad.items():
        assert failures[employee_id]["email"] == email
        assert reason in failures[employee_id]["reason"]

    # Everyone else is in SCIM, exactly once; the bad ones are not.
    users = sync_env.users_by_external_id()
    expected = {k: v for k, v in expected_users(sync_env).items() if k not in bad}
    assert set(users) == set(expected)
    assert len(sync_env.users()) == len(expected)
    assert scim_writes(sync_env) == []


def test_record_that_turns_bad_is_named_and_left_alone(sync_env: SyncEnv) -> None:
    """A synced employee whose HiBob record breaks is not changed, and never deactivated."""
    assert sync_env.run().exit_code == 1
    company = sync_env.sandbox.company
    before = sync_env.users_by_external_id()
    ids = sorted(before)[:4]
    company.update(ids[0], {"work.startDate": "2024-02-30"})
    company.update(ids[1], {"root.email": None})
    company.update(ids[2], {"work.title": "x" * (MAX_TEXT + 1)})
    company.update(ids[3], {"root.email": "broken@"})
    sync_env.scim.reset_counts()

    result = sync_env.run("--json")
    assert result.exit_code == 1, result.output
    failures = failures_by_id(result.stdout)
    assert set(ids) <= set(failures)
    assert "start_date" in failures[ids[0]]["reason"]
    assert "no email" in failures[ids[1]]["reason"]
    assert "job_title" in failures[ids[2]]["reason"]
    assert "not a valid address" in failures[ids[3]]["reason"]
    assert scim_writes(sync_env) == []
    assert sync_env.users_by_external_id() == before


def test_over_50_teams_or_an_over_long_team_is_rejected() -> None:
    """The sandbox's Teams field holds one value, so this limit is tested on the profile step."""
    mapping = FieldMapping({"email": ("root.email",), "teams": (TEAMS_FIELD, "work.department")})

    def employee(employee_id: str, teams: list[str]) -> HibobEmployee:
        values: dict[str, object] = {
            "root.email": f"{employee_id}@acme.example",
            TEAMS_FIELD: teams,
            "work.department": "Engineering",
        }
        return HibobEmployee(employee_id, "Employed", "Active", None, values)

    many = [f"Team {i}" for i in range(MAX_ITEMS)]  # with the department: one too many
    employees = [
        employee("e1", many),
        employee("e2", many[:-1]),  # exactly MAX_ITEMS with the department
        employee("e3", ["Platform", "T" * (MAX_TEXT + 1)]),
        employee("e4", ["Platform", "Platform ", "", "Web"]),
    ]
    result = build_profiles(employees, mapping)
    rejected = {r.employee_id: r for r in result.rejected}
    assert set(rejected) == {"e1", "e3"}
    assert rejected["e1"] == Failure(
        "e1", "e1@acme.example", f"teams has {MAX_ITEMS + 1} entries; at most 50 are allowed"
    )
    assert "longer than 255 characters" in rejected["e3"].reason
    profiles: dict[str, Profile] = {p.employee_id: p for p in result.profiles}
    assert len(profiles["e2"].values["teams"] or ()) == MAX_ITEMS
    assert profiles["e4"].values["teams"] == ("Engineering", "Platform", "Web")


def test_non_latin_text_round_trips_unchanged(sync_env: SyncEnv) -> None:
    company = sync_env.sandbox.company
    texts = {
        "work.title": "Ingénieure principale – 软件工程师 🚀",
        "work.department": "Отдел продаж",
        "work.site": "תל אביב",
        TEAMS_FIELD: "Zoe\u0308 & Łukasz — ﻿チーム",
    }
    employee_id = sorted(expected_users(sync_env))[2]
    company.update(employee_id, texts)
    newcomer = company.add(
        {"root.email": " Zoë.Łukasiewicz@ACME.example ", "work.title": "İstanbul Ofis Müdürü"}
    )
    assert sync_env.run().exit_code == 1
    users = sync_env.users_by_external_id()
    got = actual(users[employee_id], {})
    assert got["title"] == texts["work.title"]
    assert got["teams"] == sorted([texts["work.department"], texts[TEAMS_FIELD]])
    assert texts["work.site"] in got["groups"]
    assert users[newcomer]["userName"] == "zoë.łukasiewicz@acme.example"
    assert users[newcomer]["title"] == "İstanbul Ofis Müdürü"

    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0
    assert scim_writes(sync_env) == []  # nothing re-normalised, so nothing re-written


# -- managers ----------------------------------------------------------------------------------


@pytest.fixture
def clean_env(sync_env: SyncEnv) -> SyncEnv:
    """The sandbox without its planted bad records and leavers: a run of it exits 0."""
    company = sync_env.sandbox.company
    for employee_id in company.awkward["no_email"] + company.awkward["duplicate_email"][1:]:
        company.remove(employee_id)
    for employee_id in company.by_status("Terminated"):
        company.remove(employee_id)
    result = sync_env.run()
    assert result.exit_code == 0, result.output
    return sync_env


def manager_of(env: SyncEnv, employee_id: str) -> str | None:
    users = env.users()
    email_of = {u["id"]: u["userName"] for u in users}
    user = next(u for u in users if u.get("externalId") == employee_id)
    value = (user.get(ENTERPRISE, {}).get("manager") or {}).get("value")
    return email_of.get(value) if value else None


def test_own_manager_is_named_and_the_rest_synced(clean_env: SyncEnv) -> None:
    company = clean_env.sandbox.company
    ids = sorted(clean_env.users_by_external_id())
    me, old_manager = ids[4], manager_of(clean_env, ids[4])
    company.update(me, {"work.reportsTo": me})
    newcomer = company.add({"root.email": "narcissus@acme.example"})
    company.update(newcomer, {"work.reportsTo": newcomer})

    result = clean_env.run()
    assert result.exit_code == 0, result.output  # warnings never change the exit code
    assert "Traceback" not in result.output
    for employee_id, email in ((me, company.get(me)["root.email"]), (newcomer, "narcissus@")):
        line = next(line for line in result.stderr.splitlines() if employee_id in line)
        assert str(email) in line and "their own manager" in line
    assert manager_of(clean_env, me) == old_manager  # left as it was
    assert manager_of(clean_env, newcomer) is None
    assert newcomer in clean_env.users_by_external_id()


def test_manager_cycle_is_mirrored_and_converges(clean_env: SyncEnv) -> None:
    """A reports-to loop is odd HR data but representable: synced as HiBob says it."""
    company = clean_env.sandbox.company
    a = company.add({"root.email": "loop.a@acme.example"})
    b = company.add({"root.email": "loop.b@acme.example", "work.reportsTo": a})
    c = company.add({"root.email": "loop.c@acme.example", "work.reportsTo": b})
    company.update(a, {"work.reportsTo": c})
    existing = sorted(clean_env.users_by_external_id())[5:7]
    company.update(existing[0], {"work.reportsTo": existing[1]})
    company.update(existing[1], {"work.reportsTo": existing[0]})

    result = clean_env.run()
    assert result.exit_code == 0, result.output
    assert manager_of(clean_env, a) == "loop.c@acme.example"
    assert manager_of(clean_env, b) == "loop.a@acme.example"
    assert manager_of(clean_env, c) == "loop.b@acme.example"
    assert manager_of(clean_env, existing[0]) == company.get(existing[1])["root.email"]
    clean_env.scim.reset_counts()
    assert clean_env.run().exit_code == 0
    assert scim_writes(clean_env) == []


def test_manager_not_visible_is_named_and_the_rest_synced(
    clean_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = clean_env.sandbox.company
    ids = sorted(clean_env.users_by_external_id())
    boss = company.add({"root.email": "gone.boss@acme.example"})
    company.terminate(boss)  # left before hibob-sync ever ran: no SCIM user
    company.update(ids[1], {"work.reportsTo": boss})
    result = clean_env.run("--json")
    assert result.exit_code == 0, result.output  # a warning: named, exit unchanged
    warned = {w["employee_id"]: w for w in json.loads(result.stdout)["warnings"]}
    assert set(warned) == {ids[1]}
    assert "manager who has left" in warned[ids[1]]["reason"]

    # A service user limited to employed people cannot see a leaver at all.
    clean_env.sandbox.add_service_user("employed-only", "employed-token", people_scope="employed")
    monkeypatch.setenv("HIBOB_SERVICE_USER_ID", "employed-only")
    monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", "employed-token")
    result = clean_env.run()
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stderr.splitlines() if ids[1] in line)
    assert "neither a visible HiBob employee nor a SCIM user" in line
    assert str(company.get(ids[1])["root.email"]) in line
    users = clean_env.users_by_external_id()
    assert set(users) == set(expected_users(clean_env))
