"""The pure core's rules as tables: one row per rule, so a rule change shows in one place.

Profiles (how one HiBob value becomes a HiThrive value, or a reason), lifecycle (who has an
active account), the plan (what one employee and one SCIM user come to) and the safeguards
(when a run stops, with which exit code). No servers: plain data in, plain data out.
"""

from __future__ import annotations

from typing import Any

import pytest

from hibob_sync.config.mapping import validate
from hibob_sync.config.settings import Limit
from hibob_sync.core.plan import Action, Plan, make_plan
from hibob_sync.core.profiles import (
    Profile,
    build_profile,
    build_profiles,
    is_active,
    is_future_hire,
)
from hibob_sync.core.safeguards import (
    check_changes,
    check_coverage,
    check_deactivations,
    check_employees,
)
from hibob_sync.errors import ConfigError, HibobSyncError, PermissionMissingError, SafeguardError
from hibob_sync.hibob.client import HibobEmployee, MissingField
from hibob_sync.model import Failure, ScimUser, Value

EMAIL = "ada@example.com"


def employee(
    lifecycle: str | None = "Employed", status: str | None = "Active", **values: Any
) -> HibobEmployee:
    data: dict[str, object] = {"root.email": EMAIL}
    data.update(values)
    return HibobEmployee("1", lifecycle, status, None, data)


# -- profiles: one field, one HiBob value -------------------------------------------------------

LONG = "x" * 256
FIFTY_ONE = [f"t{i}" for i in range(51)]


@pytest.mark.parametrize(
    ("field", "raw", "value", "reason"),
    [
        ("job_title", " Engineer ", "Engineer", None),
        ("job_title", "   ", None, None),
        ("job_title", None, None, None),
        ("job_title", "x" * 255, "x" * 255, None),
        ("job_title", LONG, None, "job_title is longer than 255 characters"),
        ("job_title", ["First", "Second"], "First", None),
        (
            "job_title",
            {"id": "7"},
            None,
            "job_title maps to a HiBob object, not a value (map one of its sub-fields)",
        ),
        ("start_date", "2024-01-15", "2024-01-15", None),
        ("start_date", "2024-01-15T08:00:00", "2024-01-15", None),
        ("start_date", "2024-02-30", None, "start_date is not a valid date (expected YYYY-MM-DD)"),
        ("start_date", "15/01/2024", None, "start_date is not a valid date (expected YYYY-MM-DD)"),
        ("start_date", "12-10", None, "start_date is not a valid date (expected YYYY-MM-DD)"),
        ("birthday", "1990-12-10", "1990-12-10", None),
        ("birthday", "12-10", "--12-10", None),
        ("birthday", "--02-29", "--02-29", None),
        ("birthday", "02-30", None, "birthday is not a valid date"),
        ("teams", "Solo", ("Solo",), None),
        ("teams", ["R&D", " Platform ", "R&D", ""], ("Platform", "R&D"), None),
        ("teams", None, (), None),
        ("teams", FIFTY_ONE, None, "teams has 51 entries; at most 50 are allowed"),
        ("teams", [LONG], None, "teams has an entry longer than 255 characters"),
        ("manager_email", " Boss@Example.COM ", "boss@example.com", None),
        ("manager_email", "boss@", None, "manager_email is not a valid email address"),
    ],
)
def test_one_value(field: str, raw: object, value: Value, reason: str | None) -> None:
    mapping = validate({"email": "root.email", field: "x.source"}, "test")
    outcome = build_profile(employee(**{"x.source": raw}), mapping)
    if reason is None:
        assert isinstance(outcome, Profile), outcome
        assert outcome.values[field] == value
    elif field == "manager_email":  # one bad link is left as it is, not the whole employee
        assert isinstance(outcome, Profile), outcome
        assert field not in outcome.values and outcome.keep == (field,)
        assert outcome.notes == (f"{reason}; reports-to left unchanged",)
    else:
        assert outcome == Failure("1", EMAIL, reason)
        assert str(raw)[:20] not in reason or not str(raw).strip()  # names the field, not the value


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        (None, "no email in HiBob"),
        ("  ", "no email in HiBob"),
        ("not-an-email", "the email in HiBob is not a valid address"),
        ("a b@example.com", "the email in HiBob is not a valid address"),
        (f"{'a' * 250}@example.com", "the email in HiBob is not a valid address"),
    ],
)
def test_bad_email(email: str | None, reason: str) -> None:
    mapping = validate({"email": "root.email"}, "test")
    outcome = build_profile(
        HibobEmployee("1", "Employed", "Active", None, {"root.email": email}), mapping
    )
    assert outcome == Failure("1", None, reason)


# -- lifecycle: who has an active account -------------------------------------------------------


@pytest.mark.parametrize(
    ("lifecycle", "status", "active", "future_hire"),
    [
        ("Employed", "Active", True, False),
        ("Employed", None, True, False),
        ("On leave", "Active", True, False),
        ("Hired", "Active", True, False),
        ("Hired", "Inactive", False, True),
        ("Terminated", "Inactive", False, False),
        ("Terminated", None, False, False),
        (None, "Inactive", False, False),
        (None, None, True, False),
    ],
)
def test_lifecycle(
    lifecycle: str | None, status: str | None, active: bool, future_hire: bool
) -> None:
    person = employee(lifecycle, status)
    assert (is_active(person), is_future_hire(person)) == (active, future_hire)


