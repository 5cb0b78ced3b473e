"""What `map` needs beyond the file: the company's HiBob field catalogue, searched by name.

The interactive editor in the CLI asks; this module fetches the catalogue, resolves what the
admin typed (a field ID, a name, part of a name) and checks a mapping against the catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence

from hibob_sync.clients import hibob_client
from hibob_sync.config import Settings
from hibob_sync.errors import ConfigError, HibobSyncError
from hibob_sync.hibob import CatalogueField, unknown_sources
from hibob_sync.http import HttpSettings
from hibob_sync.mapping import FieldMapping
from hibob_sync.mapping_check import did_you_mean, mapping_problems
from hibob_sync.safe_text import shown

# Fields that are bookkeeping, not profile data: not offered for mapping.
HIDDEN = frozenset({"root.id", "internal.lifecycleStatus", "internal.status"})


def fetch_catalogue(settings: Settings, http: HttpSettings | None = None) -> list[CatalogueField]:
    """The HiBob field catalogue, with the stored credentials (it needs no permission group)."""
    with hibob_client(settings, http=http) as client:
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


def resolve_answer(
    answer: str, catalogue: Sequence[CatalogueField]
) -> tuple[list[str] | None, list[str]]:
    """Field IDs for what the admin typed (comma-separated), or None and what to tell them."""
    chosen: list[str] = []
    for part in (p.strip() for p in answer.split(",") if p.strip()):
        matches = match_fields(part, catalogue)
        if len(matches) == 1:
            chosen.append(matches[0].id)
        elif not matches and not unknown_sources([part], catalogue):
            chosen.append(part)  # a sub-field such as work.reportsTo.email
        elif not matches:
            hint = did_you_mean(part, catalogue) or "; '?' lists them"
            return None, [f"no HiBob field matches {shown(part)!r}{hint}"]
        else:
            lines = [f"{part!r} matches several fields; type one ID:"]
            return None, lines + [f"  {label(entry)}" for entry in matches[:15]]
    return (chosen or None), ([] if chosen else ["type a HiBob field ID or name"])


def label(field: CatalogueField) -> str:
    """`Job title (work.title, category Work)`."""
    return shown(f"{field.name} ({field.id}, category {field.category_name})")


def try_catalogue(
    settings: Settings, http: HttpSettings | None = None
) -> tuple[list[CatalogueField] | None, str]:
    """The catalogue, or None and why not: editing the mapping must not need credentials."""
    try:
        return fetch_catalogue(settings, http), ""
    except HibobSyncError as exc:
        return None, exc.message


def problems_of(
    mapping: FieldMapping, catalogue: Sequence[CatalogueField], *names: str
) -> list[str]:
    """`mapping.FIELD: ...` for each mapped source of these fields (all when none) that is wrong."""
    return [
        f"mapping.{p.field}: {p.text}"
        for p in mapping_problems(mapping, catalogue)
        if not names or p.field in names
    ]


def refuse(lines: list[str]) -> ConfigError:
    """A mapping the catalogue contradicts: exit 78, nothing saved."""
    return ConfigError(
        "\n".join(lines),
        hint="`hibob-sync map` lists your HiBob fields ('?'); map set takes their IDs",
    )
