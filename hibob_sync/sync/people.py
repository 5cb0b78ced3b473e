"""The SCIM side of reading a few people (`run --only`, `explain`): filtered lookups only.

One GET per person, filtered on their externalId, their userName (as hibob-sync writes it
and as HiBob spells it: servers may filter case-sensitively) and their manager's userName,
so the reports-to link can point at the manager's user. Never the full listing, except on
a server that offers no filter at all (said in the log).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.core.plan import Action
from hibob_sync.core.profiles import Profiles
from hibob_sync.hibob.answers import HibobEmployee
from hibob_sync.http import HttpSettings
from hibob_sync.model import ScimUser, Value, normalise_email
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


def manager_users(
    scim: ScimClient, users: Sequence[ScimUser], wanted: Iterable[str] | None = None
) -> list[ScimUser] | None:
    """The users these users report to in HiThrive (or the ``wanted`` SCIM ids), where not
    read already: one filtered lookup by SCIM id, so the manager HiThrive holds is named by
    email, not by a bare id. None where the server refused that filter."""
    have = {u.id for u in users}
    if wanted is None:
        wanted = (m for u in users if isinstance(m := u.values.get("manager_id"), str))
    ids = sorted({m for m in wanted if m and m not in have})
    if not ids:
        return []
    found = scim.search_users([("id", m) for m in ids])
    return None if found is None else [u for u in found if u.id in ids]


_UNKNOWN = re.compile(r"\(unknown SCIM id (.+)\)")  # what core.plan shows for a user not read


def manager_named(value: Value, email_of: Mapping[str, str], *, read: bool) -> Value:
    """A manager HiThrive holds, by email where manager_users read that user; else said
    plainly (gone, or not looked up), never a bare SCIM id."""
    found = _UNKNOWN.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return value
    manager_id = found.group(1)
    if manager_id in email_of:
        return email_of[manager_id]
    why = "the server has no such user" if read else "the server refused to look it up"
    return f"(a user with SCIM id {manager_id}: {why})"


def rename_managers(actions: Iterable[Action], email_of: Mapping[str, str], *, read: bool) -> None:
    """The `before` of each reports-to change by the manager's email; the after, and so
    every write, stays as planned."""
    for action in actions:
        if "manager_email" in action.changes:
            before, after = action.changes["manager_email"]
            action.changes["manager_email"] = (manager_named(before, email_of, read=read), after)


def name_managers(scim: ScimClient, actions: Sequence[Action], users: Sequence[ScimUser]) -> None:
    """The managers a plan's reports-to changes replace, named by email where the users read
    lack them (`--only` reads a few; a full listing lacks only a deleted one): one filtered
    lookup, and none when every one was read."""
    unread = [
        found.group(1)
        for action in actions
        if "manager_email" in action.changes
        and isinstance(before := action.changes["manager_email"][0], str)
        and (found := _UNKNOWN.fullmatch(before))
    ]
    if not unread:
        return
    bosses = manager_users(scim, users, unread)
    email_of = {u.id: u.user_name.strip().lower() for u in (*users, *(bosses or ()))}
    rename_managers(actions, email_of, read=bosses is not None)


def read_people(
    scim: ScimClient,
    employees: Sequence[HibobEmployee],
    profiles: Profiles,
    mapping: FieldMapping,
    names: Iterable[str] = (),
) -> list[ScimUser]:
    """`--only`'s users: one filtered lookup per person (person_terms, lookup_users)."""
    return lookup_users(scim, person_terms(employees, profiles, mapping, names))


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
