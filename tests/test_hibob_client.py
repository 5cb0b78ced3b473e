"""The HiBob client against the sandbox over real loopback HTTP: no mocks, no real waits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import pytest

from hibob_sync.errors import (
    CredentialsError,
    PermissionMissingError,
    RemoteError,
    ServiceUnavailableError,
)
from hibob_sync.hibob.client import (
    REQUIRED_FIELDS,
    CatalogueField,
    HibobClient,
    MissingField,
    missing_fields,
    request_fields,
    unknown_sources,
)
from hibob_sync.http import HttpSettings
from hibob_sync.sandbox import (
    FIELDS_PATH,
    GROUPS_FIELD,
    TEAMS_FIELD,
    HibobSandbox,
    generate_company,
)
from tests.hibob_fixtures import HIBOB_TOKEN, HIBOB_USER_ID, SANDBOX_TODAY, FakeClock

MakeClient = Callable[..., HibobClient]
MAPPING_SOURCES = [
    "root.email",
    "work.employeeIdInCompany",
    "work.title",
    "work.startDate",
    "personal.birthDate",
    "work.department",
    "work.site",
    TEAMS_FIELD,
    GROUPS_FIELD,
    "work.reportsTo.email",
]


def by_id(client: HibobClient) -> dict[str, dict[str, object]]:
    result = client.search(MAPPING_SOURCES, catalogue=client.fields())
    return {e.id: e.values for e in result.employees}


def manager_id(record: dict[str, object]) -> object:
    reference = record["work.reportsTo"]
    return reference.get("id") if isinstance(reference, dict) else None


# -- catalogue ---------------------------------------------------------------------------------
def test_fields_reads_the_catalogue(hibob_client: HibobClient) -> None:
    catalogue = {f.id: f for f in hibob_client.fields()}
    assert catalogue["personal.birthDate"] == CatalogueField(
        "personal.birthDate", "Date of birth", "personal", "Personal", "date", "personal.birthDate"
    )
    assert catalogue[TEAMS_FIELD].category_name == "Engagement"
    assert catalogue["work.employeeIdInCompany"].category_name == "Identification"
    assert catalogue["root.email"].json_path == "email"


def test_older_catalogue_with_only_category(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient
) -> None:
    # Source: hibob-api.md (older tenants and HiBob's older OpenAPI carry only `category`,
    # without categoryId/categoryDisplayName): fall back to it.
    old = [{"id": "work.title", "name": "Job title", "category": "work", "type": "list"}]
    hibob_sandbox.answer_next(200, old, path=FIELDS_PATH)
    (field,) = hibob_client.fields()
    assert (field.category_id, field.category_name) == ("work", "work")


# -- errors ------------------------------------------------------------------------------------
def test_rejected_credentials_make_exactly_one_request(
    hibob_sandbox: HibobSandbox, make_hibob_client: MakeClient, hibob_clock: FakeClock
) -> None:
    client = make_hibob_client(token="not-the-token")
    with pytest.raises(CredentialsError) as caught:
        client.search(["root.email"])
    assert "rejected the service user ID or token" in str(caught.value)
    assert "hibob-sync connect" in str(caught.value)
    assert "not-the-token" not in str(caught.value)
    assert hibob_sandbox.request_count("search") == 1
    with pytest.raises(CredentialsError):
        client.fields()
    assert hibob_sandbox.request_count() == 2
    assert hibob_clock.sleeps == []
    assert "not-the-token" not in repr(client) and HIBOB_USER_ID not in repr(client)


def test_user_in_no_permission_group_gets_permission_error(
    hibob_sandbox: HibobSandbox, make_hibob_client: MakeClient
) -> None:
    hibob_sandbox.add_service_user("lonely", "tok", categories=None)
    client = make_hibob_client("lonely", "tok")
    assert client.fields()  # the catalogue needs no permission
    with pytest.raises(PermissionMissingError) as caught:
        client.search(["root.email"])
    assert caught.value.exit_code == 77
    assert "permission group" in str(caught.value)
    assert hibob_sandbox.request_count("search") == 1


def test_rate_limit_waits_as_the_headers_say(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, hibob_clock: FakeClock
) -> None:
    hibob_sandbox.rate_limit = 1
    hibob_client.search(["root.email"])
    hibob_clock.advance(15)
    result = hibob_client.search(["root.email"])  # 429, wait until X-RateLimit-Reset, then 200
    assert result.employees
    assert hibob_clock.sleeps == [45.0]
    assert hibob_sandbox.request_count("search") == 3
    hibob_sandbox.retry_after_header = True
    hibob_clock.advance(5)  # the retry opened a new window 5s ago
    hibob_client.search(["root.email"])
    assert hibob_clock.sleeps == [45.0, 55.0]


def test_retry_after_is_honoured(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, hibob_clock: FakeClock
) -> None:
    hibob_sandbox.fail_next(1, status=429, headers={"Retry-After": "7"})
    hibob_client.search(["root.email"])
    assert hibob_clock.sleeps == [7.0]


def test_503_twice_then_success(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, hibob_clock: FakeClock
) -> None:
    hibob_sandbox.fail_next(2, status=503)
    result = hibob_client.search(["root.email"])
    assert len(result.employees) > 0
    assert hibob_sandbox.request_count("search") == 3
    assert len(hibob_clock.sleeps) == 2


def test_retries_give_up_within_the_bound(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, hibob_clock: FakeClock
) -> None:
    hibob_sandbox.fail_next(10, status=503)
    with pytest.raises(ServiceUnavailableError) as caught:
        hibob_client.search(["root.email"])
    assert "HiBob" in str(caught.value) and "4 attempts" in str(caught.value)
    assert hibob_sandbox.request_count("search") == 4
    assert len(hibob_clock.sleeps) == 3


@pytest.mark.parametrize("fault", ["drop_before", "drop_mid", "truncate"])
def test_broken_answers_are_retried(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, hibob_clock: FakeClock, fault: str
) -> None:
    if fault == "truncate":
        hibob_sandbox.truncate_next()
    else:
        hibob_sandbox.drop_next_connection(mid_answer=fault == "drop_mid")
    result = hibob_client.search(MAPPING_SOURCES)
    assert len(result.employees) > 0
    assert hibob_sandbox.request_count("search") == 2
    assert len(hibob_clock.sleeps) == 1


@pytest.mark.parametrize(
    "body",
    [{"people": []}, [1, 2], {"employees": "none"}, {"employees": [1]}],
    ids=["no-employees", "list", "not-a-list", "not-objects"],
)
def test_a_200_of_the_wrong_shape_is_a_clear_error(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, body: object
) -> None:
    hibob_sandbox.answer_next(200, body)
    with pytest.raises(RemoteError) as caught:
        hibob_client.search(["root.email"])
    assert "unexpected shape" in str(caught.value)


def test_a_catalogue_of_the_wrong_shape_is_a_clear_error(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient
) -> None:
    hibob_sandbox.answer_next(200, {"unexpected": True}, path=FIELDS_PATH)
    with pytest.raises(RemoteError, match="field catalogue"):
        hibob_client.fields()


def test_bad_request_and_not_found_name_status_and_hibob_text(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, hibob_http: HttpSettings
) -> None:
    with pytest.raises(RemoteError) as caught:
        hibob_client.search([f"work.custom.field_{i}" for i in range(400)])
    assert caught.value.status == 400
    assert "HTTP 400" in str(caught.value) and "at most 400" in str(caught.value)
    assert hibob_sandbox.request_count("search") == 1
    wrong_base = HibobClient(hibob_sandbox.url + "/nope", HIBOB_USER_ID, HIBOB_TOKEN, hibob_http)
    with pytest.raises(RemoteError) as caught:
        wrong_base.fields()
    assert caught.value.status == 404 and "base_url" in str(caught.value)
    wrong_base.close()


# -- the request on the wire -------------------------------------------------------------------
def test_request_body_carries_only_the_allowed_fields(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient
) -> None:
    catalogue = hibob_client.fields()
    result = hibob_client.search(
        [*MAPPING_SOURCES, "root.email", "internal.status"], catalogue=catalogue
    )
    (body,) = hibob_sandbox.search_bodies
    expected = [
        *REQUIRED_FIELDS,
        "root.email",
        "work.employeeIdInCompany",
        "work.title",
        "work.startDate",
        "personal.birthDate",
        "work.department",
        "work.site",
        TEAMS_FIELD,
        GROUPS_FIELD,
        "work.reportsTo",
    ]
    assert body == {"fields": expected, "showInactive": True, "humanReadable": "APPEND"}
    assert result.requested == tuple(expected)
    assert request_fields(MAPPING_SOURCES, catalogue) == tuple(expected)
    assert request_fields(["work.reportsTo.email"]) == (*REQUIRED_FIELDS, "work.reportsTo.email")


def test_filters_by_email_or_id(hibob_sandbox: HibobSandbox, hibob_client: HibobClient) -> None:
    company = hibob_sandbox.company
    target = company.awkward["mixed_case_email"][0]
    email = str(company.get(target)["root.email"])
    result = hibob_client.search(["root.email"], email=email.lower())
    assert [e.id for e in result.employees] == [target]
    assert result.employees[0].values["root.email"] == email  # as HiBob holds it
    assert hibob_sandbox.search_bodies[-1]["filters"] == [
        {"fieldPath": "root.email", "operator": "equals", "values": [email.lower()]}
    ]
    assert [e.id for e in hibob_client.search([], employee_id=target).employees] == [target]
    with pytest.raises(ValueError):
        hibob_client.search([], email=email, employee_id=target)


# -- reading the answer ------------------------------------------------------------------------
def test_values_lists_by_name_dates_by_machine_value(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient
) -> None:
    hibob_sandbox.display_date_format = "%m/%d/%Y"  # a US locale: 04/05/2020 is April 5th
    company = hibob_sandbox.company
    values = by_id(hibob_client)
    someone = company.ids()[1]
    record = company.get(someone)
    got = values[someone]
    assert got["work.title"] == company.display(someone, "work.title")
    assert got["work.department"] == company.display(someone, "work.department")
    assert got["work.startDate"] == record["work.startDate"]
    assert got["personal.birthDate"] == record["personal.birthDate"]
    assert got["work.employeeIdInCompany"] == str(record["work.employeeIdInCompany"])
    assert got["root.email"] == record["root.email"]
    for source in ("work.startDate", "personal.birthDate"):
        assert all(v[source] is None or date.fromisoformat(str(v[source])) for v in values.values())


def test_lifecycle_and_awkward_values(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient
) -> None:
    company = hibob_sandbox.company
    result = hibob_client.search(MAPPING_SOURCES, catalogue=hibob_client.fields())
    employees = {e.id: e for e in result.employees}
    assert len(employees) == len(company)
    leaver = employees[company.by_status("Terminated")[0]]
    assert (leaver.lifecycle_status, leaver.status) == ("Terminated", "Inactive")
    assert leaver.termination_date and date.fromisoformat(leaver.termination_date)
    no_email = employees[company.awkward["no_email"][0]]
    assert "root.email" in no_email.values and no_email.values["root.email"] is None
    no_birth = employees[company.awkward["missing_birth_date"][0]]
    assert no_birth.values["personal.birthDate"] is None
    ceo = employees[company.ids()[0]]
    assert ceo.values["work.reportsTo.email"] is None  # null manager: present, not missing
    assert result.present == frozenset(MAPPING_SOURCES)
    assert missing_fields(result, MAPPING_SOURCES, hibob_client.fields()) == []


def test_show_inactive_and_people_scope(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, make_hibob_client: MakeClient
) -> None:
    terminated = set(hibob_sandbox.company.by_status("Terminated"))
    assert terminated
    everyone = {e.id for e in hibob_client.search(["root.email"]).employees}
    active = {e.id for e in hibob_client.search(["root.email"], show_inactive=False).employees}
    assert terminated <= everyone and not terminated & active
    assert hibob_sandbox.search_bodies[-1]["showInactive"] is False
    # hibob-api.md: a scope condition "lifecycle status is Employed" hides Hired and
    # on-leave people too, although HiBob has some of them Active.
    hibob_sandbox.add_service_user("employed-only", "tok", people_scope="employed")
    limited = make_hibob_client("employed-only", "tok").search(["root.email"])
    assert {e.id for e in limited.employees} == set(hibob_sandbox.company.by_status("Employed"))


def test_sub_path_of_reports_to(hibob_sandbox: HibobSandbox, make_hibob_client: MakeClient) -> None:
    company = hibob_sandbox.company
    client = make_hibob_client()
    catalogue = client.fields()
    (gone,) = company.awkward["terminated_manager"]
    report = next(i for i in company.ids() if manager_id(company.get(i)) == gone)
    manager_email = company.get(gone)["root.email"]
    with_catalogue = client.search(["work.reportsTo.email"], catalogue=catalogue)
    assert {e.id: e.values for e in with_catalogue.employees}[report] == {
        "work.reportsTo.email": manager_email
    }
    without = client.search(["work.reportsTo.email"])  # asked as given; the sandbox answers it
    assert {e.id: e.values for e in without.employees}[report] == {
        "work.reportsTo.email": manager_email
    }
    hibob_sandbox.subpaths = "omit"
    omitted = client.search(["work.reportsTo.email"])
    assert "work.reportsTo.email" not in omitted.present
    assert missing_fields(omitted, ["work.reportsTo.email"], catalogue) == [
        MissingField("work.reportsTo.email", "Work")
    ]
    whole = client.search(["work.reportsTo"], catalogue=catalogue)
    value = {e.id: e.values for e in whole.employees}[report]["work.reportsTo"]
    assert isinstance(value, dict) and value["email"] == manager_email


@pytest.mark.parametrize("root_at_top", [True, False])
def test_hybrid_nested_and_slash_answers_parse_the_same(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, root_at_top: bool
) -> None:
    # Source: HiBob's people search reference (slash keys, nested objects, or both) and its
    # "How to work with lists" guide (both at once, one employee-level humanReadable).
    hibob_sandbox.root_at_top = root_at_top
    catalogue = hibob_client.fields()
    company = hibob_sandbox.company
    results = {}
    for shape in ("hybrid", "nested", "slash"):
        hibob_sandbox.answer_shape = shape
        results[shape] = hibob_client.search(MAPPING_SOURCES, catalogue=catalogue)
        # Display values, never list item IDs, whatever the shape.
        for employee in results[shape].employees:
            for source in ("work.title", "work.department", TEAMS_FIELD, GROUPS_FIELD):
                want = company.display(employee.id, source)
                assert employee.values[source] == want, (shape, source)
    assert results["hybrid"] == results["nested"] == results["slash"]
    assert len(results["hybrid"].employees) == len(company)
    no_catalogue = hibob_client.search(MAPPING_SOURCES)
    assert no_catalogue.employees == results["slash"].employees


# Source: HiBob's "How to work with lists" guide, apidocs.hibob.com/docs/
# how-to-work-with-lists-public-api (the APPEND example answer, one employee, verbatim shape).
LISTS_GUIDE_ANSWER = {
    "employees": [
        {
            "/root/creationDate": {"value": "2019-09-08"},
            "fullName": "Alan Tullins",
            "creationDate": "2019-09-08",
            "work": {"department": "209192163"},
            "/root/fullName": {"value": "Alan Tullins"},
            "/work/department": {"value": "209192163"},
            "humanReadable": {
                "fullName": "Alan Tullins",
                "creationDate": "08/09/2019",
                "work": {"department": "Account Receivables"},
            },
            "id": "2128438031986721630",
        }
    ]
}


@pytest.mark.parametrize("keep", ["both", "slash", "nested"])
def test_the_lists_guide_example_reads_names_and_iso_dates(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, keep: str
) -> None:
    (employee,) = LISTS_GUIDE_ANSWER["employees"]
    if keep == "slash":  # the reference's slash-only reading, same humanReadable
        employee = {
            k: v for k, v in employee.items() if k[0] == "/" or k in ("id", "humanReadable")
        }
    elif keep == "nested":
        employee = {k: v for k, v in employee.items() if k[0] != "/"}
    hibob_sandbox.answer_next(200, {"employees": [employee]}, path="/v1/people/search")
    sources = ["root.fullName", "root.creationDate", "work.department"]
    (got,) = hibob_client.search(sources).employees
    assert got.id == "2128438031986721630"
    assert got.values == {
        "root.fullName": "Alan Tullins",
        "root.creationDate": "2019-09-08",  # the machine date, not the locale's 08/09/2019
        "work.department": "Account Receivables",  # the name, not the list item ID
    }


def test_list_values_without_a_display_value_are_named_in_a_warning(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Source: HiBob's "How to work with lists" guide: list fields' machine values are list
    # item IDs; names come only in the employee-level humanReadable object.
    catalogue = hibob_client.fields()
    answer = {"employees": [{"id": "1", "work": {"title": "255490048"}, "humanReadable": {}}]}
    hibob_sandbox.answer_next(200, answer, path="/v1/people/search")
    with caplog.at_level(logging.WARNING, logger="hibob_sync.hibob.client"):
        (got,) = hibob_client.search(["work.title"], catalogue=catalogue).employees
    assert got.values == {"work.title": "255490048"}
    assert [r.getMessage() for r in caplog.records] == [
        "HiBob sent no display value for 1 values of the list field work.title; "
        "their list item IDs are used instead"
    ]


def test_no_filter_means_no_filters_key(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient
) -> None:
    # hibob-api.md: `filters: []` can be refused with 400; leave `filters` out instead.
    hibob_client.search(["root.email"])
    assert "filters" not in hibob_sandbox.search_bodies[-1]


def test_omitted_fields_are_reported_with_the_category_to_grant(
    hibob_sandbox: HibobSandbox, make_hibob_client: MakeClient
) -> None:
    hibob_sandbox.add_service_user("partial", "tok", categories={"Basic info", "Work", "Lifecycle"})
    client = make_hibob_client("partial", "tok")
    catalogue = client.fields()
    sources = [*MAPPING_SOURCES, "work.nonexistent"]
    result = client.search(sources, catalogue=catalogue)
    assert result.employees
    assert "personal.birthDate" not in result.employees[0].values
    assert missing_fields(result, sources, catalogue) == [
        MissingField("work.employeeIdInCompany", "Identification"),
        MissingField("personal.birthDate", "Personal"),
        MissingField(TEAMS_FIELD, "Engagement"),
        MissingField(GROUPS_FIELD, "Engagement"),
        MissingField("work.nonexistent", None),
    ]
    assert unknown_sources(sources, catalogue) == ["work.nonexistent"]
    assert "work.nonexistent" in result.requested  # asked for; HiBob dropped it silently


def test_employees_without_an_id_are_skipped_with_a_count(
    hibob_sandbox: HibobSandbox, make_hibob_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    hibob_sandbox.add_service_user("no-basic", "tok", categories={"Work", "Lifecycle"})
    with caplog.at_level(logging.WARNING, logger="hibob_sync.hibob.client"):
        result = make_hibob_client("no-basic", "tok").search(["work.title"])
    assert result.employees == []
    assert [r.getMessage() for r in caplog.records] == [
        f"HiBob returned {len(hibob_sandbox.company)} employees without an ID; they were skipped"
    ]


def test_no_values_or_secrets_in_logs(
    hibob_sandbox: HibobSandbox, hibob_client: HibobClient, caplog: pytest.LogCaptureFixture
) -> None:
    hibob_sandbox.fail_next(1)
    with caplog.at_level(logging.DEBUG):
        result = hibob_client.search(MAPPING_SOURCES, catalogue=hibob_client.fields())
    text = caplog.text
    assert HIBOB_TOKEN not in text
    for employee in result.employees:
        email = employee.values.get("root.email")
        assert not email or str(email).strip() not in text


def test_search_of_5000_employees(make_hibob_client: MakeClient, hibob_http: HttpSettings) -> None:
    company = generate_company(5000, 5, today=SANDBOX_TODAY)
    with HibobSandbox(company, user_id="big", token="tok") as sandbox:
        client = HibobClient(sandbox.url, "big", "tok", hibob_http)
        result = client.search(MAPPING_SOURCES, catalogue=client.fields())
        client.close()
    assert len(result.employees) == 5000
    assert result.present == frozenset(MAPPING_SOURCES)
