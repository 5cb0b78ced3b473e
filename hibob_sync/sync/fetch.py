"""The fetch step: read HiBob once, and hand on plain data for the steps after it.

The run, the benchmarks and anything else that wants "HiBob as a run sees it" call
``fetch_hibob``, so the catalogue fallback and the permission probe live in one place.
"""

from __future__ import annotations

import logging

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.errors import RemoteError
from hibob_sync.hibob.answers import CatalogueField, HibobData
from hibob_sync.hibob.client import HibobClient, missing_fields

log = logging.getLogger(__name__)


def fetch_hibob(client: HibobClient, mapping: FieldMapping) -> HibobData:
    """Every employee with the mapped fields, and what the permission probe makes of them."""
    sources = mapping.all_sources()
    catalogue, why = _catalogue(client)
    found = client.search(sources, catalogue=catalogue)  # a wrong base_url: 78 here
    if why:  # said only once the search worked: a 404 on both is the base_url's error alone
        log.warning("HiBob's field catalogue could not be read (%s); going on without it", why)
    log.info("HiBob: %d employees", len(found.employees))
    return HibobData(
        employees=found.employees,
        catalogue=catalogue,
        missing=missing_fields(found, sources, catalogue or []),
        coverage=set(found.present) & set(sources),
    )


def _catalogue(client: HibobClient) -> tuple[list[CatalogueField] | None, str]:
    """The field catalogue, or None and why, where HiBob will not give it (the run goes on)."""
    try:
        return client.fields(), ""
    except RemoteError as exc:
        return None, exc.message