# -- the plan: one employee, one SCIM user -------------------------------------------------------

MAPPING = validate({"email": "root.email", "job_title": "work.title"}, "test")


def scim_user(
    external_id: str | None = "1", active: bool = True, title: str = "T", email: str = EMAIL
) -> ScimUser:
    return ScimUser("u1", email, external_id, active, {"email": email, "job_title": title})


def outcome(plan: Plan) -> str:
    """The one thing the plan does: an action kind, "rejected", "unchanged" or "nothing"."""
    kinds = [action.kind for action in plan.actions]
    assert len(kinds) <= 1, kinds
    if kinds:
        return kinds[0]
    if plan.rejected:
        return "rejected"
    return "unchanged" if plan.unchanged else "nothing"


EMPLOYED = ("Employed", "Active")
LEFT = ("Terminated", "Inactive")


@pytest.mark.parametrize(
    ("person", "user", "leavers", "expected"),
    [
        (EMPLOYED, None, "deactivate", "create"),
        (EMPLOYED, scim_user(), "deactivate", "unchanged"),
        (EMPLOYED, scim_user(title="Old"), "deactivate", "update"),
        (EMPLOYED, scim_user(external_id=None), "deactivate", "adopt"),
        (EMPLOYED, scim_user(external_id=None, email=EMAIL.upper()), "deactivate", "adopt"),
        (EMPLOYED, scim_user(active=False), "deactivate", "reactivate"),
        # Another client's user (its externalId is no employee in HiBob's answer, and the
        # state store does not know it): never taken over by email unless hithrive.adopt: all.
        (EMPLOYED, scim_user(external_id="2"), "deactivate", "rejected"),
        (LEFT, scim_user(), "deactivate", "deactivate"),
        (LEFT, scim_user(), "ignore", "unchanged"),
        (LEFT, scim_user(active=False), "deactivate", "unchanged"),
        (LEFT, scim_user(external_id=None), "deactivate", "nothing"),  # never adopted
        (LEFT, None, "deactivate", "nothing"),
    ],
)
def test_plan_for_one(
    person: tuple[str, str], user: ScimUser | None, leavers: str, expected: str
) -> None:
    profiles = build_profiles([employee(*person, **{"work.title": "T"})], MAPPING)
    plan = make_plan(profiles, [user] if user else [], MAPPING.fields, leavers)
    assert outcome(plan) == expected


# -- the safeguards ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("managed", "leaving", "limit", "stops"),
    [
        (100, 10, Limit(10, True), False),
        (100, 11, Limit(10, True), True),
        (5, 1, Limit(10, True), False),  # at least one, whatever the percentage
        (5, 2, Limit(10, True), True),
        (100, 0, Limit(0, True), False),
        (100, 1, Limit(0, True), True),
        (100, 3, Limit(3, False), False),
        (100, 4, Limit(3, False), True),
    ],
)
def test_max_deactivations(managed: int, leaving: int, limit: Limit, stops: bool) -> None:
    plan = Plan(
        actions=[Action("deactivate", f"u{i}@example.com", str(i)) for i in range(leaving)],
        managed_active=managed,
    )
    if stops:
        with pytest.raises(SafeguardError, match=f"{leaving}"):
            check_deactivations(plan, limit)
    else:
        check_deactivations(plan, limit)


COVERAGE_MAPPING = validate({"email": "root.email", "job_title": "work.title"}, "test")


@pytest.mark.parametrize(
    ("category", "last_good", "catalogue_known", "error"),
    [
        ("Work", {"work.title"}, True, SafeguardError),  # lost since the last good run: 65
        ("Work", None, True, PermissionMissingError),  # never seen: 77
        ("Work", {"root.email"}, True, PermissionMissingError),
        (None, {"work.title"}, True, ConfigError),  # not in the catalogue: 78
        (None, {"work.title"}, False, SafeguardError),  # no catalogue to tell: as if known
        (None, None, False, PermissionMissingError),
    ],
)
def test_coverage(
    category: str | None,
    last_good: set[str] | None,
    catalogue_known: bool,
    error: type[HibobSyncError],
) -> None:
    missing = [MissingField("work.title", category)]
    with pytest.raises(error) as caught:
        check_coverage(COVERAGE_MAPPING, missing, last_good, catalogue_known=catalogue_known)
    assert type(caught.value) is error
    assert "work.title" in caught.value.message and "job_title" in caught.value.message


def test_coverage_without_missing_fields_and_employees() -> None:
    check_coverage(COVERAGE_MAPPING, [], None)
    check_employees(1)
    with pytest.raises(SafeguardError):
        check_employees(0)


def test_max_changes_is_a_share_of_every_managed_user_active_or_not() -> None:
    # Seen in the rehearsal: a new extra attribute fills in for 9 future hires created ahead
    # (inactive) too, and the breaker said "185 of 178 managed users". The count and the
    # share it is compared with must cover the same users.
    changed = [
        Action("update", f"u{i}@example.com", str(i), changes={"timezone": (None, "UTC")})
        for i in range(15)
    ]
    ahead = Plan(actions=changed, managed_active=10, managed=30)  # 20 created ahead
    assert check_changes(ahead, Limit(50, True)) == []  # 15 of 30 is within 50%
    found = check_changes(ahead, Limit(40, True))  # 15 of 30 is over 40% (12)
    assert [item.safeguard for item in found] == ["sync.max_changes (timezone)"]
    assert "15 of 30 managed users" in found[0].message
