"""Parse HiBob's people search answer into plain employees: pure, no HTTP.

HiBob's reference says an employee's values may be keyed by slash paths
(``"/work/department": {"value": "209192163"}``) or nested (``{"work": {"department": ...}}``),
and its lists guide shows both at once in one employee. Display values (list item names;
dates in the caller's locale) come in one employee-level ``humanReadable`` object nested by
path; no source puts them inside a slash entry. So: machine values from whichever shape is
there, display values from the employee-level ``humanReadable``, dates from machine values
only, list fields from display values (the machine value is a list item ID).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import ijson

from hibob_sync.bounded import too_deep
from hibob_sync.errors import RemoteError
from hibob_sync.hibob.records import read_record, split_records, unreadable

# Always requested: the stable key and what decides whether an account is active.
REQUIRED_FIELDS: tuple[str, ...] = (
    "root.id",
    "internal.lifecycleStatus",
    "internal.status",
    "internal.terminationDate",
)
LIST_TYPES = frozenset({"list", "multi-list", "hierarchy-list"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MISSING: Any = object()  # "HiBob left this out", as opposed to a null value


@dataclass(frozen=True)
class CatalogueField:
    """One entry of HiBob's field catalogue; the category is what an admin grants."""

    id: str
    name: str
    category_id: str
    category_name: str
    type: str
    json_path: str = ""


@dataclass(frozen=True)
class HibobEmployee:
    """One employee: identity, lifecycle, and the mapped source values HiBob returned."""

    id: str
    lifecycle_status: str | None
    status: str | None
    termination_date: str | None
    values: dict[str, object]
    # Why HiBob's record of this employee could not be read in full (it is set aside, named).
    problem: str | None = None


@dataclass(frozen=True)
class MissingField:
    """A mapping source no employee came back with, and the category to grant (if known)."""

    source: str
    category_name: str | None


@dataclass(frozen=True)
class HibobData:
    """What HiBob gave a run: the employees, its catalogue, and which mapped fields came back."""

    employees: list[HibobEmployee]
    catalogue: list[CatalogueField] | None  # None where HiBob would not give it
    missing: list[MissingField]  # mapped sources that came back for nobody
    coverage: set[str]  # mapped sources that came back for someone

    def category_of(self, field_id: str) -> str | None:
        """The catalogue category of a field (what an admin grants), if known."""
        for entry in self.catalogue or ():
            if entry.id == field_id:
                return entry.category_name
        return None


@dataclass
class ParsedSearch:
    """What one answer held: employees, the sources seen at all, and how many had no ID."""

    employees: list[HibobEmployee]
    present: set[str]
    skipped: int
    # List fields whose value came without a display value: the list item ID was kept.
    undisplayed: dict[str, int] = field(default_factory=dict)


