"""`explain WHO`: one person, both sides, tonight's decision and the rule behind it.

Reads only: one filtered HiBob search (plus one for the other records with their address
when named by ID, fetch.search_people, and one for their manager when the manager has no
HiThrive user yet, so the reports-to link is judged as the nightly run judges it), a
filtered SCIM lookup (and one by SCIM id for the manager HiThrive holds, when that user was
not read: people.manager_users), and the state store opened read-only. The decision comes from the
nightly pipeline run on this person's data (core.who, core.plan), then core.decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from hibob_sync import credentials
from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.core.decision import Decision, Facts, Remembered, decide
from hibob_sync.core.only import Only
from hibob_sync.core.plan import current_values, make_plan
from hibob_sync.core.profiles import Profile, Profiles
from hibob_sync.core.scope import Verdict, check_fields, judge
from hibob_sync.core.who import Who, emails_of
from hibob_sync.hibob.answers import HibobEmployee
from hibob_sync.http import HttpSettings
from hibob_sync.model import ScimUser, Value
from hibob_sync.safe_text import shown
from hibob_sync.scim.values import semantics
from hibob_sync.state import StateStore, remembered
from hibob_sync.sync import validation as valid
from hibob_sync.sync.clients import hibob_client, scim_client
from hibob_sync.sync.fetch import fetch_hibob, search_named
from hibob_sync.sync.people import (
    lookup_users,
    manager_named,
    manager_users,
    person_terms,
    rename_managers,
)
from hibob_sync.sync.waits import budgeted


@dataclass
class Explanation:
    """What `explain` shows (text) or prints (--json)."""

    who: str
    employee: HibobEmployee | None
    values: dict[str, Value]  # HiBob's mapped values, by HiThrive field
    user: ScimUser | None
    current: dict[str, Value]  # what HiThrive holds, by HiThrive field
    verdict: Verdict | None
    decision: Decision

    @property
    def known(self) -> bool:
        """Whether HiBob or HiThrive knows WHO (exit 0), or neither (exit 1)."""
        return self.employee is not None or self.user is not None

    def as_dict(self) -> dict[str, object]:
        action = self.decision.action
        employee, user = self.employee, self.user
        changes = action.changes.items() if action else ()
        return {
            "who": self.who,
            "hibob": None
            if employee is None
            else {
                "employee_id": employee.id,
                "lifecycle_status": employee.lifecycle_status,
                "status": employee.status,
                "values": {k: _wire(v) for k, v in self.values.items()},
            },
            "hithrive": None
            if user is None
            else {
                "id": user.id,
                "userName": user.user_name,
                "externalId": user.external_id,
                "active": user.active,
                "values": {k: _wire(v) for k, v in self.current.items()},
            },
            "scope": None
            if self.verdict is None
            else {"in_scope": self.verdict.in_scope, "rule": self.verdict.rule},
            "decision": {
                "outcome": self.decision.outcome,
                "changes": {k: {"before": _wire(b), "after": _wire(a)} for k, (b, a) in changes},
                "reasons": self.decision.reasons,
                "safeguards": self.decision.safeguards,
            },
        }

    def text(self) -> str:
        """One screen: HiBob, HiThrive, tonight, why (every value escaped: safe_text)."""
        lines = [f"Who:       {shown(self.who)}"]
        width = max([15, *(len(name) for name in (*self.values, *self.current))])
        employee = self.employee
        if employee is None:
            lines.append("HiBob:     no employee (or not visible to the service user)")
        else:
            lines.append(
                f"HiBob:     employee {shown(employee.id)}, "
                f"{shown(employee.lifecycle_status or '?')} / {shown(employee.status or '?')}"
            )
            lines += _fields(self.values, width)
        user = self.user
        if user is None:
            lines.append("HiThrive:  no user")
        else:
            lines.append(
                f"HiThrive:  user {shown(user.user_name)} "
                f"({'active' if user.active else 'inactive'}, "
                f"externalId {shown(user.external_id or '(none)')})"
            )
            lines += _fields(self.current, width)
        if self.verdict is not None:
            lines.append(
                f"Scope:     {'in' if self.verdict.in_scope else 'OUT'}: {shown(self.verdict.rule)}"
            )
        lines.append(f"Tonight:   {self.decision.outcome}")
        action = self.decision.action
        for name, (before, after) in action.changes.items() if action else ():
            lines.append(f"  {name:<{width}} {_show(before)} -> {_show(after)}")
        lines += [f"Why:       {shown(reason)}" for reason in self.decision.reasons]
        lines += [f"Safeguard: counts toward {item}" for item in self.decision.safeguards]
        return "\n".join(lines)


def _wire(value: Value) -> object:
    return list(value) if isinstance(value, tuple) else value


def _show(value: Value) -> str:
    if value is None or value == ():
        return "(empty)"
    return shown(", ".join(value) if isinstance(value, tuple) else value)


def _fields(values: dict[str, Value], width: int) -> list[str]:
    """One line a field, the values in one column however long an extra attribute's name."""
    return [f"  {name:<{width}} {_show(value)}" for name, value in values.items()]


def _mapped(
    employee: HibobEmployee, profile: Profile | None, mapping: FieldMapping
) -> dict[str, Value]:
    """HiBob's values as they would be written; as HiBob holds them (text, shown escaped)
    where the record was set aside or a value held control characters."""
    values: dict[str, Value] = {}
    for name, sources in mapping.entries():  # the eight fields, then the extra attributes
        if profile is not None and name not in profile.cleaned:
            values[name] = profile.values.get(name)
            continue
        given = (employee.values.get(source) for source in sources)
        value = next((v for v in given if v is not None), None)
        values[name] = None if value is None else str(value)
    return values


