"""Where each HiThrive field lives in a SCIM User, and how to read and write it there.

Pure functions over plain dicts: the SCIM client (scim.py) uses them to build request bodies
and to read resources back, so that what was written reads back equal.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hibob_sync.errors import ConfigError
from hibob_sync.model import ALL_FIELDS, MULTI_VALUED, SCIM_FIELDS, ScimUser, Value, scim_field
from hibob_sync.model import normalise_value as _normalise_value

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
HITHRIVE_USER = "urn:ietf:params:scim:schemas:extension:hithrive:2.0:User"

# HiThrive field -> SCIM attribute path (hithrive-scim.md). email also feeds the work email.
DEFAULT_ATTRIBUTES: Mapping[str, str] = {
    "email": "userName",
    "employee_id": f"{ENTERPRISE_USER}:employeeNumber",
    "job_title": "title",
    "manager_email": f"{ENTERPRISE_USER}:manager.value",
    "start_date": f"{HITHRIVE_USER}:startDate",
    "birthday": f"{HITHRIVE_USER}:birthDate",
    "teams": f"{HITHRIVE_USER}:teams",
    "groups": f"{HITHRIVE_USER}:groups",
    "first_name": "name.givenName",
    "last_name": "name.familyName",
    "display_name": "displayName",
}

DATE_FIELDS = frozenset({"start_date", "birthday"})
_MIDNIGHT = re.compile(r"(\d{4}-\d{2}-\d{2})T00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?")
_NAME = r"[A-Za-z][A-Za-z0-9_-]*"
_SHORT_PATH = re.compile(rf"(?P<name>{_NAME})(?:\.(?P<sub>\$?{_NAME}))?")
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}(?::[A-Za-z0-9._~%!$&'()*+,;=@-]+)+")
# Core attributes a field may not take over: identity, state, and read-only or secret data.
_RESERVED = frozenset(
    {"id", "externalid", "meta", "schemas", "active", "emails", "username", "groups", "password"}
)


@dataclass(frozen=True)
class AttributePath:
    """One SCIM attribute: its schema URN, its name and an optional sub-attribute."""

    schema: str
    name: str
    sub: str | None = None

    @property
    def is_core(self) -> bool:
        return self.schema.lower() == CORE_USER.lower()

    @property
    def full(self) -> str:
        """The fully qualified form, as /Schemas announces it (core attributes included)."""
        return f"{self.schema}:{self.short}"

    @property
    def short(self) -> str:
        return f"{self.name}.{self.sub}" if self.sub else self.name

    @property
    def parent(self) -> AttributePath | None:
        """The complex attribute of a sub-attribute path (manager for manager.value)."""
        return AttributePath(self.schema, self.name) if self.sub else None

    @property
    def patch_path(self) -> str:
        """The PatchOp path: bare for core attributes, URN-qualified for extensions."""
        return self.short if self.is_core else self.full


def parse_path(text: str) -> AttributePath:
    """Parse `name`, `name.sub` or `urn:…:name[.sub]`; raise ValueError when malformed."""
    text = text.strip()
    if text.lower().startswith("urn:"):
        schema, _, rest = text.rpartition(":")
        if not _URN.fullmatch(schema) or len(schema.split(":")) < 3:
            raise ValueError(f"{text!r} is not a URN-qualified SCIM attribute path")
    else:
        schema, rest = CORE_USER, text
    match = _SHORT_PATH.fullmatch(rest)
    if match is None:
        raise ValueError(f"{text!r} is not a SCIM attribute path (urn:…:attribute[.sub])")
    return AttributePath(schema, match["name"], match["sub"])


def validate_attributes(overrides: Mapping[str, object] | None) -> dict[str, str]:
    """Check a `hithrive.attributes` override map; return it merged over the defaults.

    Raises ConfigError naming `hithrive.attributes.<field>` for an unknown field, a
    malformed path, an attribute the tool reserves, or two fields sharing one attribute.
    """
    overrides = overrides or {}
    merged = dict(DEFAULT_ATTRIBUTES)
    for field, value in overrides.items():
        merged[field] = _checked(field, value)
    owner: dict[str, str] = {}
    for field, value in merged.items():
        full = parse_path(value).full.lower()
        other = owner.setdefault(full, field)
        if other != field:
            named, target = (field, other) if field in overrides else (other, field)
            raise ConfigError(
                f"hithrive.attributes.{named}: {value} is already where {target} goes"
            )
    return merged


def _checked(field: str, value: object) -> str:
    key = f"hithrive.attributes.{field}"
    if field not in ALL_FIELDS:
        raise ConfigError(f"{key}: unknown HiThrive field; expected one of {', '.join(ALL_FIELDS)}")
    if not isinstance(value, str) or not value.strip():
        example = DEFAULT_ATTRIBUTES[field]
        raise ConfigError(f"{key}: expected a SCIM attribute path such as {example}")
    try:
        path = parse_path(value)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    if field == "email":
        if path == parse_path("userName"):
            return "userName"
        raise ConfigError(
            f"{key}: the email always goes to userName and the primary work email; "
            "it cannot be moved"
        )
    if path.is_core and path.name.lower() in _RESERVED:
        raise ConfigError(f"{key}: {path.name} is managed by hibob-sync itself")
    return value.strip()


def placement(overrides: Mapping[str, str] | None = None) -> dict[str, AttributePath]:
    """SCIM_FIELDS key -> attribute path, after validating the overrides."""
    merged = validate_attributes(overrides)
    return {scim_field(field): parse_path(path) for field, path in merged.items()}


def normalise_values(values: Mapping[str, object]) -> dict[str, Value]:
    """Canonical form of a SCIM_FIELDS-keyed dict; unknown keys are a programming error."""
    unknown = set(values) - set(SCIM_FIELDS)
    if unknown:
        raise ValueError(f"not SCIM field names: {sorted(unknown)}")
    return {name: _normalise_value(name, value) for name, value in values.items()}


# -- reading -------------------------------------------------------------------------------


def get_ci(container: object, key: str) -> Any:
    """SCIM attribute names are case-insensitive (RFC 7643 §2.1)."""
    if not isinstance(container, Mapping):
        return None
    if key in container:
        return container[key]
    lowered = key.lower()
    for name, value in container.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return None


def read_path(resource: Mapping[str, Any], path: AttributePath) -> Any:
    """The raw value at a path, or None."""
    container = resource if path.is_core else get_ci(resource, path.schema)
    value = get_ci(container, path.name)
    if path.sub is None:
        return value
    if isinstance(value, str) and path.sub.lower() == "value":
        return value  # some servers flatten a complex {value} to a plain string
    return get_ci(value, path.sub)


def as_date(text: str) -> str:
    """A dateTime at midnight UTC is the date it starts (what the tool writes into one)."""
    match = _MIDNIGHT.fullmatch(text.strip())
    return match.group(1) if match else text


def _as_strings(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, Mapping):
            item = get_ci(item, "value")  # tolerate [{"value": "x"}] for multi-valued strings
        if item is not None:
            out.append(str(item))
    return out


def _work_email(resource: Mapping[str, Any]) -> str | None:
    emails = get_ci(resource, "emails")
    if not isinstance(emails, list):
        return None
    ranked = sorted(
        (e for e in emails if isinstance(e, Mapping) and get_ci(e, "value")),
        key=lambda e: (not get_ci(e, "primary"), get_ci(e, "type") != "work"),
    )
    return str(get_ci(ranked[0], "value")) if ranked else None


def read_values(
    resource: Mapping[str, Any], where: Mapping[str, AttributePath]
) -> dict[str, Value]:
    """Every SCIM field of a resource, normalised so that unchanged data compares equal."""
    values: dict[str, Value] = {}
    for name in SCIM_FIELDS:
        raw = read_path(resource, where[name])
        if name == "email" and not raw:
            raw = _work_email(resource)
        if name in MULTI_VALUED:
            values[name] = _normalise_value(name, _as_strings(raw) if raw is not None else None)
        else:
            if isinstance(raw, list):
                raw = raw[0] if raw else None
            if name in DATE_FIELDS and isinstance(raw, str):
                raw = as_date(raw)
            values[name] = _normalise_value(name, None if isinstance(raw, Mapping) else raw)
    return values


def from_resource(
    resource: Mapping[str, Any], where: Mapping[str, AttributePath], *, keep: bool = True
) -> ScimUser | None:
    """A ScimUser from a resource as the server returned it, or None when it has no id.

    ``keep=False`` leaves the raw resource out (a listing of every user, where only a PUT or
    an email change needs it, and those read the user again): it is most of the memory.
    """
    user_id = get_ci(resource, "id")
    if not isinstance(user_id, str) or not user_id:
        return None
    external_id = get_ci(resource, "externalId")
    active = get_ci(resource, "active")
    meta = get_ci(resource, "meta")
    version = get_ci(meta, "version") if isinstance(meta, Mapping) else None
    return ScimUser(
        id=user_id,
        user_name=str(get_ci(resource, "userName") or ""),
        external_id=str(external_id) if external_id not in (None, "") else None,
        active=active is not False and str(active).lower() != "false",
        values=read_values(resource, where),
        resource=copy.deepcopy(dict(resource)) if keep else {},
        version=str(version) if version not in (None, "") else None,
    )


# -- writing -------------------------------------------------------------------------------


def wire(name: str, value: Value) -> Any:
    if name in MULTI_VALUED:
        return list(value or ())
    return value


def _set_path(resource: dict[str, Any], path: AttributePath, value: Any) -> None:
    container: dict[str, Any] = resource
    if not path.is_core:
        container = resource.setdefault(path.schema, {})
    if path.sub is None:
        container[path.name] = value
    else:
        inner = container.get(path.name)
        if not isinstance(inner, dict):
            inner = container[path.name] = {}
        inner[path.sub] = value


def _remove_path(resource: dict[str, Any], path: AttributePath) -> None:
    container = resource if path.is_core else resource.get(path.schema)
    if not isinstance(container, dict):
        return
    if path.sub is None:
        container.pop(path.name, None)
    elif isinstance(container.get(path.name), dict):
        container[path.name].pop(path.sub, None)
        if not container[path.name]:
            del container[path.name]
    if not path.is_core and not container:
        del resource[path.schema]


def emails_with(resource: Mapping[str, Any], email: str) -> list[dict[str, Any]]:
    """The resource's emails with `email` as the primary work address, others kept."""
    kept = []
    for entry in get_ci(resource, "emails") or []:
        if not isinstance(entry, Mapping) or get_ci(entry, "type") == "work":
            continue
        other = dict(entry)
        other.pop("primary", None)
        if str(get_ci(entry, "value") or "").lower() != email:
            kept.append(other)
    return [{"value": email, "type": "work", "primary": True}, *kept]