def catalogue_entry(entry: object) -> CatalogueField | None:
    """One catalogue entry, or None when it has no ID.

    Older tenants (and HiBob's older OpenAPI) carry only ``category``, the category ID,
    without ``categoryId``/``categoryDisplayName``: fall back to it.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        return None
    category_id = text(entry.get("categoryId")) or text(entry.get("category"))
    return CatalogueField(
        id=entry["id"],
        name=text(entry.get("name")) or entry["id"],
        category_id=category_id,
        category_name=text(entry.get("categoryDisplayName")) or category_id,
        type=text(entry.get("type")),
        json_path=text(entry.get("jsonPath")),
    )


def unique(sources: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(s.strip() for s in sources if s and s.strip()))


def index_of(catalogue: Sequence[CatalogueField] | None) -> dict[str, CatalogueField]:
    return {f.id: f for f in catalogue or ()}


def catalogue_field(source: str, index: Mapping[str, CatalogueField]) -> CatalogueField | None:
    """The catalogue field a source is, or the nearest one it is a sub-path of."""
    if source in index:
        return index[source]
    parts = source.split(".")
    for end in range(len(parts) - 1, 0, -1):
        parent = index.get(".".join(parts[:end]))
        if parent is not None:
            return parent
    return None


def text(value: object) -> str:
    return value if isinstance(value, str) else ""


def shape_error(what: str, expected: str) -> RemoteError:
    return RemoteError(
        f"HiBob answered {what} with an unexpected shape (expected {expected})",
        status=200,
        hint="check hibob.base_url in the config: it should end in /v1",
    )


def parse_search(
    content: bytes, wanted: Sequence[str], catalogue: Sequence[CatalogueField] | None
) -> ParsedSearch:
    """Read the people search one employee at a time.

    HiBob sends every employee in one answer; streaming it (ijson) keeps only one raw
    employee in memory at a time instead of the whole decoded tree, which for a large
    company is most of the run's memory. Its nesting is bounded first (a streaming parse
    of deep JSON needs memory growing with the square of the depth). An answer the stream
    cannot read is read record by record (hibob.records): a broken record sets its
    employee aside, named; a broken answer raises ValueError (retried).
    """
    index = index_of(catalogue)
    if too_deep(content):  # raises BrokenAnswer (a ValueError) where brackets do not pair
        return _by_record(content, wanted, index)
    readers = _readers(wanted, index)
    parsed = ParsedSearch([], set(), 0)
    try:
        for item in ijson.items(content, "employees.item", use_float=True):
            if not isinstance(item, dict):
                raise shape_error("the people search", 'an "employees" list of objects')
            _add(parsed, _employee(item, wanted, readers))
    except ijson.JSONError:
        return _by_record(content, wanted, index)
    parsed.undisplayed = {s: readers[s].undisplayed for s in wanted if readers[s].undisplayed}
    if not parsed.employees and not parsed.skipped:
        # Nothing streamed: an empty list, or no "employees" list at all?
        whole = json.loads(content)
        if not isinstance(whole, dict) or not isinstance(whole.get("employees"), list):
            raise shape_error("the people search", 'an "employees" list')
    return parsed


def _readers(wanted: Sequence[str], index: Mapping[str, CatalogueField]) -> dict[str, _Reader]:
    return {source: _Reader(source, index) for source in (*REQUIRED_FIELDS, *wanted)}


def _add(parsed: ParsedSearch, employee: HibobEmployee | None) -> None:
    if employee is None:
        parsed.skipped += 1
        return
    parsed.employees.append(employee)
    parsed.present.update(employee.values)


def _by_record(
    content: bytes, wanted: Sequence[str], index: Mapping[str, CatalogueField]
) -> ParsedSearch:
    """The answer read one record at a time (see hibob.records); slow, for a broken answer."""
    readers, marking = _readers(wanted, index), _readers(wanted, index)
    parsed = ParsedSearch([], set(), 0)
    for start, end in split_records(content):
        record = read_record(content[start:end])
        if record.data is None:
            if record.fallback_id and record.problem:
                named = HibobEmployee(record.fallback_id, None, None, None, {}, record.problem)
                _add(parsed, named)
            else:
                parsed.skipped += 1
            continue
        employee = _employee(record.data, wanted, readers)
        if employee is not None and record.marked is not None:
            employee = _with_problem(employee, _employee(record.marked, wanted, marking))
        _add(parsed, employee)
    parsed.undisplayed = {s: readers[s].undisplayed for s in wanted if readers[s].undisplayed}
    return parsed


def _with_problem(employee: HibobEmployee, marked: HibobEmployee | None) -> HibobEmployee | None:
    """The employee set aside, naming the fields HiBob sent unreadable (none: as it is);
    None where the ID itself is unreadable (a mangled ID would name nobody: skipped)."""
    if marked is None or unreadable(marked.id):
        return None
    identity = {
        "internal.lifecycleStatus": marked.lifecycle_status,
        "internal.status": marked.status,
        "internal.terminationDate": marked.termination_date,
    }
    found: dict[str, list[str]] = {}
    for source, value in (*identity.items(), *marked.values.items()):
        why = unreadable(value)
        if why is not None:
            found.setdefault(why, []).append(source)
    if not found:
        return employee  # only fields the tool does not read were unreadable
    problem = "; ".join(f"HiBob sent {', '.join(fields)} {why}" for why, fields in found.items())
    return replace(employee, problem=problem)


class _Path:
    """One place a value may sit: nested keys, and the slash keys of it and its parents."""

    __slots__ = ("parts", "slash")

    def __init__(self, parts: Sequence[str]) -> None:
        self.parts = tuple(parts)
        self.slash = tuple(
            ("/" + "/".join(parts[:end]), tuple(parts[end:])) for end in range(len(parts), 0, -1)
        )


class _Reader:
    """Finds one source's machine and display value in an employee, whatever its shape."""

    def __init__(self, source: str, index: Mapping[str, CatalogueField]) -> None:
        known = catalogue_field(source, index)
        self.type = known.type if known is not None and known.id == source else ""
        parts = source.split(".")
        paths: list[tuple[str, ...]] = []
        if known is not None and known.json_path and known.json_path != known.id:
            rest = parts[len(known.id.split(".")) :]
            paths.append((*known.json_path.split("."), *rest))
        paths.append(tuple(parts))
        if parts[0] == "root" and len(parts) > 1:
            paths.append(tuple(parts[1:]))  # HiBob puts root fields at the top of an employee
        self.paths = [_Path(p) for p in dict.fromkeys(paths)]
        self.undisplayed = 0

    def read(self, employee: _Node) -> object:
        """The value to use, or _MISSING when HiBob left the field out."""
        machine = self._find(employee)
        readable = employee.readable
        display = _MISSING if readable is None else self._find(readable)
        if machine is _MISSING and display is _MISSING:
            return _MISSING
        return self._choose(machine, display)

    def _find(self, node: _Node) -> object:
        for path in self.paths:
            value = _locate(node, path)
            if value is not _MISSING:
                return value
        return _MISSING

    def _choose(self, machine: object, display: object) -> object:
        is_date = self.type == "date" or (isinstance(machine, str) and _ISO_DATE.match(machine))
        if machine is _MISSING:
            # Only a display value: fine for text, but a locale-formatted date is not usable.
            if is_date and not (isinstance(display, str) and _ISO_DATE.match(display)):
                return None if display is None else _MISSING
            return display
        if is_date or isinstance(machine, dict):
            return machine
        if display is _MISSING or isinstance(display, dict):
            if display is _MISSING and machine is not None and self.type in LIST_TYPES:
                self.undisplayed += 1
            return machine
        if display is None and self.type not in LIST_TYPES:
            return machine
        return display