def _person(
    employees: Sequence[HibobEmployee], profiles: Profiles, only: Only, mapping: FieldMapping
) -> tuple[HibobEmployee | None, Profile | None]:
    """WHO among the employees read: the one whose profile goes on (a rehire's active record)."""
    email_of = emails_of(employees, mapping)
    named = [e for e in employees if e.id in only.ids or email_of.get(e.id) in only.emails]
    synced = {p.employee_id: p for p in profiles.profiles}
    chosen = next((e for e in named if e.id in synced), named[0] if named else None)
    return chosen, synced.get(chosen.id) if chosen else None


def explain(
    settings: Settings,
    mapping: FieldMapping,
    who: str,
    *,
    http: HttpSettings | None = None,
    clock: Callable[[], float] | None = None,
) -> Explanation:
    """Everything `explain` says of WHO (an email or a HiBob ID); reads only."""
    only = Only.parse([who])
    login, token = credentials.hibob_credentials(), credentials.scim_token()
    problems, missing = remembered(settings.state_path)
    known = settings.state_path.exists()  # read only: explain never creates the store
    owned = StateStore(settings.state_path, read_only=True).managed_users() if known else {}
    managed = frozenset(owned)  # ownership.py
    now = datetime.fromtimestamp((clock or (http.clock if http else None) or _now)(), timezone.utc)
    rules = Who(settings.scope, settings.protect, only)
    _, http = budgeted(settings.max_wait.total_seconds(), http)  # sync.max_wait, as `run`
    extra = tuple(mapping.extra)  # read the extra attributes as `run` does, to compare them
    with (
        hibob_client(settings, login, http) as hibob,
        scim_client(settings, token, http, extra) as scim,
    ):
        fetched = fetch_hibob(hibob, mapping, settings.scope.fields, only)
        valid.after_hibob(mapping, fetched, sample=False)  # the one validation, as run
        check_fields(settings.scope, fetched.catalogue)
        features = scim.discover()
        kinds = valid.after_discovery(mapping, features, scim.placement, fetched)
        sources = (*mapping.all_sources(), *settings.scope.fields)
        employees = list(fetched.employees)  # with whoever shares their address (fetch.py)
        profiles = rules.profiles(employees, mapping, kinds)
        users = lookup_users(scim, person_terms(employees, profiles, mapping, only.names))
        have = {u.user_name.strip().lower() for u in users}
        managers = {
            m
            for p in profiles.profiles
            if isinstance(m := p.values.get("manager_email"), str) and m not in have
        }
        if managers:  # the nightly run creates them first: read them as it does
            found = search_named(hibob, sources, fetched.catalogue, Only(tuple(sorted(managers))))
            employees += [e for e in found.employees if e.id not in {x.id for x in employees}]
            profiles = rules.profiles(employees, mapping, kinds)
        same = semantics(features, scim.placement)
        plan = make_plan(
            profiles,
            users,
            mapping.targets,  # the extra attributes too, as `run` plans them
            settings.leavers,
            settings.future_hires,
            same=same,
            owned=managed,
            adopt=settings.adopt,
        )
        bosses = manager_users(scim, users)  # shown by email; never planned for
    rules.settle(plan, users, profiles, employees, mapping)
    employee, profile = _person(employees, profiles, only, mapping)
    user = _user(plan.actions, users, employee, profile, only)
    verdict = None
    if employee is not None:
        verdict = rules.out.get(employee.id) or judge(employee, settings.scope)
    facts = Facts(
        employee.id if employee else (user.external_id if user else None),
        profile.email if profile else None,
        employee is not None,
        verdict,
        user,
        profile.active if profile else None,
        profile.future_hire if profile else False,
    )
    decision = decide(
        facts, plan, Profiles(), rules.held, Remembered(problems, missing, managed), settings, now
    )
    if profile is not None and profile.cleaned:
        decision.reasons.append(
            f"control characters are removed from {', '.join(profile.cleaned)} when written "
            "(fix the text in HiBob)"
        )
    email_of = {u.id: u.user_name.strip().lower() for u in (*users, *(bosses or ()))}
    current = current_values(user, mapping.targets, email_of) if user else {}
    if "manager_email" in current:
        current["manager_email"] = manager_named(
            current["manager_email"], email_of, read=bosses is not None
        )
    if decision.action is not None:
        rename_managers([decision.action], email_of, read=bosses is not None)
    return Explanation(
        who,
        employee,
        _mapped(employee, profile, mapping) if employee else {},
        user,
        current,
        verdict,
        decision,
    )


def _user(
    actions: Sequence[object],
    users: Sequence[ScimUser],
    employee: HibobEmployee | None,
    profile: Profile | None,
    only: Only,
) -> ScimUser | None:
    """WHO's user, matched as the planner matches: by externalId, then by email."""
    for action in actions:
        user = getattr(action, "user", None)
        if isinstance(user, ScimUser):
            return user
    ids = {employee.id} if employee else set(only.ids)
    emails = {profile.email} if profile else set(only.emails)
    by_id = [u for u in users if u.external_id and u.external_id in ids]
    by_email = [u for u in users if u.user_name.strip().lower() in emails]
    return next(iter([u for u in by_id if u.active] + by_id + by_email), None)


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()
