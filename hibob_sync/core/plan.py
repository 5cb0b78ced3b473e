"""Plan the sync: compare HiBob profiles with SCIM users and decide every write.

Pure data in, pure data out: no network, so a plan can be printed (--dry-run), checked by
the safeguards and tested without servers. Matching follows hithrive-scim.md: by
``externalId`` (the HiBob ``root.id``) first, then by email; users without ``externalId``
are adopted only when their email matches; other users are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from hibob_sync.core.profiles import Profile, Profiles
from hibob_sync.model import Failure, ScimUser, Value, scim_field

ActionKind = Literal["create", "update", "adopt", "reactivate", "deactivate"]
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)  # in the order they are applied


@dataclass
class Action:
    """One user's writes: what kind, and per field the value before and after."""

    kind: ActionKind
    email: str
    employee_id: str | None
    user: ScimUser | None = None
    changes: dict[str, tuple[Value, Value]] = field(default_factory=dict)
    external_id: str | None = None  # set when it changes (create, adopt)
    active: bool | None = None  # set when it changes

    @property
    def manager_email(self) -> str | None:
        """The manager this action points the user at, if it changes the manager."""
        after = self.changes.get("manager_email", (None, None))[1]
        return after if isinstance(after, str) else None


@dataclass(frozen=True)
class Pending:
    """A managed user whose employee HiBob stopped returning, waiting out sync.vanished_grace."""

    employee_id: str
    email: str
    missing_since: str  # ISO 8601, when a run first did not see the employee
    countdown: str  # e.g. "2 of 3 days"


@dataclass
class Plan:
    """Everything a run will do, plus what it found along the way."""

    actions: list[Action] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    managed_active: int = 0  # active SCIM users hibob-sync manages, for the safeguard
    future_hires: set[str] = field(default_factory=set)  # employee IDs: never "deactivations"
    pending: list[Pending] = field(default_factory=list)  # held back by vanished.py
    held: list[Action] = field(default_factory=list)  # their deactivations, for `apply`

    def of_kind(self, kind: ActionKind) -> list[Action]:
        return [action for action in self.actions if action.kind == kind]

    def counts(self) -> dict[str, int]:
        """Counts per action kind, plus unchanged and rejected."""
        counts: dict[str, int] = dict.fromkeys(ACTION_KINDS, 0)
        for action in self.actions:
            counts[action.kind] += 1
        counts["unchanged"] = self.unchanged
        counts["rejected"] = len(self.rejected)
        counts["pending"] = len(self.pending)
        return counts


def current_values(
    user: ScimUser, fields: Iterable[str], email_of: dict[str, str]
) -> dict[str, Value]:
    """A SCIM user in HiThrive terms: the manager's SCIM id becomes the manager's email."""
    values: dict[str, Value] = {}
    for name in fields:
        if name == "manager_email":
            manager_id = user.values.get("manager_id")
            if isinstance(manager_id, str) and manager_id:
                values[name] = email_of.get(manager_id, f"(unknown SCIM id {manager_id})")
            else:
                values[name] = None
        else:
            values[name] = user.values.get(scim_field(name))
    return values


Same = Callable[[str, Value, Value], bool]


def _equal(_field: str, a: Value, b: Value) -> bool:
    return a == b


def _diff(
    desired: dict[str, Value], current: dict[str, Value], skip: set[str], same: Same = _equal
) -> dict[str, tuple[Value, Value]]:
    return {
        name: (current.get(name), value)
        for name, value in desired.items()
        if name not in skip and not same(name, current.get(name), value)
    }


