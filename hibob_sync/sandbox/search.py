"""``POST /people/search`` as HiBob documents it: parse the body, pick fields, render.

What a service user may not read, and what the catalogue does not know, is left out silently,
exactly like HiBob does, so clients must compare what came back with what they asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Literal

from hibob_sync.sandbox.catalogue import FIELDS_BY_ID, REFERENCE_KEYS, FieldDef
from hibob_sync.sandbox.roster import Row, Snapshot

MAX_FIELDS = 400
FILTER_FIELDS = ("root.id", "root.email")
# Returned when a body names no fields at all (HiBob then answers with basic details).
DEFAULT_FIELDS: tuple[str, ...] = (
    "root.id",
    "root.email",
    "root.firstName",
    "root.surname",
    "root.displayName",
)
Shape = Literal["hybrid", "nested", "slash"]
SubPaths = Literal["value", "omit"]
# What a date of birth comes back as: "full", or under HiBob's older permission rule with View
# but not Edit on its category, "short" (MM-DD, no year) or "none" (left out).
BirthDates = Literal["full", "short", "none"]
BIRTH_DATE = "personal.birthDate"


class BadRequest(Exception):
    """A body HiBob would answer with 400."""

    def __init__(self, error: str, key: str = "badRequest") -> None:
        super().__init__(error)
        self.key = key
        self.error = error


@dataclass(frozen=True)
class SearchRequest:
    """A validated search body."""

    fields: tuple[str, ...]
    show_inactive: bool = False
    human_readable: str | None = None
    filter_field: str | None = None
    filter_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnswerOptions:
    """How this sandbox renders answers (HiBob's docs show several shapes, so all exist)."""

    shape: Shape = "hybrid"
    subpaths: SubPaths = "value"
    root_at_top: bool = True
    display_date_format: str = "%d/%m/%Y"
    birth_dates: BirthDates = "full"


def parse_search(raw: bytes) -> SearchRequest:
    """Validate a search body the way HiBob does; raise BadRequest otherwise."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest("The request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    fields = body.get("fields", list(DEFAULT_FIELDS))
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise BadRequest("'fields' must be a list of field IDs")
    if len(fields) > MAX_FIELDS:
        raise BadRequest(f"'fields' may hold at most {MAX_FIELDS} field IDs", "tooManyFields")
    show_inactive = body.get("showInactive", False)
    if not isinstance(show_inactive, bool):
        raise BadRequest("'showInactive' must be true or false")
    human_readable = body.get("humanReadable")
    if human_readable not in (None, "APPEND", "REPLACE"):
        raise BadRequest("'humanReadable' must be APPEND or REPLACE")
    filter_field, filter_values = _parse_filters(body.get("filters"))
    return SearchRequest(
        tuple(dict.fromkeys(fields)), show_inactive, human_readable, filter_field, filter_values
    )


def _parse_filters(filters: object) -> tuple[str | None, tuple[str, ...]]:
    if filters is None:
        return None, ()
    if filters == []:
        # hibob-api.md: HiBob can refuse an empty filter list; clients must leave it out.
        raise BadRequest("'filters' must not be empty: leave it out when there is no filter")
    if not isinstance(filters, list) or len(filters) != 1 or not isinstance(filters[0], dict):
        raise BadRequest("'filters' must hold exactly one filter")
    spec = filters[0]
    field_path, operator, values = spec.get("fieldPath"), spec.get("operator"), spec.get("values")
    if field_path not in FILTER_FIELDS:
        raise BadRequest("Filtering is supported on root.id and root.email only")
    if operator != "equals":
        raise BadRequest("The only supported filter operator is 'equals'")
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise BadRequest("A filter needs 'values': a list of strings")
    return str(field_path), tuple(values)


@dataclass(frozen=True)
class _Plan:
    field_id: str
    sub: str | None
    path: tuple[str, ...]
    slash_key: str
    display: Callable[[list[object]], list[object]]


def _plans(
    request: SearchRequest, granted: frozenset[str], options: AnswerOptions, snapshot: Snapshot
) -> list[_Plan]:
    plans: list[_Plan] = []
    for requested in request.fields:
        fdef = FIELDS_BY_ID.get(requested)
        sub: str | None = None
        if fdef is None:
            parent_id, _, sub = requested.rpartition(".")
            fdef = FIELDS_BY_ID.get(parent_id)
            if (
                fdef is None
                or options.subpaths == "omit"
                or fdef.type != "employee-reference"
                or sub not in REFERENCE_KEYS
            ):
                continue  # unknown to HiBob: silently left out
        if fdef.category_id not in granted:
            continue  # not readable by this service user: silently left out
        if fdef.id == BIRTH_DATE and options.birth_dates == "none":
            continue  # View without Edit under the older permission rule: nothing
        base = fdef.json_path(options.root_at_top).split(".")
        path = (*base, sub) if sub else tuple(base)
        display = _display_function(fdef, sub, snapshot, options.display_date_format)
        plans.append(_Plan(fdef.id, sub, path, "/" + requested.replace(".", "/"), display))
    return plans


@lru_cache(maxsize=65536)
def _format_date(value: str, fmt: str) -> str:
    try:
        return date.fromisoformat(value).strftime(fmt)
    except ValueError:
        return value


def _display_function(
    fdef: FieldDef, sub: str | None, snapshot: Snapshot, date_format: str
) -> Callable[[list[object]], list[object]]:
    """How HiBob turns machine values into the text a person sees (a column at a time)."""
    if sub is not None:
        return lambda column: column
    if fdef.type == "list":
        items: dict[object, str] = {}
        items.update(snapshot.lists[fdef.id])
        return lambda column: list(map(items.get, column))
    if fdef.type == "date":
        return lambda column: [
            None if v is None else _format_date(str(v), date_format) for v in column
        ]
    if fdef.type == "employee-reference":
        return lambda column: [
            v.get("displayName") if isinstance(v, dict) else None for v in column
        ]
    if fdef.type == "number":
        return lambda column: [None if v is None else str(v) for v in column]
    return lambda column: column


def select_rows(
    snapshot: Snapshot, request: SearchRequest, see_inactive: bool, employed_only: bool = False
) -> list[Row]:
    """Apply the filter, the people scope and the active-only rule.

    A people scope condition "lifecycle status is Employed" filters on the lifecycle status,
    not the access status: it hides Hired, on-leave and garden-leave people too (hibob-api.md).
    """
    rows: Sequence[Row] = snapshot.rows
    if request.filter_field == "root.id":
        rows = [snapshot.by_id[v] for v in request.filter_values if v in snapshot.by_id]
    elif request.filter_field == "root.email":
        keys = {v.strip().casefold() for v in request.filter_values}
        rows = [row for row in rows if row.email_key in keys]
    if employed_only:
        rows = [row for row in rows if row.lifecycle == "Employed"]
    if see_inactive:
        return list(rows)
    return [row for row in rows if row.active]


def render(
    snapshot: Snapshot,
    request: SearchRequest,
    granted: frozenset[str],
    see_inactive: bool,
    options: AnswerOptions,
    employed_only: bool = False,
) -> bytes:
    """The whole ``{"employees": [...]}`` answer, built column by column and serialised once.

    Column-wise building (``dict(zip(keys, values))``) keeps 50,000 employees fast.
    """
    plans = _plans(request, granted, options, snapshot)
    rows = select_rows(snapshot, request, see_inactive, employed_only)
    machines = [row.machine for row in rows]
    mode = request.human_readable
    columns = _Columns(machines, options.birth_dates == "short")
    employees: list[dict[str, Any]]
    replace = mode == "REPLACE"
    tree = _tree(plans)
    if options.shape == "nested":
        employees = columns.nested(tree, replace)
    else:
        # Slash entries hold only "value" (HiBob's lists guide): no per-entry display value.
        entries: list[list[dict[str, object]]] = []
        for plan in plans:
            values = columns.machine(plan)
            shown = plan.display(values) if replace else values
            entries.append([{"value": v} for v in shown])
        employees = _rows(len(machines), [p.slash_key for p in plans], entries)
        if options.shape == "hybrid":
            for employee, nested in zip(employees, columns.nested(tree, replace), strict=True):
                employee.update(nested)
    if mode == "APPEND":
        # One employee-level object nested by path; null values have no display value.
        readable = columns.nested(tree, True, drop_null=True)
        for employee, display in zip(employees, readable, strict=True):
            employee["humanReadable"] = display
    body = {"employees": employees}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _rows(count: int, keys: list[str], columns: list[list[Any]]) -> list[dict[str, Any]]:
    if not keys:
        return [{} for _ in range(count)]
    return [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]


class _Columns:
    """Per-field value columns of one answer, each computed once."""

    def __init__(self, machines: list[dict[str, object]], short_birth_dates: bool) -> None:
        self._machines = machines
        self._short_birth_dates = short_birth_dates
        self._cache: dict[tuple[str, str | None], list[object]] = {}

    def machine(self, plan: _Plan) -> list[object]:
        key = (plan.field_id, plan.sub)
        column = self._cache.get(key)
        if column is None:
            field_id = plan.field_id
            column = [m.get(field_id) for m in self._machines]
            if field_id == BIRTH_DATE and self._short_birth_dates:
                column = [v[5:] if isinstance(v, str) else v for v in column]  # MM-DD
            if plan.sub is not None:
                sub = plan.sub
                column = [v.get(sub) if isinstance(v, dict) else None for v in column]
            self._cache[key] = column
        return column

    def nested(self, tree: _Tree, display: bool, drop_null: bool = False) -> list[dict[str, Any]]:
        keys: list[str] = []
        columns: list[list[Any]] = []
        for key, item in tree:
            keys.append(key)
            if isinstance(item, list):
                columns.append(self.nested(item, display, drop_null))
            else:
                values = self.machine(item)
                columns.append(item.display(values) if display else values)
        rows = _rows(len(self._machines), keys, columns)
        if drop_null:
            return [{k: v for k, v in row.items() if v is not None} for row in rows]
        return rows


# A request's nesting, computed once: (key, plan) leaves and (key, subtree) branches.
_Tree = list[tuple[str, "_Plan | _Tree"]]


def _tree(plans: list[_Plan]) -> _Tree:
    """Nest plans by path; a whole object wins over a sub-path of it requested alongside."""
    root: dict[str, Any] = {}
    for plan in plans:
        node = root
        for key in plan.path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[plan.path[-1]] = plan

    def freeze(node: dict[str, Any]) -> _Tree:
        return [(k, freeze(v) if isinstance(v, dict) else v) for k, v in node.items()]

    return freeze(root)
