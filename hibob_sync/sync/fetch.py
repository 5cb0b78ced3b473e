"""The fetch step: read HiBob once, and hand on plain data for the steps after it.

The run, the benchmarks and anything else that wants "HiBob as a run sees it" call
``fetch_hibob``, so the catalogue fallback and the permission probe live in one place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.errors import RemoteError
from hibob_sync.hibob.client import (
    CatalogueField,
    HibobClient,
    HibobEmployee,
    MissingField,
    missing_fields,
)

log = logging.getLogger(__name__)


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


def fetch_hibob(client: HibobClient, mapping: FieldMapping) -> HibobData:
    """Every employee with the mapped fields, and what the permission probe makes of them."""
    sources = mapping.all_sources()
    catalogue = _catalogue(client)
    found = client.search(sources, catalogue=catalogue)
    log.info("HiBob: %d employees", len(found.employees))
    return HibobData(
        employees=found.employees,
        catalogue=catalogue,
        missing=missing_fields(found, sources, catalogue or []),
        coverage=set(found.present) & set(sources),
    )


def _catalogue(client: HibobClient) -> list[CatalogueField] | None:
    """The field catalogue, or None where HiBob will not give it (the run goes on without)."""
    try:
        return client.fields()
    except RemoteError as exc:
        log.warning("HiBob's field catalogue could not be read (%s); going on without it", exc)
        return None
