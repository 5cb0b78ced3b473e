"""What `map` needs beyond the file: the company's HiBob field catalogue, searched by name.

The interactive editor in the CLI asks; this module fetches the catalogue, resolves what the
admin typed (a field ID, a name, part of a name) and checks a mapping against the catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence

from hibob_sync import credentials
from hibob_sync.config import Settings
from hibob_sync.hibob import CatalogueField, HibobClient, unknown_sources
from hibob_sync.http import HttpSettings
from hibob_sync.mapping import FieldMapping
from hibob_sync.sync import http_settings

# Fields that are bookkeeping, not profile data: not offered for mapping.
HIDDEN = frozenset({"root.id", "internal.lifecycleStatus", "internal.status"})


def fetch_catalogue(settings: Settings, http: HttpSettings | None = None) -> list[CatalogueField]:
    """The HiBob field catalogue, with the stored credentials (it needs no permission group)."""
    login = credentials.hibob_credentials()
    hibob_http, _ = http_settings(settings, http)
    with HibobClient(settings.hibob_url, login.user_id, login.token, hibob_http) as client:
        return [f for f in client.fields() if f.id not in HIDDEN]


def match_fields(text: str, catalogue: Sequence[CatalogueField]) -> list[CatalogueField]:
    """Catalogue fields matching what was typed: an exact ID, an exact name, else a part."""
    wanted = text.strip()
    if not wanted:
        return []
    exact = [f for f in catalogue if f.id == wanted]
    if exact:
        return exact
    folded = wanted.casefold()
    by_name = [f for f in catalogue if f.name.casefold() == folded]
    if by_name:
        return by_name
    return [
        f
        for f in catalogue
        if folded in f.name.casefold()
        or folded in f.id.casefold()
        or folded in f.category_name.casefold()
    ]


def label(field: CatalogueField) -> str:
    """`Job title (work.title, category Work)`."""
    return f"{field.name} ({field.id}, category {field.category_name})"


def catalogue_warnings(mapping: FieldMapping, catalogue: Sequence[CatalogueField]) -> list[str]:
    """One line per mapped HiBob field that the company's catalogue does not know."""
    lines = []
    for source in unknown_sources(mapping.all_sources(), catalogue):
        fields = "/".join(name for name in mapping if source in mapping.sources[name])
        lines.append(f"mapping.{fields}: HiBob has no field {source}")
    return lines
