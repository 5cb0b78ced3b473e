"""Read HiBob: the field catalogue and one people search, as plain data.

HiBob silently leaves out fields the service user may not read (and unknown field IDs), so a
search reports which mapping sources came back; ``missing_fields`` turns that into the
category an admin must grant. Answers may nest values by path or key them by slash paths;
both parse to the same result. Dates are read from machine values (display dates may follow a
locale), list fields from display values (the machine value is a list item ID).

No value read from HiBob is ever logged: only counts.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ijson
import requests

from hibob_sync.errors import CredentialsError, PermissionMissingError, RemoteError
from hibob_sync.http import HttpSettings, make_session, send

log = logging.getLogger(__name__)

SERVICE = "HiBob"
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


@dataclass(frozen=True)
class SearchResult:
    """A search's employees, what was requested, and which sources came back at all."""

    employees: list[HibobEmployee]
    requested: tuple[str, ...]
    present: frozenset[str]


@dataclass(frozen=True)
class MissingField:
    """A mapping source no employee came back with, and the category to grant (if known)."""

    source: str
    category_name: str | None


class HibobClient:
    """HiBob's people API for one service user; every call goes through the shared retry."""

    def __init__(self, base_url: str, user_id: str, token: str, http: HttpSettings) -> None:
        self._base = base_url.rstrip("/")
        self._http = http
        self._session = make_session(http)
        self._session.auth = (user_id, token)
        self._session.headers["Accept"] = "application/json"

    def __repr__(self) -> str:
        return f"HibobClient({self._base!r}, user_id=<hidden>, token=<hidden>)"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HibobClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fields(self) -> list[CatalogueField]:
        """The company's field catalogue, to resolve mapping sources and name categories."""
        body = self._call("GET", "/company/people/fields", "the field catalogue")
        entries = body.get("fields") if isinstance(body, dict) else body
        if not isinstance(entries, list):
            raise _shape_error("the field catalogue", "a list of fields")
        catalogue: list[CatalogueField] = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            category_id = _text(entry.get("categoryId"))
            catalogue.append(
                CatalogueField(
                    id=entry["id"],
                    name=_text(entry.get("name")) or entry["id"],
                    category_id=category_id,
                    category_name=_text(entry.get("categoryDisplayName")) or category_id,
                    type=_text(entry.get("type")),
                    json_path=_text(entry.get("jsonPath")),
                )
            )
        if entries and not catalogue:
            raise _shape_error("the field catalogue", "fields with an 'id'")
        log.debug("HiBob: %d catalogue fields", len(catalogue))
        return catalogue

    def search(
        self,
        sources: Sequence[str],
        *,
        catalogue: Sequence[CatalogueField] | None = None,
        show_inactive: bool = True,
        email: str | None = None,
        employee_id: str | None = None,
    ) -> SearchResult:
        """Every employee (one answer: HiBob does not page) with the mapped sources' values."""
        if email is not None and employee_id is not None:
            raise ValueError("HiBob takes one filter: pass email or employee_id, not both")
        index = _index(catalogue)
        wanted = _unique(sources)
        fields = request_fields(wanted, catalogue)
        body: dict[str, Any] = {
            "fields": list(fields),
            "showInactive": show_inactive,
            "humanReadable": "APPEND",
        }
        if email is not None:
            body["filters"] = [_filter("root.email", email)]
        elif employee_id is not None:
            body["filters"] = [_filter("root.id", employee_id)]
        log.debug("HiBob people search: %d fields requested", len(fields))
        readers = {source: _Reader(source, index) for source in (*REQUIRED_FIELDS, *wanted)}
        result = self._call(
            "POST",
            "/people/search",
            "the people search",
            json=body,
            parse=lambda content: _parse_search(content, wanted, readers),
        )
        if not isinstance(result, _Parsed):
            raise _shape_error("the people search", 'an "employees" list')
        if result.skipped:
            log.warning(
                "HiBob returned %d employees without an ID; they were skipped", result.skipped
            )
        log.debug("HiBob people search: %d employees returned", len(result.employees))
        return SearchResult(result.employees, fields, frozenset(result.present))

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """One request under the retry policy; the decoded body of a 2xx answer."""
        response, body = send(
            self._session, self._http, SERVICE, method, self._base + path, **kwargs
        )
        _raise_for_status(response, body, what)
        return body


def request_fields(
    sources: Iterable[str], catalogue: Sequence[CatalogueField] | None = None
) -> tuple[str, ...]:
    """The field IDs a search puts on the wire: the required ones plus the mapping's.

    A source below a catalogue field (``work.reportsTo.email``) asks for that field; without a
    catalogue, sources are asked for as given.
    """
    index = _index(catalogue)
    fields = list(REQUIRED_FIELDS)
    for source in _unique(sources):
        known = _catalogue_field(source, index)
        fields.append(known.id if known is not None else source)
    return tuple(dict.fromkeys(fields))


def missing_fields(
    result: SearchResult, sources: Sequence[str], catalogue: Sequence[CatalogueField]
) -> list[MissingField]:
    """The permission probe: sources no employee came back with, and the category to grant.

    With no employees in the result every source counts as missing (nothing could be read).
    """
    index = _index(catalogue)
    missing: list[MissingField] = []
    for source in _unique(sources):
        if source in result.present:
            continue
        known = _catalogue_field(source, index)
        category = (known.category_name or known.category_id or None) if known else None
        missing.append(MissingField(source, category))
    return missing


