"""A local stand-in for HiBob's people API, for tests and ``hibob-sync demo``.

It follows HiBob's documented behaviour rather than what would be convenient for a client:
unreadable and unknown fields vanish silently, terminated people need ``showInactive`` and a
permission group not limited to "Employed", list fields answer with item IDs unless display
values are asked for, and display dates follow a locale. See ``server.HibobSandbox``.
"""

from hibob_sync.sandbox.access import ServiceUser
from hibob_sync.sandbox.catalogue import (
    ALL_CATEGORIES,
    CATEGORIES,
    CUSTOM_CATEGORY,
    FIELDS,
    GROUPS_FIELD,
    TEAMS_FIELD,
)
from hibob_sync.sandbox.company import AWKWARD_CASES, Company, generate_company
from hibob_sync.sandbox.server import FIELDS_PATH, SEARCH_PATH, HibobSandbox

__all__ = [
    "ALL_CATEGORIES",
    "AWKWARD_CASES",
    "CATEGORIES",
    "CUSTOM_CATEGORY",
    "FIELDS",
    "FIELDS_PATH",
    "GROUPS_FIELD",
    "SEARCH_PATH",
    "TEAMS_FIELD",
    "Company",
    "HibobSandbox",
    "ServiceUser",
    "generate_company",
]
