"""SCIM attribute paths: where each HiThrive field (and each extra attribute) lives in a User.

Parsing and checking only (RFC 7644 attribute notation); reading and writing resources is
attributes.py's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as field_of

from hibob_sync.errors import ConfigError
from hibob_sync.model import ALL_FIELDS, scim_field

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
# RFC 7644 §3.5.2 value path on `type`, for multi-valued complex attributes.
_FILTERED = re.compile(
    rf'(?P<name>{_NAME})\[\s*(?P<attr>{_NAME})\s+eq\s+"(?P<value>[^"\\\]]*)"\s*\]'
    rf"\.(?P<sub>{_NAME})"
)
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
    type_filter: str | None = None  # addresses[type eq "work"].country: "work"
    # What /Schemas says of an extra attribute (scim_type lower case), for writing it typed.
    scim_type: str = field_of(default="", compare=False)
    multi: bool = field_of(default=False, compare=False)

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
    def label(self) -> str:
        """The path as an admin writes it (filter included; bare for core attributes)."""
        name = f'{self.name}[type eq "{self.type_filter}"]' if self.type_filter else self.name
        short = f"{name}.{self.sub}" if self.sub else name
        return short if self.is_core else f"{self.schema}:{short}"

    @property
    def parent(self) -> AttributePath | None:
        """The complex attribute of a sub-attribute path (manager for manager.value); none
        for a filtered path, which is always written as its whole multi-valued attribute."""
        return AttributePath(self.schema, self.name) if self.sub and not self.type_filter else None

    @property
    def whole(self) -> AttributePath:
        """The attribute itself (addresses for addresses[type eq "work"].country)."""
        return AttributePath(self.schema, self.name)

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


def extra_path(text: str) -> AttributePath:
    """An `extra:` attribute: parse_path's forms, plus `name[type eq "x"].sub` (RFC 7644
    value path on type); never one the tool manages itself."""
    text = text.strip()
    head, bracket, _ = text.partition("[")
    if bracket:
        schema, colon, rest = head.rpartition(":")
        if colon and (not _URN.fullmatch(schema) or len(schema.split(":")) < 3):
            raise ValueError(f"{text!r} is not a URN-qualified SCIM attribute path")
        filtered = _FILTERED.fullmatch(rest + text[len(head) :])
        if filtered is None or filtered["attr"].lower() != "type":
            raise ValueError(
                f'{text!r}: the only filter taken is [type eq "value"], followed by a '
                'sub-attribute, e.g. addresses[type eq "work"].country'
            )
        path = AttributePath(
            schema if colon else CORE_USER, filtered["name"], filtered["sub"], filtered["value"]
        )
    else:
        path = parse_path(text)
    if path.is_core and path.name.lower() in _RESERVED:
        raise ValueError(f"{path.name} is managed by hibob-sync itself")
    return path


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


def placement(
    overrides: Mapping[str, str] | None = None, extra: tuple[str, ...] = ()
) -> dict[str, AttributePath]:
    """SCIM_FIELDS key -> attribute path, after validating the overrides; then each extra
    attribute (mapping.yaml `extra:`), keyed by its path as written."""
    merged = validate_attributes(overrides)
    where = {scim_field(name): parse_path(path) for name, path in merged.items()}
    return {**where, **{key: extra_path(key) for key in extra}}
