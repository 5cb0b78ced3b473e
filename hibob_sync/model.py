"""Plain data shared by the steps of a sync: the eight HiThrive fields and a SCIM user.

Values are normalised so that equal data compares equal: emails trimmed and lower-cased,
empty strings and empty lists are None / (), multi-valued fields are sorted tuples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HITHRIVE_FIELDS: tuple[str, ...] = (
    "email",
    "employee_id",
    "job_title",
    "start_date",
    "birthday",
    "teams",
    "groups",
    "manager_email",
)
# Optional, never in the default mapping: for SCIM apps that require a name to create a user.
NAME_FIELDS: tuple[str, ...] = ("first_name", "last_name", "display_name")
ALL_FIELDS: tuple[str, ...] = HITHRIVE_FIELDS + NAME_FIELDS
MULTI_VALUED: frozenset[str] = frozenset({"teams", "groups"})

# On the SCIM side the manager is a reference to the manager's SCIM id, not an email.
SCIM_FIELDS: tuple[str, ...] = tuple(
    "manager_id" if name == "manager_email" else name for name in ALL_FIELDS
)

Value = str | tuple[str, ...] | None


def scim_field(hithrive_field: str) -> str:
    """The SCIM-side key of a HiThrive field (only manager_email differs)."""
    return "manager_id" if hithrive_field == "manager_email" else hithrive_field


def normalise_email(value: str | None) -> str | None:
    """Trim and lower-case an email; empty becomes None."""
    if value is None:
        return None
    value = value.strip().lower()
    return value or None


def normalise_value(name: str, value: object) -> Value:
    """Bring one field value to its canonical form (see module docstring)."""
    if name in MULTI_VALUED:
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        texts = (
            (item if isinstance(item, str) else str(item)).strip()
            for item in items
            if item is not None
        )
        return tuple(sorted({text for text in texts if text}))
    if value is None:
        return None
    if name in ("email", "manager_email"):
        return normalise_email(str(value))
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class Failure:
    """An employee set aside, not synced or synced with a gap, and why.

    The reason names fields but never holds a profile value, so a Failure may be logged,
    stored and shown anywhere.
    """

    employee_id: str | None
    email: str | None
    reason: str


@dataclass
class ScimUser:
    """A SCIM user as read back: identity, state and the managed fields (SCIM_FIELDS keys)."""

    id: str
    user_name: str
    external_id: str | None
    active: bool
    values: dict[str, Value] = field(default_factory=dict)
    resource: dict[str, object] = field(default_factory=dict, repr=False)
    version: str | None = None  # meta.version, where the server gives one (a plan file's check)
