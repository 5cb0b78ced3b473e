"""The one validation (validation.py) as the `map` commands run it, before anything is saved.

Each layer where its input can be had: HiBob's catalogue, the values HiBob returns (the same
sampling as `check` and a run), and the SCIM server's /Schemas for extra attributes. What
cannot be reached is said (a warning), never guessed: editing needs no credentials.
"""

from __future__ import annotations

from collections.abc import Sequence

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.errors import HibobSyncError
from hibob_sync.hibob.answers import CatalogueField
from hibob_sync.http import HttpSettings
from hibob_sync.sync.clients import hibob_client
from hibob_sync.sync.extra_editor import try_server
from hibob_sync.sync.extra_targets import extra_problems
from hibob_sync.sync.mapping_editor import problems_of
from hibob_sync.sync.validation import sample_findings


def sampled_problems(
    settings: Settings, mapping: FieldMapping, http: HttpSettings | None, names: Sequence[str]
) -> list[str]:
    """Fields (of ``names``; all when empty) whose values HiBob returns are mostly not of their
    kind; nothing where HiBob cannot be searched (the catalogue check said why)."""
    sources = [s for n, srcs in mapping.entries() if not names or n in names for s in srcs]
    try:
        with hibob_client(settings, http=http) as client:
            found = client.search(list(dict.fromkeys(sources)))
    except HibobSyncError:
        return []
    problems, _ = sample_findings(mapping, found.employees)
    return [f"mapping.{p.text}" for p in problems if not names or p.field in names]


def editing_problems(
    settings: Settings,
    mapping: FieldMapping,
    catalogue: Sequence[CatalogueField] | None,
    http: HttpSettings | None,
    *names: str,
) -> tuple[list[str], list[str]]:
    """(what is wrong, what could not be checked) for the entries named (all when none)."""
    problems = problems_of(mapping, catalogue, *names) if catalogue is not None else []
    if catalogue is not None and not problems and (not names or set(names) & set(mapping)):
        problems = sampled_problems(settings, mapping, http, names)
    unverified: list[str] = []
    extras = [key for key in mapping.extra if not names or key in names]
    if extras:
        server, why = try_server(settings, mapping, http)
        if server is None:
            unverified.append(f"extra attributes not checked against the SCIM server ({why})")
        else:
            found = extra_problems(mapping, *server, catalogue)
            problems += [f"extra.{key}: {text}" for key, text in found if key in extras]
    return problems, unverified
