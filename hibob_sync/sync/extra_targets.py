"""Each `extra:` attribute against what the SCIM server announces in /Schemas.

Refused (78), naming the entry: an attribute the server does not announce (with the nearest
names it does), one it declares readOnly or immutable, a complex attribute without a
sub-attribute, and a type that cannot hold the source's values (a date into a boolean, a
multi-valued HiBob field into a single string with no value rule). What the server does not
describe is not judged: no /Schemas, no verdict.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.hibob.answers import CatalogueField, catalogue_field, index_of
from hibob_sync.kinds import fits
from hibob_sync.model import scim_field
from hibob_sync.scim.attributes import CORE_USER, AttributePath, extra_path
from hibob_sync.scim.discovery import AttributeInfo, ServerFeatures

# HiBob catalogue types that fill each SCIM type; types not listed are not judged.
_FILLS: dict[str, frozenset[str]] = {
    "boolean": frozenset({"boolean", "checkbox"}),
    "integer": frozenset({"number", "integer"}),
    "decimal": frozenset({"number", "integer", "currency", "percent", "decimal"}),
    "datetime": frozenset({"date", "datetime", "timestamp"}),
}
_HIBOB_KNOWN = frozenset(
    {"text", "textarea", "string", "list", "hierarchy-list", "email", "date", "number"}
    | {"boolean", "checkbox", "currency", "percent", "multi-list", "multi-select"}
    | {"employee-reference", "datetime", "timestamp", "integer", "decimal"}
)
_MULTI_SOURCES = frozenset({"multi-list", "multi-select"})


def _label(info_key: str) -> str:
    urn, _, name = info_key.rpartition(":")
    return name if urn.lower() == CORE_USER.lower() else info_key


def nearest(path: AttributePath, features: ServerFeatures, limit: int = 3) -> list[str]:
    """The announced User attributes closest to a mistyped one, as an admin writes them."""
    infos = features.attribute_info or {}
    schemas = {s.lower() for s in features.user_schemas or ()} or None
    candidates = [
        info.name or key
        for key, info in infos.items()
        if schemas is None or key.rpartition(":")[0] in schemas
    ]
    wanted = path.short.lower()
    scored = []
    for name in candidates:
        tail = name.rpartition(":")[2].lower()
        score = max(
            difflib.SequenceMatcher(None, wanted, tail).ratio(),
            difflib.SequenceMatcher(None, path.sub or path.name, tail.rpartition(".")[2]).ratio(),
        )
        scored.append((score, _label(name)))
    scored.sort(key=lambda pair: -pair[0])
    return [name for score, name in scored[:limit] if score >= 0.5]


def _shape(path: AttributePath, infos: Mapping[str, AttributeInfo]) -> str | None:
    """The attribute and its parent as /Schemas describes them: None when writable."""
    info = infos[path.full.lower()]
    whole = infos.get(path.whole.full.lower()) if path.sub else None
    if whole is not None and (whole.read_only or whole.immutable):
        return f"{path.whole.short} is {'readOnly' if whole.read_only else 'immutable'} there"
    if info.read_only or info.immutable:
        return f"is {'readOnly' if info.read_only else 'immutable'} on this server"
    if path.type_filter is not None:
        if whole is None or not whole.multi_valued:
            return f"{path.name} is not multi-valued, so it takes no [type eq ...] filter"
        if f"{path.whole.full.lower()}.type" not in infos:
            return f"the items of {path.name} have no type to filter on"
    elif whole is not None and whole.multi_valued:
        return (
            f"{path.name} is multi-valued: say which item, "
            f'e.g. {path.name}[type eq "work"].{path.sub}'
        )
    if info.type == "complex":
        subs = sorted(
            _label(i.name or k) for k, i in infos.items() if k.startswith(path.full.lower() + ".")
        )
        return "is a complex attribute: map one of its sub-attributes" + (
            f" ({', '.join(subs[:6])})" if subs else ""
        )
    if info.type == "binary":
        return "is binary, which no HiBob field fills"
    return None


def _type_problem(
    key: str,
    info: AttributeInfo,
    mapping: FieldMapping,
    catalogue: Sequence[CatalogueField] | None,
) -> str | None:
    """Whether the source's kind (and the rule's own values) can fill the attribute's type."""
    rule = mapping.rule(key)
    for written in rule.outputs():
        if not fits(written, info.type):
            return f"the value rule writes {written!r}, which a {info.type} attribute cannot hold"
    if catalogue is None:
        return None
    index = index_of(catalogue)
    for source in mapping.extra[key]:
        entry = catalogue_field(source, index)
        if entry is None or entry.id != source:
            continue  # unknown (named elsewhere) or a sub-field: not judged
        kind = entry.type.strip().lower()
        if kind not in _HIBOB_KNOWN:
            continue
        wanted = _FILLS.get(info.type)
        if wanted is not None and kind not in wanted and not rule.values:
            return (
                f"{source} is a {entry.type} field, which a {info.type} attribute cannot hold "
                "(add a `values:` rule that maps its values, or pick another field)"
            )
        if kind in _MULTI_SOURCES and not info.multi_valued and not rule:
            return (
                f"{source} holds several values, and the attribute holds one "
                "(add a value rule, or pick a single-valued field)"
            )
    return None


def extra_problems(
    mapping: FieldMapping,
    features: ServerFeatures,
    where: Mapping[str, AttributePath],
    catalogue: Sequence[CatalogueField] | None = None,
) -> list[tuple[str, str]]:
    """(extra attribute, what is wrong) for each entry the server cannot take."""
    problems: list[tuple[str, str]] = []
    taken = {where[scim_field(name)].full.lower(): name for name in mapping.fields}
    infos = features.attribute_info or {}
    schemas = {s.lower() for s in features.user_schemas or ()}
    for key in mapping.extra:
        path = where.get(key) or extra_path(key)
        owner = taken.get(path.full.lower()) or taken.get(path.whole.full.lower())
        if owner is not None:
            problems.append((key, f"is where {owner} is written already"))
            continue
        if features.attribute_info is None:
            continue
        if schemas and path.schema.lower() not in schemas:
            problems.append((key, f"the server's User has no schema {path.schema}"))
            continue
        info = infos.get(path.full.lower())
        if info is None:
            close = nearest(path, features)
            hint = f"; nearest: {', '.join(close)}" if close else ""
            problems.append((key, f"the SCIM server does not announce {path.label}{hint}"))
            continue
        wrong = _shape(path, infos) or _type_problem(key, info, mapping, catalogue)
        if wrong:
            problems.append((key, wrong))
    return problems