class _Planner:
    def __init__(
        self,
        profiles: Profiles,
        users: Sequence[ScimUser],
        fields: Sequence[str],
        leavers: str,
        future_hires: str = "create_inactive",
    ) -> None:
        self.profiles = profiles
        self.same: Same = _equal
        self.fields = tuple(fields)
        self.leavers = leavers
        self.create_ahead = future_hires == "create_inactive"
        self.plan = Plan(rejected=list(profiles.rejected))
        self.by_external: dict[str, ScimUser] = {}
        self.by_email: dict[str, ScimUser] = {}
        self.email_of: dict[str, str] = {}
        for user in users:
            email = user.user_name.strip().lower()
            self.email_of[user.id] = email
            self.by_email.setdefault(email, user)
            if user.external_id:
                existing = self.by_external.get(user.external_id)
                if existing is None or (user.active and not existing.active):
                    self.by_external[user.external_id] = user
                if user.active:
                    self.plan.managed_active += 1
        # A manager's user is known by SCIM id: after an email change it is still the same
        # manager, so reports compare with the email it will have after this run.
        self.email_now = dict(self.email_of)
        for profile in profiles.profiles:
            matched = self.by_external.get(profile.employee_id) if profile.active else None
            if matched is not None:
                self.email_of[matched.id] = profile.email
        self.claimed: set[str] = set()
        # Future hires created ahead count as present, so their reports can link to them.
        live = [p for p in profiles.profiles if p.active or (p.future_hire and self.create_ahead)]
        self.active_ids = {p.employee_id for p in live}
        self.known_emails = set(self.by_email) | {p.email for p in live}
        self.leaver_emails = {
            p.email for p in profiles.profiles if p.employee_id not in self.active_ids
        }

    def run(self) -> Plan:
        for profile in self.profiles.profiles:
            if profile.active:
                self._active(profile)
            elif profile.future_hire:
                self._future_hire(profile)
            else:
                self._leaver(profile)
        self._invisible()
        return self.plan

    def _manager_skip(self, profile: Profile) -> set[str]:
        """Fields not to compare: a manager that cannot be resolved keeps its old value."""
        manager = profile.values.get("manager_email")
        if "manager_email" not in self.fields or manager is None:
            return set()
        if manager == profile.email:
            self._warn(profile, "is their own manager in HiBob; reports-to left unchanged")
            return {"manager_email"}
        if manager not in self.known_emails:
            if manager in self.leaver_emails:
                reason = "reports to a manager who has left and has no SCIM user"
            else:
                reason = (
                    "reports to a manager who is neither a visible HiBob employee nor a SCIM user"
                )
            self._warn(profile, reason + "; reports-to left unchanged")
            return {"manager_email"}
        return set()

    def _warn(self, profile: Profile, reason: str) -> None:
        self.plan.warnings.append(Failure(profile.employee_id, profile.email, reason))

    def _match(self, profile: Profile) -> tuple[ScimUser | None, bool]:
        """The user for an active profile, and whether it came by email (not externalId)."""
        user = self.by_external.get(profile.employee_id)
        if user is not None:
            return user, False
        return self.by_email.get(profile.email), True

    def _future_hire(self, profile: Profile) -> None:
        """Hired, not yet Active: created ahead with active false (or, with skip, left alone).

        HiBob turns them Active on their start date; that night `_active` activates the
        account with one PATCH. An account of theirs that is active is made inactive, as HiBob
        says, but never counts as a deactivation for the safeguard.
        """
        self.plan.future_hires.add(profile.employee_id)
        if self.create_ahead:
            self._active(profile, active=False)
            return
        user = self.by_external.get(profile.employee_id)
        if user is not None and user.id not in self.claimed:
            self.claimed.add(user.id)
            self.plan.unchanged += 1

    def _active(self, profile: Profile, active: bool = True) -> None:
        skip = self._manager_skip(profile) | set(profile.keep)  # bad values: left as they are
        user, by_email = self._match(profile)
        if user is None:
            desired = {k: v for k, v in profile.values.items() if k not in skip}
            created: dict[str, tuple[Value, Value]] = {
                k: (None, v) for k, v in desired.items() if v not in (None, ())
            }
            self.plan.actions.append(
                Action(
                    "create",
                    profile.email,
                    profile.employee_id,
                    None,
                    created,
                    external_id=profile.employee_id,
                    active=active,
                )
            )
            return
        if user.id in self.claimed:
            self.plan.rejected.append(
                Failure(
                    profile.employee_id,
                    profile.email,
                    "matches a SCIM user already matched to another employee",
                )
            )
            return
        if by_email and user.external_id and user.external_id in self.active_ids:
            self.plan.rejected.append(
                Failure(
                    profile.employee_id,
                    profile.email,
                    f"the email is held in HiThrive by the user of employee {user.external_id}; "
                    "it will sync once that employee's change has",
                )
            )
            return
        self.claimed.add(user.id)
        current = current_values(user, self.fields, self.email_of)
        changes = _diff(profile.values, current, skip, self.same)
        if by_email:
            self.plan.actions.append(
                Action(
                    "adopt",
                    profile.email,
                    profile.employee_id,
                    user,
                    changes,
                    external_id=profile.employee_id,
                    active=active if user.active != active else None,
                )
            )
        elif active and not user.active:
            self.plan.actions.append(
                Action("reactivate", profile.email, profile.employee_id, user, changes, active=True)
            )
        elif not active and user.active:
            self.plan.actions.append(
                Action(
                    "deactivate", profile.email, profile.employee_id, user, changes, active=False
                )
            )
        elif changes:
            self.plan.actions.append(
                Action("update", profile.email, profile.employee_id, user, changes)
            )
        else:
            self.plan.unchanged += 1

    def _leaver(self, profile: Profile) -> None:
        user = self.by_external.get(profile.employee_id)
        if user is None or user.id in self.claimed:
            return
        self.claimed.add(user.id)
        if user.active and self.leavers == "deactivate":
            self._deactivate(user, profile.employee_id)
        else:
            self.plan.unchanged += 1

    def _deactivate(self, user: ScimUser, employee_id: str | None) -> None:
        self.plan.actions.append(
            Action("deactivate", self.email_now[user.id], employee_id, user, active=False)
        )

    def _invisible(self) -> None:
        """Managed users whose employee HiBob no longer shows at all."""
        seen = self.profiles.seen_ids
        for external_id, user in sorted(self.by_external.items()):
            if user.id in self.claimed or external_id in seen:
                continue
            if user.active and self.leavers == "deactivate":
                self._deactivate(user, external_id)


def make_plan(
    profiles: Profiles,
    users: Sequence[ScimUser],
    fields: Sequence[str],
    leavers: str,
    future_hires: str = "create_inactive",
    *,
    same: Same | None = None,
) -> Plan:
    """Decide every write of this run (see module docstring).

    ``same`` compares a field's values by meaning (scim_values.semantics: a server's
    caseExact); plain equality without it.
    """
    planner = _Planner(profiles, users, fields, leavers, future_hires)
    planner.same = same or _equal
    return planner.run()