def unknown_sources(sources: Sequence[str], catalogue: Sequence[CatalogueField]) -> list[str]:
    """Mapping sources that are neither a catalogue field nor a sub-path of one."""
    index = _index(catalogue)
    return [s for s in _unique(sources) if _catalogue_field(s, index) is None]


# -- request helpers ---------------------------------------------------------------------------
def _unique(sources: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(s.strip() for s in sources if s and s.strip()))


def _index(catalogue: Sequence[CatalogueField] | None) -> dict[str, CatalogueField]:
    return {f.id: f for f in catalogue or ()}


def _catalogue_field(source: str, index: Mapping[str, CatalogueField]) -> CatalogueField | None:
    """The catalogue field a source is, or the nearest one it is a sub-path of."""
    if source in index:
        return index[source]
    parts = source.split(".")
    for end in range(len(parts) - 1, 0, -1):
        parent = index.get(".".join(parts[:end]))
        if parent is not None:
            return parent
    return None


def _filter(field_path: str, value: str) -> dict[str, Any]:
    return {"fieldPath": field_path, "operator": "equals", "values": [value]}


# -- answer checks -----------------------------------------------------------------------------
def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _shape_error(what: str, expected: str) -> RemoteError:
    return RemoteError(
        f"HiBob answered {what} with an unexpected shape (expected {expected})",
        status=200,
        hint="check hibob.base_url in the config: it should end in /v1",
    )


def _raise_for_status(response: requests.Response, body: Any, what: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 401:
        raise CredentialsError(
            "HiBob rejected the service user ID or token",
            hint="run `hibob-sync connect` to store the service user's current ID and token",
        )
    if status == 403:
        raise PermissionMissingError(
            "HiBob refused access: the service user is in no permission group "
            "or may not view people",
            hint="in HiBob, add the service user to a permission group that can view people "
            "and the mapped fields' categories, then run `hibob-sync check`",
        )
    detail = ""
    if isinstance(body, dict):
        detail = _text(body.get("error")) or _text(body.get("message"))
    detail = (detail or response.reason or "no details").strip()[:300]
    hint = None
    if status == 404:
        hint = "check hibob.base_url in the config (e.g. https://api.hibob.com/v1)"
    elif status == 400:
        hint = "check the mapped HiBob field IDs with `hibob-sync map validate`"
    raise RemoteError(
        f"HiBob answered {what} with HTTP {status}: {detail}", status=status, hint=hint
    )


# -- reading answers ---------------------------------------------------------------------------
@dataclass
class _Parsed:
    employees: list[HibobEmployee]
    present: set[str]
    skipped: int


def _parse_search(content: bytes, wanted: Sequence[str], readers: Mapping[str, _Reader]) -> _Parsed:
    """Read the people search one employee at a time.

    HiBob sends every employee in one answer; streaming it (ijson) keeps only one raw
    employee in memory at a time instead of the whole decoded tree, which for a large
    company is most of the run's memory. A broken body raises ValueError (retried).
    """
    parsed = _Parsed([], set(), 0)
    try:
        for item in ijson.items(content, "employees.item", use_float=True):
            if not isinstance(item, dict):
                raise _shape_error("the people search", 'an "employees" list of objects')
            employee = _employee(item, wanted, readers)
            if employee is None:
                parsed.skipped += 1
                continue
            parsed.employees.append(employee)
            parsed.present.update(employee.values)
    except ijson.JSONError as exc:
        raise ValueError(f"incomplete or invalid JSON: {exc}") from None
    if not parsed.employees and not parsed.skipped:
        # Nothing streamed: an empty list, or no "employees" list at all?
        whole = json.loads(content)
        if not isinstance(whole, dict) or not isinstance(whole.get("employees"), list):
            raise _shape_error("the people search", 'an "employees" list')
    return parsed


class _Path:
    """One place a value may sit: nested keys, and the slash keys of it and its parents."""

    __slots__ = ("parts", "slash")

    def __init__(self, parts: Sequence[str]) -> None:
        self.parts = tuple(parts)
        self.slash = tuple(
            ("/" + "/".join(parts[:end]), tuple(parts[end:])) for end in range(len(parts), 0, -1)
        )


class _Reader:
    """Finds one source's value in an employee, in nested or slash-keyed form."""

    def __init__(self, source: str, index: Mapping[str, CatalogueField]) -> None:
        known = _catalogue_field(source, index)
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

    def read(self, employee: _Node) -> object:
        """The value to use, or _MISSING when HiBob left the field out."""
        for path in self.paths:
            machine, display = _locate(employee, path)
            if machine is not _MISSING or display is not _MISSING:
                return self._choose(machine, display)
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
            return machine
        if display is None and self.type not in LIST_TYPES:
            return machine
        return display


class _Node:
    """An employee object (or its humanReadable part), with its shape worked out once."""

    __slots__ = ("data", "readable", "slash")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.slash = any(key[:1] == "/" for key in data)
        readable = data.get("humanReadable")
        self.readable = _Node(readable) if isinstance(readable, dict) else None


def _locate(node: _Node, path: _Path) -> tuple[object, object]:
    """Machine and display value at a path (_MISSING where absent), either answer shape."""
    data = node.data
    if node.slash:
        for key, rest in path.slash:
            entry = data.get(key, _MISSING)
            if entry is _MISSING:
                continue
            if isinstance(entry, dict) and "value" in entry:
                shown = entry.get("humanReadable", _MISSING)
                display = _MISSING if shown is _MISSING else _walk(shown, rest)
                return _walk(entry["value"], rest), display
            return _walk(entry, rest), _MISSING
    machine = _walk(data, path.parts)
    display = _locate(node.readable, path)[0] if node.readable is not None else _MISSING
    return machine, display


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
