"""Read HiBob: the field catalogue and one people search, as plain data.

HiBob silently leaves out fields the service user may not read (and unknown field IDs), so a
search reports which mapping sources came back; ``missing_fields`` turns that into the
category an admin must grant. Parsing the answer (its shapes, display values, dates) lives in
``hibob_answers``; this module is the HTTP side.

No value read from HiBob is ever logged: only counts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from hibob_sync import bounded
from hibob_sync.credentials import HIBOB_TOKEN, replace_hint
from hibob_sync.errors import ConfigError, CredentialsError, PermissionMissingError, RemoteError
from hibob_sync.hibob.answers import (
    LIST_TYPES,
    REQUIRED_FIELDS,
    CatalogueField,
    HibobEmployee,
    MissingField,
    ParsedSearch,
    catalogue_entry,
    catalogue_field,
    index_of,
    parse_search,
    shape_error,
    text,
    unique,
)
from hibob_sync.http import HttpSettings, make_session, redirect_target, send
from hibob_sync.safe_text import shown

__all__ = [
    "LIST_TYPES",
    "REQUIRED_FIELDS",
    "CatalogueField",
    "HibobClient",
    "HibobEmployee",
    "MissingField",
    "SearchResult",
    "missing_fields",
    "request_fields",
    "unknown_sources",
]

log = logging.getLogger(__name__)

SERVICE = "HiBob"


@dataclass(frozen=True)
class SearchResult:
    """A search's employees, what was requested, and which sources came back at all."""

    employees: list[HibobEmployee]
    requested: tuple[str, ...]
    present: frozenset[str]


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
        body = self._call(
            "GET", "/company/people/fields", "the field catalogue", limit=bounded.HIBOB_CATALOGUE
        )
        entries = body.get("fields") if isinstance(body, dict) else body
        if not isinstance(entries, list):
            raise shape_error("the field catalogue", "a list of fields")
        catalogue = [f for f in map(catalogue_entry, entries) if f is not None]
        if entries and not catalogue:
            raise shape_error("the field catalogue", "fields with an 'id'")
        log.debug("HiBob: %d catalogue fields", len(catalogue))
        return catalogue

    def search(
        self,
        sources: Sequence[str],
        *,
        catalogue: Sequence[CatalogueField] | None = None,
        show_inactive: bool = True,
        email: str | Sequence[str] | None = None,
        employee_id: str | Sequence[str] | None = None,
    ) -> SearchResult:
        """Every employee (one answer: HiBob does not page) with the mapped sources' values;
        or only those with one of these emails, or these IDs (one filter per search)."""
        if email is not None and employee_id is not None:
            raise ValueError("HiBob takes one filter: pass email or employee_id, not both")
        wanted = unique(sources)
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
        result = self._call(
            "POST",
            "/people/search",
            "the people search",
            json=body,
            parse=lambda content: parse_search(content, wanted, catalogue),
            limit=bounded.HIBOB_SEARCH,
        )
        if not isinstance(result, ParsedSearch):
            raise shape_error("the people search", 'an "employees" list')
        for source, count in result.undisplayed.items():
            log.warning(
                "HiBob sent no display value for %d values of the list field %s; "
                "their list item IDs are used instead",
                count,
                source,
            )
        if result.skipped:
            log.warning(
                "HiBob returned %d employees without an ID; they were skipped", result.skipped
            )
        log.debug("HiBob people search: %d employees returned", len(result.employees))
        return SearchResult(result.employees, fields, frozenset(result.present))

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """One request under the retry policy; the decoded body of a 2xx answer."""
        response, body = send(
            self._session,
            self._http,
            SERVICE,
            method,
            self._base + path,
            setting="hibob.base_url",
            **kwargs,
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
    index = index_of(catalogue)
    fields = list(REQUIRED_FIELDS)
    for source in unique(sources):
        known = catalogue_field(source, index)
        fields.append(known.id if known is not None else source)
    return tuple(dict.fromkeys(fields))


def missing_fields(
    result: SearchResult, sources: Sequence[str], catalogue: Sequence[CatalogueField]
) -> list[MissingField]:
    """The permission probe: sources no employee came back with, and the category to grant.

    With no employees in the result every source counts as missing (nothing could be read).
    """
    index = index_of(catalogue)
    missing: list[MissingField] = []
    for source in unique(sources):
        if source in result.present:
            continue
        known = catalogue_field(source, index)
        category = (known.category_name or known.category_id or None) if known else None
        missing.append(MissingField(source, category))
    return missing


def unknown_sources(sources: Sequence[str], catalogue: Sequence[CatalogueField]) -> list[str]:
    """Mapping sources that are neither a catalogue field nor a sub-path of one."""
    index = index_of(catalogue)
    return [s for s in unique(sources) if catalogue_field(s, index) is None]


# -- request helpers ---------------------------------------------------------------------------
def _filter(field_path: str, value: str | Sequence[str]) -> dict[str, Any]:
    values = [value] if isinstance(value, str) else list(value)
    return {"fieldPath": field_path, "operator": "equals", "values": values}


# -- answer checks -----------------------------------------------------------------------------
def _raise_for_status(response: requests.Response, body: Any, what: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        # Never followed: a redirect of a read means the URL is not HiBob's API.
        raise ConfigError(
            f"hibob.base_url looks wrong: {what} at {shown(response.url)} answered HTTP {status}, "
            f"a redirect to {redirect_target(response)}, which is never followed",
            hint="set hibob.base_url to https://api.hibob.com/v1 "
            "(sandbox tenants: https://api.sandbox.hibob.com/v1)",
        )
    if status == 401:
        raise CredentialsError(
            "HiBob rejected the service user ID or token",
            hint=replace_hint(HIBOB_TOKEN, "the service user's current ID and token"),
        )
    if status == 403:
        raise PermissionMissingError(
            "HiBob refused access: the service user is in no permission group "
            "or may not view people",
            hint="in HiBob, add the service user to a permission group that can view people "
            "and the mapped fields' categories, then run `hibob-sync check`",
        )
    if status == 404 and what == "the people search":
        # The search exists on every tenant (the catalogue may not): the base URL is wrong.
        raise ConfigError(
            f"hibob.base_url looks wrong: {what} at {response.url} answered HTTP 404 (not found)",
            hint="set hibob.base_url to https://api.hibob.com/v1 "
            "(sandbox tenants: https://api.sandbox.hibob.com/v1)",
        )
    detail = ""
    if isinstance(body, dict):
        detail = text(body.get("error")) or text(body.get("message"))
    detail = shown((detail or response.reason or "no details").strip()[:300])
    hint = None
    if status == 404:
        hint = "check hibob.base_url in the config (e.g. https://api.hibob.com/v1)"
    elif status == 400:
        hint = "check the mapped HiBob field IDs with `hibob-sync map validate`"
    raise RemoteError(
        f"HiBob answered {what} with HTTP {status}: {detail}", status=status, hint=hint
    )
