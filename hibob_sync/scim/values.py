"""Values in the server's own types, compared by meaning (hithrive-scim.md "Interop rules").

/Schemas says of each target attribute its type, multiValued and caseExact. A date goes into a
``dateTime`` attribute as ``YYYY-MM-DDT00:00:00Z`` and reads back equal to the date; text is
compared case-insensitively where caseExact is false; multi-valued fields as sets. So a quiet
night is write-free on any server. `check` uses the same knowledge to name an attribute whose
type cannot hold its field, and every required attribute the mapping cannot fill.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from hibob_sync.model import ALL_FIELDS, MULTI_VALUED, Value, scim_field
from hibob_sync.scim.attributes import CORE_USER, DATE_FIELDS, AttributePath
from hibob_sync.scim.discovery import AttributeInfo, ServerFeatures

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Attributes the tool fills itself on every user it creates.
_ALWAYS = frozenset({f"{CORE_USER}:{name}".lower() for name in ("username", "emails", "active")})

Same = Callable[[str, Value, Value], bool]


def info_of(features: ServerFeatures, path: AttributePath) -> AttributeInfo | None:
    """What /Schemas says of one target attribute, or None when it says nothing."""
    return (features.attribute_info or {}).get(path.full.lower())


def typed_values(
    values: Mapping[str, Value], where: Mapping[str, AttributePath], features: ServerFeatures
) -> dict[str, Value]:
    """SCIM_FIELDS-keyed values as the server types them: dates into dateTime attributes."""
    typed = dict(values)
    for name, value in values.items():
        if name not in DATE_FIELDS or not isinstance(value, str) or not _DATE.fullmatch(value):
            continue
        info = info_of(features, where[name])
        if info is not None and info.type == "datetime":
            typed[name] = f"{value}T00:00:00Z"
    return typed


def same_value(a: Value, b: Value, info: AttributeInfo | None) -> bool:
    """Equal by meaning: dates vs midnight dateTimes, case where caseExact is false."""
    if a == b:
        return True
    if info is None or info.case_exact:
        return False
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if isinstance(a, tuple) and isinstance(b, tuple):
        return {x.casefold() for x in a} == {x.casefold() for x in b}
    return False


def semantics(features: ServerFeatures, where: Mapping[str, AttributePath]) -> Same:
    """The comparison the planner uses, HiThrive-field-keyed (email and manager: exact)."""
    infos = {name: info_of(features, path) for name, path in where.items()}

    def same(field: str, a: Value, b: Value) -> bool:
        if field in ("email", "manager_email"):
            return a == b  # both normalised already; the manager is compared by identity
        return same_value(a, b, infos.get(scim_field(field)))

    return same


@dataclass(frozen=True)
class TypeProblem:
    """A mapped field whose target attribute cannot hold it; `fatal` False is a caveat."""

    field: str
    path: str
    reason: str
    fatal: bool = True


def type_problems(
    features: ServerFeatures, where: Mapping[str, AttributePath], fields: Iterable[str]
) -> list[TypeProblem]:
    """Each mapped field whose attribute's type, per /Schemas, cannot hold its values."""
    problems = []
    for field in fields:
        if field == "email":
            continue
        path = where[scim_field(field)]
        info = info_of(features, path)
        if info is None:
            continue
        kind = "multi-valued" if info.multi_valued else "single-valued"
        text = {"string", "reference"} | ({"datetime"} if field in DATE_FIELDS else set())
        if info.type not in text:
            reason = f"is a {kind} {info.type}, which cannot hold {field}"
        elif (field in MULTI_VALUED) != info.multi_valued:
            want = "several values" if field in MULTI_VALUED else "one value"
            reason = f"is {kind}, but {field} has {want}"
        elif info.read_only:
            reason = "is read-only on this server"
        elif field == "birthday" and info.type == "datetime":
            problems.append(
                TypeProblem(field, path.full, "is a dateTime: birthdays without a year", False)
            )
            continue
        else:
            continue
        problems.append(TypeProblem(field, path.full, reason))
    return problems


def unfilled_required(
    features: ServerFeatures, where: Mapping[str, AttributePath], fields: Iterable[str]
) -> list[str]:
    """Every attribute /Schemas requires of a User that neither the tool nor the mapping fills."""
    if not features.attribute_info:
        return []
    schemas = {CORE_USER.lower(), *features.required_extensions}
    filled = set(_ALWAYS)
    for field in fields:
        path = where[scim_field(field)]
        filled.add(path.full.lower())
        if path.parent is not None:
            filled.add(path.parent.full.lower())
    infos = features.attribute_info
    missing = []
    for key, info in infos.items():
        urn, _, name = key.rpartition(":")
        parent = f"{urn}:{name.split('.')[0]}"
        if urn not in schemas or not info.required or info.read_only or parent in _ALWAYS:
            continue
        if "." in name:  # a required sub-attribute counts where its parent is written
            parent_info = infos.get(parent)
            needed = parent in filled or (parent_info is not None and parent_info.required)
            if needed and key not in filled:
                missing.append(info.name or key)
        elif key not in filled and not any(f.startswith(key + ".") for f in filled):
            subs = [k for k, i in infos.items() if k.startswith(key + ".") and i.required]
            if not subs:  # else the required sub-attributes are named instead
                missing.append(info.name or key)
    return sorted(missing)


def filler_hint(path: str, where: Mapping[str, AttributePath]) -> str:
    """How to fill a required attribute: the mapping field that goes there, if there is one."""
    fields = [f for f in ALL_FIELDS if where[scim_field(f)].full.lower() == path.lower()]
    if fields:
        return f"map {fields[0]} to a HiBob field (`hibob-sync map set {fields[0]} <HiBob field>`)"
    return "point a field at it with hithrive.attributes, or ask the app to make it optional"
