"""Schema-aware values, as tables: what /Schemas says decides how a value is written, compared,
and whether `check` names an attribute that cannot hold its field or a required one left empty.
"""

from __future__ import annotations

from typing import Any

import pytest

from hibob_sync.model import Value
from hibob_sync.scim.attributes import CORE_USER, HITHRIVE_USER, as_date, placement
from hibob_sync.scim.discovery import AttributeInfo, ServerFeatures, schema_details
from hibob_sync.scim.values import same_value, type_problems, typed_values, unfilled_required

WHERE = placement()


def schema(urn: str, *attributes: dict[str, Any]) -> dict[str, Any]:
    return {"id": urn, "attributes": list(attributes)}


def attr(name: str, type_: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def features(*schemas: dict[str, Any]) -> ServerFeatures:
    body = {"Resources": list(schemas)}
    return ServerFeatures(attribute_info=schema_details(body), schema_attributes=frozenset({"x"}))


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("2013-08-02T00:00:00Z", "2013-08-02"),
        ("2013-08-02T00:00:00.000Z", "2013-08-02"),
        ("2013-08-02T00:00:00", "2013-08-02"),
        ("2013-08-02T00:00:00+00:00", "2013-08-02"),
        ("2013-08-02T09:30:00Z", "2013-08-02T09:30:00Z"),  # not midnight: a real change
        ("2013-08-02", "2013-08-02"),
        ("--07-14", "--07-14"),
    ],
)
def test_a_midnight_datetime_reads_as_its_date(text: str, date: str) -> None:
    assert as_date(text) == date


def test_dates_are_written_as_datetime_only_where_the_type_is_datetime() -> None:
    typed = features(
        schema(HITHRIVE_USER, attr("startDate", "dateTime"), attr("birthDate", "dateTime"))
    )
    values: dict[str, Value] = {"start_date": "2013-08-02", "birthday": "--07-14"}
    assert typed_values(values, WHERE, typed) == {
        "start_date": "2013-08-02T00:00:00Z",
        "birthday": "--07-14",  # no year: no dateTime can hold it (check says so)
    }
    plain = features(schema(HITHRIVE_USER, attr("startDate")))
    assert typed_values(values, WHERE, plain) == values


@pytest.mark.parametrize(
    ("a", "b", "info", "same"),
    [
        ("Engineer", "engineer", AttributeInfo(case_exact=False), True),
        ("Engineer", "engineer", AttributeInfo(case_exact=True), False),
        ("Engineer", "engineer", None, False),  # nothing announced: exact
        (("A", "b"), ("a", "B"), AttributeInfo(case_exact=False, multi_valued=True), True),
        (("A", "b"), ("a", "B"), AttributeInfo(case_exact=True, multi_valued=True), False),
        (None, "x", AttributeInfo(), False),
    ],
)
def test_values_compare_by_meaning(
    a: Value, b: Value, info: AttributeInfo | None, same: bool
) -> None:
    assert same_value(a, b, info) is same


def test_check_names_attributes_whose_type_cannot_hold_their_field() -> None:
    served = features(
        schema(CORE_USER, attr("title", "boolean")),
        schema(
            HITHRIVE_USER,
            attr("teams"),  # single-valued
            attr("groups", multiValued=True),
            attr("startDate", "dateTime"),
            attr("birthDate", "dateTime"),
        ),
    )
    fields = ["email", "job_title", "teams", "groups", "start_date", "birthday"]
    found = {(p.field, p.fatal): p.reason for p in type_problems(served, WHERE, fields)}
    assert found == {
        ("job_title", True): "is a single-valued boolean, which cannot hold job_title",
        ("teams", True): "is single-valued, but teams has several values",
        ("birthday", False): "is a dateTime: birthdays without a year",
    }


def test_check_names_required_attributes_the_mapping_cannot_fill() -> None:
    served = features(
        schema(
            CORE_USER,
            attr("userName", required=True),
            attr("displayName", required=True),
            attr("title", required=True),
            attr("id", required=True, mutability="readOnly"),
            attr(
                "name",
                "complex",
                required=True,
                subAttributes=[attr("givenName", required=True), attr("formatted")],
            ),
            attr("emails", "complex", subAttributes=[attr("value", required=True)]),
        ),
    )
    missing = unfilled_required(served, WHERE, ["email", "job_title"])
    prefix = CORE_USER + ":"
    assert missing == [prefix + "displayName", prefix + "name.givenName"]
