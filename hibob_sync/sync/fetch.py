"""The fetch step: read HiBob once, and hand on plain data for the steps after it.

The run, the benchmarks and anything else that wants "HiBob as a run sees it" call
``fetch_hibob``, so the catalogue fallback and the permission probe live in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.core.only import Only
from hibob_sync.core.who import emails_of
from hibob_sync.errors import RemoteError
from hibob_sync.hibob.answers import CatalogueField, HibobData
from hibob_sync.hibob.client import HibobClient, SearchResult, missing_fields

log = logging.getLogger(__name__)


def fetch_hibob(
    client: HibobClient,
    mapping: FieldMapping,
    extra: Sequence[str] = (),
    only: Only | None = None,
) -> HibobData:
    """Every employee (or only the people named: `--only`) with the mapped fields and the
    ``extra`` ones (scope rules: read, never written), and what the permission probe makes
    of them."""
    sources = mapping.all_sources()
    catalogue, why = _catalogue(client)
    wanted = tuple(dict.fromkeys((*sources, *extra)))
    if only is None:
        found = client.search(wanted, catalogue=catalogue)  # a wrong base_url: 78 here
    else:
        found = search_people(client, wanted, catalogue, only, mapping)
    if why:  # said only once the search worked: a 404 on both is the base_url's error alone
        log.warning("HiBob's field catalogue could not be read (%s); going on without it", why)
    log.info("HiBob: %d employees", len(found.employees))
    return HibobData(
        employees=found.employees,
        catalogue=catalogue,
        missing=missing_fields(found, sources, catalogue or []),
        coverage=set(found.present) & set(sources),
    )


def search_named(
    client: HibobClient,
    sources: Sequence[str],
    catalogue: list[CatalogueField] | None,
    only: Only,
) -> SearchResult:
    """The named people only: one search filtered by their emails, one by their IDs (HiBob
    takes one filter per search, so names of both kinds take two)."""
    found: list[SearchResult] = []
    if only.emails:
        found.append(client.search(sources, catalogue=catalogue, email=only.emails))
    if only.ids:
        found.append(client.search(sources, catalogue=catalogue, employee_id=only.ids))
    employees = list({e.id: e for result in found for e in result.employees}.values())
    present = frozenset(source for result in found for source in result.present)
    return SearchResult(employees, found[0].requested if found else (), present)


def search_people(
    client: HibobClient,
    sources: Sequence[str],
    catalogue: list[CatalogueField] | None,
    only: Only,
    mapping: FieldMapping,
) -> SearchResult:
    """The named people plus every other record that shares their addresses (a rehire, a
    duplicate): the nightly run judges those together, so `--only` and `explain` read them
    too and decide as it does. Searched by email a second time only for the addresses of
    people named by ID (a search by email already returns every record holding it)."""
    found = search_named(client, sources, catalogue, only)
    emails = set(emails_of(found.employees, mapping).values()) - set(only.emails)
    if not emails:
        return found
    more = search_named(client, sources, catalogue, Only(tuple(sorted(emails))))
    employees = list({e.id: e for e in (*found.employees, *more.employees)}.values())
    return SearchResult(employees, found.requested, found.present | more.present)


def _catalogue(client: HibobClient) -> tuple[list[CatalogueField] | None, str]:
    """The field catalogue, or None and why, where HiBob will not give it (the run goes on)."""
    try:
        return client.fields(), ""
    except RemoteError as exc:
        return None, exc.message