def _sync_schemas(resource: dict[str, Any]) -> None:
    """List exactly the core schema and the extensions the resource carries."""
    extensions = [key for key in resource if key.lower().startswith("urn:")]
    resource["schemas"] = [CORE_USER, *extensions]


def apply_changes(
    resource: Mapping[str, Any],
    changes: Mapping[str, Value],
    where: Mapping[str, AttributePath],
    *,
    active: bool | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    """A copy of `resource` with the changes applied: the body of a PUT, or a local read-back."""
    result = copy.deepcopy(dict(resource))
    result.pop("meta", None)
    for name, value in changes.items():
        if name == "email":
            if not value:
                raise ValueError("the email of a SCIM user cannot be cleared")
            result["userName"] = value
            result["emails"] = emails_with(result, str(value))
        elif value is None or value == ():
            _remove_path(result, where[name])
        else:
            _set_path(result, where[name], wire(name, value))
    if active is not None:
        result["active"] = active
    if external_id:
        result["externalId"] = external_id
    _sync_schemas(result)
    return result


def new_resource(
    values: Mapping[str, Value],
    external_id: str,
    active: bool,
    where: Mapping[str, AttributePath],
) -> dict[str, Any]:
    """The body of a POST /Users for a new user."""
    if not values.get("email"):
        raise ValueError("a SCIM user needs an email (its userName)")
    return apply_changes({}, values, where, active=active, external_id=external_id)


def updated_user(
    user: ScimUser,
    payload: Any,
    changes: Mapping[str, Value],
    where: Mapping[str, AttributePath],
    active: bool | None = None,
    external_id: str | None = None,
) -> ScimUser:
    """The user after a write: the server's answer, else (204, /Bulk) the change applied here."""
    if isinstance(payload, Mapping) and payload.get("id"):
        answered = from_resource(payload, where)
        if answered is not None:
            return answered
    resource = apply_changes(user.resource, changes, where, active=active, external_id=external_id)
    resource["id"] = user.id
    email = changes.get("email")
    return ScimUser(
        id=user.id,
        user_name=str(email) if email else user.user_name,
        external_id=user.external_id if external_id is None else external_id,
        active=user.active if active is None else active,
        values={**user.values, **changes},
        resource=resource,
    )