class _Node:
    """An employee object (or its humanReadable part), with its shape worked out once."""

    __slots__ = ("data", "readable", "slash")

    def __init__(self, data: Mapping[str, Any], top: bool = True) -> None:
        self.data = data
        self.slash = any(key[:1] == "/" for key in data)
        readable = data.get("humanReadable") if top else None
        self.readable = _Node(readable, top=False) if isinstance(readable, dict) else None


def _locate(node: _Node, path: _Path) -> object:
    """The value at a path (_MISSING where absent): a slash entry first, then nested keys."""
    data = node.data
    if node.slash:
        for key, rest in path.slash:
            entry = data.get(key, _MISSING)
            if entry is _MISSING:
                continue
            value = _walk(entry["value"] if _is_entry(entry) else entry, rest)
            if value is not _MISSING:
                return value
    return _walk(data, path.parts)


def _is_entry(entry: object) -> bool:
    return isinstance(entry, dict) and "value" in entry


def _walk(node: object, parts: Sequence[str]) -> object:
    for part in parts:
        if node is None:
            return None  # a null parent (no manager) makes its sub-fields null, not missing
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _employee(
    item: Mapping[str, Any], wanted: Sequence[str], readers: Mapping[str, _Reader]
) -> HibobEmployee | None:
    node = _Node(item)
    raw_id = readers["root.id"].read(node)
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        return None
    values: dict[str, object] = {}
    for source in wanted:
        value = readers[source].read(node)
        if value is not _MISSING:
            values[source] = value
    return HibobEmployee(
        id=str(raw_id).strip(),
        lifecycle_status=_optional_text(readers["internal.lifecycleStatus"].read(node)),
        status=_optional_text(readers["internal.status"].read(node)),
        termination_date=_optional_text(readers["internal.terminationDate"].read(node)),
        values=values,
    )


def _optional_text(value: object) -> str | None:
    if value is _MISSING or value is None or isinstance(value, (dict, list)):
        return None
    return str(value)
