"""How to read and write each HiThrive field (and each extra attribute) in a SCIM User.

Pure functions over plain dicts: the SCIM client (scim.py) uses them to build request bodies
and to read resources back, so that what was written reads back equal.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hibob_sync.kinds import canonical
from hibob_sync.model import MULTI_VALUED, SCIM_FIELDS, ScimUser, Value
from hibob_sync.model import normalise_value as _normalise_value
from hibob_sync.scim.extra_values import set_item, typed_wire, unset_item
from hibob_sync.scim.paths import (
    _MIDNIGHT,
    CORE_USER,
    DATE_FIELDS,
    DEFAULT_ATTRIBUTES,
    ENTERPRISE_USER,
    HITHRIVE_USER,
    AttributePath,
    extra_path,
    parse_path,
    placement,
    validate_attributes,
)

__all__ = [
    "CORE_USER",
    "DATE_FIELDS",
    "DEFAULT_ATTRIBUTES",
    "ENTERPRISE_USER",
    "HITHRIVE_USER",
    "AttributePath",
    "extra_path",
    "parse_path",
    "placement",
    "validate_attributes",
]


def normalise_values(values: Mapping[str, object]) -> dict[str, Value]:
    """Canonical form of a SCIM_FIELDS-keyed dict (extra attributes pass as they are)."""
    return {
        name: _normalise_value(name, value) if name in SCIM_FIELDS else canonical(value)
        for name, value in values.items()
    }


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
    if path.type_filter is not None:
        wanted = path.type_filter.lower()
        for item in value if isinstance(value, list) else []:
            if str(get_ci(item, "type") or "").lower() == wanted:
                return get_ci(item, path.sub or "value")
        return None
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
    for name, path in where.items():
        if name not in SCIM_FIELDS:
            values[name] = canonical(read_path(resource, path), path.scim_type)
    return values


def _slim(resource: Mapping[str, Any], where: Mapping[str, AttributePath]) -> dict[str, Any]:
    """What a listing keeps of a resource: the multi-valued attributes an extra writes one
    item of (a PATCH of addresses keeps the other addresses), nothing else."""
    kept: dict[str, Any] = {}
    for path in where.values():
        if path.type_filter is None:
            continue
        container = resource if path.is_core else get_ci(resource, path.schema)
        value = get_ci(container, path.name)
        if value is not None:
            _set_path(kept, path.whole, copy.deepcopy(value))
    return kept


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
        resource=copy.deepcopy(dict(resource)) if keep else _slim(resource, where),
        version=str(version) if version not in (None, "") else None,
    )


# -- writing -------------------------------------------------------------------------------


def wire(name: str, value: Value, path: AttributePath | None = None) -> Any:
    """A value as sent: lists for multi-valued fields, an extra in its /Schemas type."""
    if name in MULTI_VALUED:
        return list(value or ())
    if path is not None and name not in SCIM_FIELDS:
        return typed_wire(value, path.scim_type, path.multi)
    return value


def _set_path(resource: dict[str, Any], path: AttributePath, value: Any) -> None:
    container: dict[str, Any] = resource
    if not path.is_core:
        container = resource.setdefault(path.schema, {})
    if path.type_filter is not None:
        key = next((k for k in container if k.lower() == path.name.lower()), path.name)
        container[key] = set_item(container.get(key), path.type_filter, path.sub or "", value)
    elif path.sub is None:
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
    if path.type_filter is not None:
        key = next((k for k in container if k.lower() == path.name.lower()), path.name)
        items = unset_item(container.get(key), path.type_filter, path.sub or "")
        if items:
            container[key] = items
        else:
            container.pop(key, None)
    elif path.sub is None:
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
            _set_path(result, where[name], wire(name, value, where[name]))
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
