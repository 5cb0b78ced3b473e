"""The sandbox company's field catalogue, shaped like HiBob's ``GET /company/people/fields``.

Kept apart from the data so the server, the generator and tests agree on one list of field IDs,
categories and types. Two deliberate traps: the custom list fields live in a custom category
(not the ``work`` their ID suggests), and ``work.employeeIdInCompany`` sits in "Identification".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEAMS_FIELD = "work.custom.field_1700000000001"
GROUPS_FIELD = "work.custom.field_1700000000002"
CUSTOM_CATEGORY = "category_1700000000000"

# Category ID -> the display name an admin sees (and must grant) in HiBob.
CATEGORIES: dict[str, str] = {
    "root": "Basic info",
    "work": "Work",
    "identification": "Identification",
    "personal": "Personal",
    "lifecycle": "Lifecycle",
    CUSTOM_CATEGORY: "Engagement",
    "address": "Address",
    "payroll": "Payroll",
}
ALL_CATEGORIES: frozenset[str] = frozenset(CATEGORIES)


@dataclass(frozen=True)
class FieldDef:
    """One catalogue entry; ``type`` drives how the sandbox renders display values."""

    id: str
    name: str
    category_id: str
    type: str
    historical: bool = False
    type_data: dict[str, Any] = field(default_factory=dict)

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.category_id]

    def json_path(self, root_at_top: bool) -> str:
        """Where the value nests in a nested answer: root fields sit at the top, like HiBob's."""
        if root_at_top and self.id.startswith("root."):
            return self.id[len("root.") :]
        return self.id

    def entry(self, root_at_top: bool = True) -> dict[str, Any]:
        """The JSON object HiBob lists for this field."""
        return {
            "id": self.id,
            "name": self.name,
            "categoryId": self.category_id,
            "categoryDisplayName": self.category_name,
            "jsonPath": self.json_path(root_at_top),
            "type": self.type,
            "typeData": dict(self.type_data),
            "historical": self.historical,
        }


FIELDS: tuple[FieldDef, ...] = (
    FieldDef("root.id", "ID", "root", "text"),
    FieldDef("root.email", "Email", "root", "text"),
    FieldDef("root.firstName", "First name", "root", "text"),
    FieldDef("root.surname", "Last name", "root", "text"),
    FieldDef("root.displayName", "Display name", "root", "text"),
    FieldDef("work.title", "Job title", "work", "list", True, {"listId": "title"}),
    FieldDef("work.department", "Department", "work", "list", True, {"listId": "department"}),
    FieldDef("work.site", "Site", "work", "list", True, {"listId": "site"}),
    FieldDef("work.employeeIdInCompany", "Employee ID", "identification", "number"),
    FieldDef("work.startDate", "Start date", "work", "date"),
    FieldDef("work.reportsTo", "Reports to", "work", "employee-reference", True),
    FieldDef("personal.birthDate", "Date of birth", "personal", "date"),
    FieldDef("internal.lifecycleStatus", "Lifecycle status", "lifecycle", "text"),
    FieldDef("internal.status", "Status", "lifecycle", "text"),
    FieldDef("internal.terminationDate", "Termination date", "lifecycle", "date"),
    FieldDef(TEAMS_FIELD, "Teams", CUSTOM_CATEGORY, "list", False, {"listId": "teams"}),
    FieldDef(GROUPS_FIELD, "Groups", CUSTOM_CATEGORY, "list", False, {"listId": "groups"}),
    FieldDef("address.country", "Country", "address", "list", False, {"listId": "country"}),
    FieldDef(
        "payroll.employment.type", "Employment type", "payroll", "list", True, {"listId": "type"}
    ),
)
FIELDS_BY_ID: dict[str, FieldDef] = {f.id: f for f in FIELDS}
LIST_FIELDS: tuple[str, ...] = tuple(f.id for f in FIELDS if f.type == "list")
REPORTS_TO = "work.reportsTo"
# Keys of the work.reportsTo object, as HiBob's employee references carry them.
REFERENCE_KEYS: tuple[str, ...] = ("id", "email", "firstName", "surname", "displayName")


def catalogue_json(root_at_top: bool = True) -> list[dict[str, Any]]:
    """The whole catalogue answer."""
    return [f.entry(root_at_top) for f in FIELDS]


def resolve_category(name_or_id: str) -> str:
    """Accept a category ID or its display name (tests read better with names)."""
    if name_or_id in CATEGORIES:
        return name_or_id
    for category_id, display in CATEGORIES.items():
        if display.casefold() == name_or_id.casefold():
            return category_id
    raise ValueError(f"unknown sandbox category: {name_or_id!r}")


# A mapping of all eight HiThrive fields onto this catalogue, custom Teams/Groups included:
# what the demo, the end-to-end tests and the benchmarks sync.
MAPPING_YAML = f"""\
mapping:
  email: root.email
  employee_id: work.employeeIdInCompany
  job_title: work.title
  start_date: work.startDate
  birthday: personal.birthDate
  teams: [work.department, {TEAMS_FIELD}]
  groups: [work.site, {GROUPS_FIELD}]
  manager_email: work.reportsTo.email
"""
