"""The HiBob sandbox behaves like HiBob's documented API, rough edges included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import date
from typing import Any

import pytest
import requests

from hibob_sync.sandbox import (
    AWKWARD_CASES,
    CATEGORIES,
    FIELDS_PATH,
    GROUPS_FIELD,
    TEAMS_FIELD,
    HibobSandbox,
    generate_company,
)
from tests.hibob_fixtures import HIBOB_TOKEN, HIBOB_USER_ID, SANDBOX_TODAY, FakeClock
from tests.signal_helpers import interruptible_children

BASIC = ["root.id", "root.email"]


def post(
    sandbox: HibobSandbox, body: Any, auth: tuple[str, str] | None = None
) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/people/search",
        json=body,
        auth=auth or (HIBOB_USER_ID, HIBOB_TOKEN),
        timeout=10,
    )


def employees(sandbox: HibobSandbox, body: Any, **kw: Any) -> list[dict[str, Any]]:
    response = post(sandbox, body, **kw)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["employees"]
    return result


def reference(record: dict[str, object]) -> dict[str, Any]:
    """The work.reportsTo object of an employee record ({} for nobody)."""
    value = record["work.reportsTo"]
    return value if isinstance(value, dict) else {}


# -- the generated company ---------------------------------------------------------------------
def test_generator_is_deterministic_for_a_seed() -> None:
    first = generate_company(120, 3, today=SANDBOX_TODAY).snapshot()
    second = generate_company(120, 3, today=SANDBOX_TODAY).snapshot()
    other = generate_company(120, 4, today=SANDBOX_TODAY).snapshot()
    assert first.rows == second.rows
    assert first.rows != other.rows
    assert len({row.id for row in first.rows}) == 120
    assert all(row.id.isdigit() and len(row.id) == 19 for row in first.rows)


@pytest.mark.parametrize(("n", "seed"), [(12, 0), (40, 7), (300, 1)])
def test_generator_plants_every_awkward_case(n: int, seed: int) -> None:
    company = generate_company(n, seed, today=SANDBOX_TODAY)
    cases = company.awkward
    assert all(cases[case] for case in AWKWARD_CASES), cases
    (no_email,) = cases["no_email"]
    assert company.get(no_email)["root.email"] is None
    first, second = cases["duplicate_email"]
    assert company.get(first)["root.email"] == company.get(second)["root.email"]
    for i in cases["mixed_case_email"]:
        email = str(company.get(i)["root.email"])
        assert email != email.lower()
    for i in cases["padded_email"]:
        email = str(company.get(i)["root.email"])
        assert email != email.strip()
    for i in cases["missing_birth_date"]:
        assert company.get(i)["personal.birthDate"] is None
    for i in cases["non_latin_name"]:
        assert not str(company.get(i)["root.displayName"]).isascii()
    for i in cases["hired_future_start"]:
        record = company.get(i)
        assert record["internal.lifecycleStatus"] == "Hired"
        assert date.fromisoformat(str(record["work.startDate"])) > SANDBOX_TODAY
    (manager,) = cases["terminated_manager"]
    assert company.get(manager)["internal.lifecycleStatus"] == "Terminated"
    assert any(reference(company.get(i)).get("id") == manager for i in company.ids())


def test_generator_data_has_hibob_formats() -> None:
    company = generate_company(200, 2, today=SANDBOX_TODAY)
    statuses = {company.get(i)["internal.lifecycleStatus"] for i in company.ids()}
    assert {"Employed", "Terminated", "Hired"} <= statuses
    ceo = company.ids()[0]
    assert company.get(ceo)["work.reportsTo"] is None
    someone = company.get(company.ids()[5])
    assert someone["work.title"] in company.list_items("work.title")  # an item ID, not a name
    assert isinstance(someone["work.employeeIdInCompany"], int)
    assert date.fromisoformat(str(someone["work.startDate"]))
    for i in company.by_status("Terminated"):
        record = company.get(i)
        assert record["internal.status"] == "Inactive"
        assert date.fromisoformat(str(record["internal.terminationDate"])) < SANDBOX_TODAY


def test_company_mutators() -> None:
    company = generate_company(20, 1, today=SANDBOX_TODAY)
    ids = company.ids()
    manager, report = ids[0], ids[1]
    company.update(report, {"work.reportsTo": manager, "work.title": "Chief Cat Herder"})
    assert company.display(report, "work.title") == "Chief Cat Herder"
    company.update(manager, {"root.email": "boss@acme.example"})
    assert reference(company.get(report))["email"] == "boss@acme.example"
    company.terminate(report, "2025-01-31")
    assert company.get(report)["internal.status"] == "Inactive"
    company.rehire(report, "2025-06-01")
    record = company.get(report)
    assert (record["internal.lifecycleStatus"], record["internal.terminationDate"]) == (
        "Employed",
        None,
    )
    new = company.add({"root.email": "new@acme.example", "work.title": "Software Engineer"})
    assert company.find_by_email(" NEW@acme.example") == [new]
    company.remove(manager)
    assert manager not in company
    assert company.get(report)["work.reportsTo"] is None
    with pytest.raises(KeyError):
        company.update(report, {"work.nope": 1})


# -- catalogue and auth ------------------------------------------------------------------------
def test_catalogue_has_hibob_shape(hibob_sandbox: HibobSandbox) -> None:
    response = requests.get(
        f"{hibob_sandbox.url}/company/people/fields", auth=(HIBOB_USER_ID, HIBOB_TOKEN), timeout=10
    )
    assert response.status_code == 200
    entries = {entry["id"]: entry for entry in response.json()}
    keys = "id name categoryId categoryDisplayName jsonPath type typeData historical"
    assert set(entries["work.title"]) == set(keys.split())
    assert entries["work.title"]["type"] == "list"
    assert entries["personal.birthDate"]["categoryDisplayName"] == "Personal"
    assert (
        entries[TEAMS_FIELD]["categoryDisplayName"] == entries[GROUPS_FIELD]["categoryDisplayName"]
    )
    assert entries[TEAMS_FIELD]["categoryId"] not in ("work",)
    # A field whose category is not the prefix of its ID.
    assert entries["work.employeeIdInCompany"]["categoryId"] == "identification"
    assert entries["root.email"]["jsonPath"] == "email"
    assert {"Basic info", "Work", "Personal", "Lifecycle"} <= set(CATEGORIES.values())


def test_wrong_or_missing_credentials_get_401(hibob_sandbox: HibobSandbox) -> None:
    assert post(hibob_sandbox, {"fields": BASIC}, auth=(HIBOB_USER_ID, "wrong")).status_code == 401
    assert post(hibob_sandbox, {"fields": BASIC}, auth=("nobody", HIBOB_TOKEN)).status_code == 401
    bare = requests.post(f"{hibob_sandbox.url}/people/search", json={}, timeout=10)
    assert bare.status_code == 401
    assert set(bare.json()) == {"key", "error"}
    assert hibob_sandbox.request_count("search") == 3


def test_user_in_no_permission_group_gets_403_but_reads_the_catalogue(
    hibob_sandbox: HibobSandbox,
) -> None:
    hibob_sandbox.add_service_user("lonely", "tok", categories=None)
    assert post(hibob_sandbox, {"fields": BASIC}, auth=("lonely", "tok")).status_code == 403
    fields = requests.get(
        f"{hibob_sandbox.url}/company/people/fields", auth=("lonely", "tok"), timeout=10
    )
    assert fields.status_code == 200


# -- search ------------------------------------------------------------------------------------
def test_unreadable_and_unknown_fields_are_silently_omitted(hibob_sandbox: HibobSandbox) -> None:
    hibob_sandbox.add_service_user("partial", "tok", categories={"Basic info", "Work"})
    body = {"fields": [*BASIC, "personal.birthDate", "work.title", "no.such.field", TEAMS_FIELD]}
    people = employees(hibob_sandbox, body, auth=("partial", "tok"))
    assert people
    for person in people:
        assert set(person) == {"id", "email", "work", "/root/id", "/root/email", "/work/title"}
        assert set(person["work"]) == {"title"}


def test_bad_bodies_get_400(hibob_sandbox: HibobSandbox) -> None:
    too_many = {"fields": [f"work.custom.field_{i}" for i in range(401)]}
    assert post(hibob_sandbox, too_many).status_code == 400
    malformed = requests.post(
        f"{hibob_sandbox.url}/people/search",
        data=b"{not json",
        auth=(HIBOB_USER_ID, HIBOB_TOKEN),
        timeout=10,
    )
    assert malformed.status_code == 400
    assert malformed.json()["key"] == "badRequest"
    assert post(hibob_sandbox, {"fields": "root.id"}).status_code == 400
    assert post(hibob_sandbox, {"fields": BASIC, "humanReadable": "YES"}).status_code == 400
    two = [{"fieldPath": "root.id", "operator": "equals", "values": ["1"]}] * 2
    assert post(hibob_sandbox, {"fields": BASIC, "filters": two}).status_code == 400
    wrong_field = [{"fieldPath": "work.title", "operator": "equals", "values": ["1"]}]
    assert post(hibob_sandbox, {"fields": BASIC, "filters": wrong_field}).status_code == 400
    # hibob-api.md: `filters: []` can be refused with 400.
    assert post(hibob_sandbox, {"fields": BASIC, "filters": []}).status_code == 400
    assert post(hibob_sandbox, {"fields": [f"x.{i}" for i in range(400)]}).status_code == 200


def test_inactive_employees_need_show_inactive_and_an_unrestricted_scope(
    hibob_sandbox: HibobSandbox,
) -> None:
    company = hibob_sandbox.company
    terminated = set(company.by_status("Terminated"))
    assert terminated
    fields = {"fields": [*BASIC, "internal.status"]}
    default = {p["id"] for p in employees(hibob_sandbox, fields)}
    shown = {p["id"] for p in employees(hibob_sandbox, {**fields, "showInactive": True})}
    assert not default & terminated
    assert terminated <= shown and len(shown) == len(company)
    # hibob-api.md: the condition "lifecycle status is Employed" filters on the lifecycle
    # status, so it hides Hired, on-leave and garden-leave people whatever their access.
    hibob_sandbox.add_service_user("employed-only", "tok", people_scope="employed")
    limited = employees(
        hibob_sandbox, {**fields, "showInactive": True}, auth=("employed-only", "tok")
    )
    employed = set(company.by_status("Employed"))
    assert {p["id"] for p in limited} == employed
    on_leave = {*company.by_status("Leave"), *company.by_status("Garden leave")}
    assert on_leave and on_leave <= default and not on_leave & employed


def test_human_readable_modes_and_locale_dates(hibob_sandbox: HibobSandbox) -> None:
    company = hibob_sandbox.company
    someone = company.ids()[3]
    record = company.get(someone)
    title = company.display(someone, "work.title")
    filters = [{"fieldPath": "root.id", "operator": "equals", "values": [someone]}]
    body = {"fields": ["root.id", "work.title", "work.startDate"], "filters": filters}
    (plain,) = employees(hibob_sandbox, body)
    assert plain["work"] == {"title": record["work.title"], "startDate": record["work.startDate"]}
    assert "humanReadable" not in plain
    (append,) = employees(hibob_sandbox, {**body, "humanReadable": "APPEND"})
    assert append["work"] == plain["work"]
    y, m, d = str(record["work.startDate"]).split("-")
    assert append["humanReadable"]["work"] == {"title": title, "startDate": f"{d}/{m}/{y}"}
    (replace,) = employees(hibob_sandbox, {**body, "humanReadable": "REPLACE"})
    assert replace["work"] == {"title": title, "startDate": f"{d}/{m}/{y}"}
    hibob_sandbox.display_date_format = "%m/%d/%Y"
    (us,) = employees(hibob_sandbox, {**body, "humanReadable": "REPLACE"})
    assert us["work"]["startDate"] == f"{m}/{d}/{y}"


def test_answer_shapes_hybrid_nested_and_slash(hibob_sandbox: HibobSandbox) -> None:
    # Source: HiBob's "How to work with lists" guide (apidocs.hibob.com/docs/
    # how-to-work-with-lists-public-api): one employee holds slash entries with only "value",
    # the same values nested, and one employee-level "humanReadable" object nested by path.
    company = hibob_sandbox.company
    someone = company.ids()[2]
    record = company.get(someone)
    title = company.display(someone, "work.title")
    filters = [{"fieldPath": "root.id", "operator": "equals", "values": [someone]}]
    body = {"fields": ["root.id", "work.title"], "filters": filters, "humanReadable": "APPEND"}
    readable = {"id": someone, "work": {"title": title}}
    (hybrid,) = employees(hibob_sandbox, body)
    assert hybrid == {
        "/root/id": {"value": someone},
        "/work/title": {"value": record["work.title"]},
        "id": someone,
        "work": {"title": record["work.title"]},
        "humanReadable": readable,
    }
    hibob_sandbox.answer_shape = "slash"
    (slash,) = employees(hibob_sandbox, body)
    assert slash == {
        "/root/id": {"value": someone},
        "/work/title": {"value": record["work.title"]},
        "humanReadable": readable,
    }
    (plain,) = employees(hibob_sandbox, {**body, "humanReadable": None})
    assert plain["/work/title"] == {"value": record["work.title"]}
    hibob_sandbox.answer_shape = "nested"
    (nested,) = employees(hibob_sandbox, body)
    assert nested == {
        "id": someone,
        "work": {"title": record["work.title"]},
        "humanReadable": readable,
    }


def test_null_values_have_no_display_value(hibob_sandbox: HibobSandbox) -> None:
    # Source: HiBob's "Fields and lists metadata" guide: human-readable values are returned
    # only for fields with an actual value (not null).
    company = hibob_sandbox.company
    (nobody,) = company.awkward["missing_birth_date"][:1]
    filters = [{"fieldPath": "root.id", "operator": "equals", "values": [nobody]}]
    body = {"fields": ["root.id", "personal.birthDate"], "filters": filters, "showInactive": True}
    (person,) = employees(hibob_sandbox, {**body, "humanReadable": "APPEND"})
    assert person["personal"] == {"birthDate": None}
    assert person["/personal/birthDate"] == {"value": None}
    assert person["humanReadable"] == {"id": nobody, "personal": {}}


def test_sub_paths_of_references_are_answered_or_omitted(hibob_sandbox: HibobSandbox) -> None:
    company = hibob_sandbox.company
    report = company.ids()[4]
    manager = company.get(report)["work.reportsTo"]
    assert isinstance(manager, dict)
    filters = [{"fieldPath": "root.id", "operator": "equals", "values": [report]}]
    body = {"fields": ["root.id", "work.reportsTo.email"], "filters": filters}
    (person,) = employees(hibob_sandbox, body)
    assert person["work"] == {"reportsTo": {"email": manager["email"]}}
    hibob_sandbox.subpaths = "omit"
    (person,) = employees(hibob_sandbox, body)
    assert "work" not in person


def test_filters_by_id_and_email(hibob_sandbox: HibobSandbox) -> None:
    company = hibob_sandbox.company
    (padded,) = company.awkward["padded_email"][:1]
    email = str(company.get(padded)["root.email"]).strip().upper()
    filters = [{"fieldPath": "root.email", "operator": "equals", "values": [email]}]
    assert [p["id"] for p in employees(hibob_sandbox, {"fields": BASIC, "filters": filters})] == [
        padded
    ]
    duplicate = str(company.get(company.awkward["duplicate_email"][0])["root.email"])
    filters = [{"fieldPath": "root.email", "operator": "equals", "values": [duplicate]}]
    assert len(employees(hibob_sandbox, {"fields": BASIC, "filters": filters})) == 2


def test_rate_limit_per_service_user(hibob_sandbox: HibobSandbox, hibob_clock: FakeClock) -> None:
    hibob_sandbox.rate_limit = 2
    assert post(hibob_sandbox, {"fields": BASIC}).headers["X-RateLimit-Remaining"] == "1"
    assert post(hibob_sandbox, {"fields": BASIC}).status_code == 200
    hibob_clock.advance(20)
    limited = post(hibob_sandbox, {"fields": BASIC})
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == "2"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset"]) == int(hibob_clock.now) + 40
    assert "Retry-After" not in limited.headers
    hibob_sandbox.add_service_user("other", "tok")
    assert post(hibob_sandbox, {"fields": BASIC}, auth=("other", "tok")).status_code == 200
    hibob_sandbox.retry_after_header = True
    assert post(hibob_sandbox, {"fields": BASIC}).headers["Retry-After"] == "40"
    hibob_clock.advance(40)
    assert post(hibob_sandbox, {"fields": BASIC}).status_code == 200


# -- faults and records ------------------------------------------------------------------------
def test_fault_injection(hibob_sandbox: HibobSandbox) -> None:
    hibob_sandbox.fail_next(2, status=502)
    assert [post(hibob_sandbox, {"fields": BASIC}).status_code for _ in range(3)] == [502, 502, 200]
    hibob_sandbox.drop_next_connection()
    with pytest.raises(requests.ConnectionError):
        post(hibob_sandbox, {"fields": BASIC})
    hibob_sandbox.drop_next_connection(mid_answer=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        post(hibob_sandbox, {"fields": BASIC}).json()
    hibob_sandbox.truncate_next()
    truncated = post(hibob_sandbox, {"fields": BASIC})
    assert truncated.status_code == 200
    with pytest.raises(ValueError):
        truncated.json()
    hibob_sandbox.delay_next(0.5)
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{hibob_sandbox.url}/people/search", json={}, timeout=(5, 0.05))
    hibob_sandbox.answer_next(200, {"surprise": True}, path=FIELDS_PATH)
    assert post(hibob_sandbox, {"fields": BASIC}).status_code == 200  # not for this path
    fields = requests.get(f"{hibob_sandbox.url}/company/people/fields", timeout=10)
    assert fields.json() == {"surprise": True}
    assert hibob_sandbox.requests_by_endpoint == {"search": 8, "fields": 1}


def test_records_search_bodies(hibob_sandbox: HibobSandbox) -> None:
    post(hibob_sandbox, {"fields": ["root.id"], "showInactive": True})
    requests.post(f"{hibob_sandbox.url}/people/search", data=b"oops", timeout=10)
    assert hibob_sandbox.search_bodies == [{"fields": ["root.id"], "showInactive": True}, "oops"]
    hibob_sandbox.reset_records()
    assert hibob_sandbox.request_count() == 0


def test_unknown_paths_and_methods(hibob_sandbox: HibobSandbox) -> None:
    auth = (HIBOB_USER_ID, HIBOB_TOKEN)
    assert requests.get(f"{hibob_sandbox.url}/people", auth=auth, timeout=10).status_code == 404
    assert (
        requests.get(f"{hibob_sandbox.url}/people/search", auth=auth, timeout=10).status_code == 405
    )
    assert hibob_sandbox.request_count("other") == 2


def test_stop_closes_the_socket() -> None:
    sandbox = HibobSandbox(employees=3, user_id="u", token="t").start()
    url = sandbox.url
    assert requests.get(f"{url}/company/people/fields", auth=("u", "t"), timeout=5).ok
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/company/people/fields", auth=("u", "t"), timeout=5)


def test_5000_employee_search() -> None:
    company = generate_company(5000, 11, today=SANDBOX_TODAY)
    with HibobSandbox(company, user_id="u", token="t") as sandbox:
        body = {
            "fields": ["root.id", "work.title", "work.reportsTo"],
            "showInactive": True,
            "humanReadable": "APPEND",
        }
        people = employees(sandbox, body, auth=("u", "t"))
    assert len(people) == 5000
    assert all(p["humanReadable"]["work"]["title"] for p in people)


def test_command_line_serves_until_interrupted() -> None:
    env = {**os.environ, "HIBOB_SANDBOX_TOKEN": "cli-token"}
    with interruptible_children():  # the SIGINT below must reach it in a background run too
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hibob_sync.sandbox",
                "--port",
                "0",
                "--employees",
                "15",
                "--seed",
                "1",
                "--user-id",
                "X",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        answer = requests.post(
            f"{url}/people/search", json={"fields": BASIC}, auth=("X", "cli-token"), timeout=10
        )
        assert answer.status_code == 200
        assert json.loads(answer.text)["employees"]
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_statuses_follow_hibobs_access_table() -> None:
    # Source: hibob-api.md, access status per lifecycle status (HiBob's help centre): Hired is
    # Inactive until the start date, Employed and Garden leave Active, Terminated Inactive,
    # leave types Active or Inactive as the company's leave settings say.
    for leave_status in ("Active", "Inactive"):
        company = generate_company(200, 5, today=SANDBOX_TODAY, leave_status=leave_status)
        status = {i: company.get(i)["internal.status"] for i in company.ids()}
        want = {
            "Hired": "Inactive",
            "Employed": "Active",
            "Garden leave": "Active",
            "Terminated": "Inactive",
            "Leave": leave_status,
            "Parental leave": leave_status,
        }
        for lifecycle, expected in want.items():
            people = company.by_status(lifecycle)
            assert people, lifecycle
            assert {status[i] for i in people} == {expected}, lifecycle
    hire = company.hire(start_in_days=3)
    assert company.get(hire)["internal.status"] == "Inactive"
    company.start(hire)
    assert company.get(hire)["internal.lifecycleStatus"] == "Employed"
    assert company.get(hire)["internal.status"] == "Active"
