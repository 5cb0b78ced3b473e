"""The pure steps, without servers: profiles from HiBob data, and the plan's edge cases."""

from __future__ import annotations

from hibob_sync.config.mapping import validate
from hibob_sync.core.plan import Action, make_plan
from hibob_sync.core.profiles import build_profiles
from hibob_sync.hibob.client import HibobEmployee
from hibob_sync.model import ScimUser
from hibob_sync.sync.apply import _create_waves

MAPPING = validate(
    {
        "email": "root.email",
        "job_title": "work.title",
        "birthday": "personal.birthDate",
        "teams": ["work.department", "work.custom.teams"],
        "manager_email": "work.reportsTo.email",
    },
    "test",
)


def employee(
    eid: str, email: str | None, status: str = "Employed", **values: object
) -> HibobEmployee:
    data: dict[str, object] = {"root.email": email}
    data.update({k.replace("__", "."): v for k, v in values.items()})
    return HibobEmployee(
        eid, status, "Inactive" if status == "Terminated" else "Active", None, data
    )


def test_values_are_normalised() -> None:
    result = build_profiles(
        [
            employee(
                "1",
                "  Ada.Lovelace@Example.COM ",
                work__title=" Engineer ",
                personal__birthDate="12-10",
                work__department="R&D",
                work__custom__teams=["Platform", "R&D", ""],
            )
        ],
        MAPPING,
    )
    [profile] = result.profiles
    assert profile.values == {
        "email": "ada.lovelace@example.com",
        "job_title": "Engineer",
        "birthday": "--12-10",
        "teams": ("Platform", "R&D"),
        "manager_email": None,
    }


def test_bad_records_are_set_aside_with_reasons_naming_fields_not_values() -> None:
    result = build_profiles(
        [
            employee("1", None),
            employee("2", "not-an-email"),
            employee("3", "c@example.com", personal__birthDate="1990-02-30"),
            employee("4", "d@example.com", work__title="x" * 300),
            employee("5", "e@example.com", work__custom__teams=[f"t{i}" for i in range(51)]),
            employee("6", "f@example.com", status="Terminated"),  # a leaver: not a failure
            employee("7", "g@example.com", work__title="Ingénieure 工程师"),
        ],
        MAPPING,
    )
    reasons = {r.employee_id: r.reason for r in result.rejected}
    assert reasons == {
        "1": "no email in HiBob",
        "2": "the email in HiBob is not a valid address",
        "3": "birthday is not a valid date (expected YYYY-MM-DD)",
        "4": "job_title is longer than 255 characters",
        "5": "teams has 51 entries; at most 50 are allowed",
    }
    assert "1990" not in " ".join(reasons.values())
    kept = {p.employee_id: p for p in result.profiles}
    assert set(kept) == {"6", "7"} and not kept["6"].active
    assert kept["7"].values["job_title"] == "Ingénieure 工程师"
    assert result.seen_ids == {str(i) for i in range(1, 8)}


def test_duplicate_email_rehire_keeps_the_active_record() -> None:
    result = build_profiles(
        [employee("old", "a@example.com", status="Terminated"), employee("new", "A@example.com")],
        MAPPING,
    )
    # The old record stays a leaver (deactivated by its own ID); the new one owns the address.
    assert [(p.employee_id, p.leaver) for p in result.profiles] == [("new", False), ("old", True)]
    assert not result.rejected
    both_active = build_profiles(
        [employee("x", "a@example.com"), employee("y", "a@example.com")], MAPPING
    )
    assert not both_active.profiles and len(both_active.rejected) == 2


def test_manager_as_reference_object_or_id() -> None:
    result = build_profiles(
        [
            employee("m", "boss@example.com"),
            employee("a", "a@example.com", work__reportsTo__email={"id": "m"}),
            employee("b", "b@example.com", work__reportsTo__email="m"),
        ],
        MAPPING,
    )
    managers = {p.employee_id: p.values["manager_email"] for p in result.profiles}
    assert managers == {"m": None, "a": "boss@example.com", "b": "boss@example.com"}


def user(
    uid: str, email: str, external_id: str | None, active: bool = True, **values: object
) -> ScimUser:
    base: dict[str, object] = {"email": email, "teams": (), "groups": ()}
    base.update(values)
    return ScimUser(uid, email, external_id, active, base)  # type: ignore[arg-type]


def test_plan_matching_ownership_and_leavers() -> None:
    profiles = build_profiles(
        [
            employee("1", "same@example.com", work__title="T"),
            employee("2", "renamed@example.com", work__title="T"),
            employee("3", "adopt@example.com", work__title="T"),
            employee("4", "gone@example.com", status="Terminated"),
            employee("5", "new@example.com", work__title="T"),
        ],
        MAPPING,
    )
    users = [
        user("u1", "same@example.com", "1", job_title="T"),
        user("u2", "old-name@example.com", "2", job_title="T"),
        user("u3", "ADOPT@example.com", None),
        user("u4", "gone@example.com", "4"),
        user("u5", "hand@example.com", None, job_title="Guest"),
        user("u6", "invisible@example.com", "99"),
        user("u7", "rehire@example.com", "1", active=False),
    ]
    # u6 was created by hibob-sync (the state store says so): its employee vanished.
    plan = make_plan(profiles, users, MAPPING.fields, "deactivate", owned={"u6"})
    kinds = {(a.kind, a.email) for a in plan.actions}
    assert kinds == {
        ("update", "renamed@example.com"),
        ("adopt", "adopt@example.com"),
        ("deactivate", "gone@example.com"),
        ("deactivate", "invisible@example.com"),
        ("create", "new@example.com"),
    }
    update = next(a for a in plan.actions if a.kind == "update")
    assert update.changes == {"email": ("old-name@example.com", "renamed@example.com")}
    assert plan.unchanged == 1 and plan.managed_active == 4
    assert plan.outcomes.users == {"u5": "unmanaged", "u6": "deactivated", "u7": "set_aside"}
    ignore = make_plan(profiles, users, MAPPING.fields, "ignore", owned={"u6"})
    assert not ignore.of_kind("deactivate")
    # Without that evidence, externalId 99 is another client's: never touched, counted apart.
    other = make_plan(profiles, users, MAPPING.fields, "deactivate")
    assert ("deactivate", "invisible@example.com") not in {(a.kind, a.email) for a in other.actions}
    assert other.outcomes.users["u6"] == "unmanaged" and other.outcomes.foreign == 1
    assert other.managed_active == 3


def test_create_waves_put_managers_first_and_break_cycles() -> None:
    def create(email: str, manager: str | None) -> Action:
        changes = {"manager_email": (None, manager)} if manager else {}
        return Action("create", email, email, changes=changes)  # type: ignore[arg-type]

    chain = [create("c", "b"), create("b", "a"), create("a", None), create("d", "x")]
    waves, cyclic = _create_waves(chain)
    assert [[a.email for a in wave] for wave in waves] == [["a", "d"], ["b"], ["c"]]
    assert cyclic == []
    loop = [create("p", "q"), create("q", "p"), create("r", "p")]
    waves, cyclic = _create_waves(loop)
    assert {a.email for a in cyclic} == {"p", "q"}
    assert [a.email for a in waves[-1]] == ["r"]
