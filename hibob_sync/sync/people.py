"""The SCIM side of reading a few people (`run --only`, `explain`): filtered lookups only.

One GET per person, filtered on their externalId, their userName (as hibob-sync writes it
and as HiBob spells it: servers may filter case-sensitively) and their manager's userName,
so the reports-to link can point at the manager's user. Never the full listing, except on
a server that offers no filter at all (said in the log).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.core.profiles import Profiles
from hibob_sync.hibob.answers import HibobEmployee
from hibob_sync.http import HttpSettings
from hibob_sync.model import ScimUser, normalise_email
from hibob_sync.scim.client import ScimClient
from hibob_sync.sync.clients import hibob_client

log = logging.getLogger(__name__)

Terms = list[tuple[str, str]]


def raw_emails(employee: HibobEmployee, mapping: FieldMapping) -> list[str]:
    """The employee's email as HiBob spells it (trimmed), and as hibob-sync writes it."""
    found: list[str] = []
    for source in mapping.sources["email"]:
        value = employee.values.get(source)
        if isinstance(value, str) and value.strip():
            found += [value.strip(), normalise_email(value) or ""]
    return [e for e in dict.fromkeys(found) if e]


def person_terms(
    employees: Sequence[HibobEmployee],
    profiles: Profiles,
    mapping: FieldMapping,
    names: Iterable[str] = (),
) -> list[Terms]:
    """One filter's terms per person: HiBob's employees, then names HiBob does not know."""
    by_id = {p.employee_id: p for p in profiles.profiles}
    people: list[Terms] = []
    known: set[str] = set()
    for employee in employees:
        terms: Terms = [("externalId", employee.id)]
        emails = raw_emails(employee, mapping)
        profile = by_id.get(employee.id)
        manager = profile.values.get("manager_email") if profile else None
        if isinstance(manager, str):
            emails.append(manager)
        terms += [("userName", email) for email in dict.fromkeys(emails)]
        known |= {employee.id, *(normalise_email(e) or e for e in emails)}
        people.append(terms)
    for name in names:
        if name not in known:
            people.append([("userName" if "@" in name else "externalId", name)])
    return people


def manager_users(scim: ScimClient, users: Sequence[ScimUser]) -> list[ScimUser] | None:
    """The users these users report to in HiThrive, where not read already: one filtered
    lookup by SCIM id, so the manager HiThrive holds is named by email, not by a bare id.
    None where the server refused that filter (the caller says the manager was not read)."""
    have = {u.id for u in users}
    wanted = sorted(
        {
            m
            for u in users
            if isinstance(m := u.values.get("manager_id"), str) and m and m not in have
        }
    )
    if not wanted:
        return []
    found = scim.search_users([("id", m) for m in wanted])
    return None if found is None else [u for u in found if u.id in wanted]


def lookup_users(scim: ScimClient, people: Sequence[Terms]) -> list[ScimUser]:
    """Every user the people's filters find, each once (see module docstring)."""
    users: dict[str, ScimUser] = {}
    for terms in people:
        found = scim.search_users(terms)
        if found is None:
            log.warning(
                "%s offers no usable filter: listing every user to find %d people",
                scim.service,
                len(people),
            )
            return scim.list_users()
        for user in found:
            users.setdefault(user.id, user)
    return list(users.values())


def field_values(
    settings: Settings, field_id: str, http: HttpSettings | None = None
) -> Counter[str]:
    """Each display value HiBob holds in one field, with how many employees hold it
    (`scope values`: what a rule can name). Shown to the admin, never logged or stored."""
    with hibob_client(settings, http=http) as client:
        found = client.search([field_id], catalogue=client.fields())
    counts: Counter[str] = Counter()
    for employee in found.employees:
        value = employee.id if field_id == "root.id" else employee.values.get(field_id)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                item = item.get("displayName") or item.get("email")
            if item is not None and str(item).strip():
                counts[str(item).strip()] += 1
    return counts
