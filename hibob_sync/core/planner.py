"""The decisions of a plan: which user each employee has, and what to write to it.

Matching follows hithrive-scim.md: by ``externalId`` (the HiBob ``root.id``) among managed
users first, then by email among users that may be adopted (ownership.py). Addresses are
handed over in waves (addresses.py). Every employee in HiBob's answer and every listed user
gets one outcome (outcomes.py). Profiles and users are walked in sorted order and every
rule works on whole sets, so the plan does not depend on the order of either input.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from operator import attrgetter

from hibob_sync.core.actions import (
    Action,
    Plan,
    Same,
    current_values,
    diff,
    equal,
    outcome_of,
)
from hibob_sync.core.addresses import Key, Moves, plan_moves
from hibob_sync.core.ownership import Adopt, index_users
from hibob_sync.core.profiles import Profile, Profiles
from hibob_sync.model import Failure, ScimUser, Value

NO_STATUS = "HiBob gives neither an access status nor a lifecycle status"


class Planner:
    """One plan's worth of decisions (make_plan in plan.py is the way in)."""

    def __init__(
        self,
        profiles: Profiles,
        users: Sequence[ScimUser],
        fields: Sequence[str],
        leavers: str,
        future_hires: str = "create_inactive",
        *,
        owned: Collection[str] = (),
        adopt: Adopt = "unowned",
        ahead: Collection[str] = (),
        same: Same = equal,
    ) -> None:
        self.profiles = sorted(profiles.profiles, key=attrgetter("employee_id"))
        self.seen = profiles.seen_ids
        self.users = sorted(users, key=attrgetter("id"))
        self.fields = tuple(fields)
        self.leavers = leavers
        self.create_ahead = future_hires == "create_inactive"
        self.ahead = ahead
        self.same = same
        self.own = index_users(self.users, profiles.seen_ids, owned, adopt)
        self.plan = Plan(rejected=list(profiles.rejected))
        self.plan.managed_active = self.own.managed_active(self.users)
        self.plan.managed = self.own.managed_count(self.users)
        self.ledger = self.plan.outcomes
        self.user_of: dict[str, ScimUser] = {}  # HiBob ID -> its user
        self.employee_of: dict[str, Profile] = {}  # SCIM id -> the profile it serves
        self.adopted: set[str] = set()  # HiBob IDs matched by email
        self.newcomers: list[Profile] = []
        self.aside: dict[str, str] = {}  # HiBob ID -> why it is set aside
        self.no_address: set[str] = set()  # leavers whose user cannot leave its address
        self.target: dict[str, str] = {}  # SCIM id -> its address after this run
        self.moves = Moves()
        self.names = self.own.names
        self.live_ids = {p.employee_id for p in self.profiles if self._live_now(p)}
        self.emails = {p.employee_id: p.email for p in self.profiles}  # read many times
        self.handover = self._handovers()

    def _live_now(self, profile: Profile) -> bool:
        """Synced this run: active, a future hire created ahead, or of unknown status."""
        if profile.leaver:
            return False
        return not (profile.future_hire and profile.status_known and not self.create_ahead)

    def live(self, profile: Profile) -> bool:
        """Synced this run (see _live_now), worked out once per employee."""
        return profile.employee_id in self.live_ids

    def names_of(self, user: ScimUser) -> str:
        """A listed user's address as compared (ownership.name_of, worked out once)."""
        return self.names[user.id]

    def run(self) -> Plan:
        self._match()
        self._addresses()
        self._decide()
        self._unclaimed()
        return self.plan

    def _handovers(self) -> dict[str, str]:
        """Old record -> new record of rehires with a new HiBob record: the new one takes the
        old one's user over where that user still has the address both records hold (and
        the new one has no user of its own). The old record is then in sync, not a leaver."""
        found: dict[str, str] = {}
        for profile in self.profiles:
            new = profile.superseded_by
            user = self.own.by_external.get(profile.employee_id)
            if new is None or user is None or new not in self.live_ids:
                continue
            holders = self.own.holders(self.emails[new])
            if new not in self.own.by_external and holders == [user]:
                found[profile.employee_id] = new
        return found

    # -- who has which user ------------------------------------------------------------------
    def _match(self) -> None:
        for profile in self.profiles:
            if profile.employee_id in self.handover:
                continue  # its user goes on as its newer record's (_handovers)
            user = self.own.by_external.get(profile.employee_id)
            if user is None and self.live(profile):
                user = self._by_email(profile)
            if user is not None:
                self.user_of[profile.employee_id] = user
                self.employee_of[user.id] = profile

    def _by_email(self, profile: Profile) -> ScimUser | None:
        """The user an unmatched live employee adopts by email; else they are a newcomer."""
        found = self.own.holders(profile.email)
        handed = len(found) == 1 and self.handover.get(found[0].external_id or "")
        if len(found) == 1 and (self.own.adoptable(found[0]) or handed == profile.employee_id):
            self.adopted.add(profile.employee_id)
            return found[0]
        if not profile.status_known:
            self.aside[profile.employee_id] = NO_STATUS + ", so no user is created"
        else:
            self.newcomers.append(profile)
        return None

    # -- addresses ---------------------------------------------------------------------------
    def _addresses(self) -> None:
        """Each user's address after the run; the moves that cannot be made set people aside."""
        emails, live_ids = self.emails, self.live_ids
        claimed = {p.email for p in self.newcomers}
        claimed |= {emails[i] for i in self.user_of if i in live_ids}
        wanted: dict[Key, str] = {}
        for employee_id, user in self.user_of.items():
            now = self.names[user.id]
            if employee_id in live_ids:
                goal = emails[employee_id]
                if goal != now:
                    self.target[user.id] = goal
                    wanted[("user", user.id)] = goal
                continue
            profile = self.employee_of[user.id]
            if profile.leaver and now in claimed:
                # A recycled address: the holder follows its own employee to their new one.
                if profile.email and profile.email != now and profile.email not in claimed:
                    goal = profile.email
                else:
                    self.no_address.add(profile.employee_id)
                    continue
            else:
                continue
            if goal != now:
                self.target[user.id] = goal
                wanted[("user", user.id)] = goal
        for profile in self.newcomers:
            wanted[("new", profile.employee_id)] = profile.email
        holders = {a: [u.id for u in self.own.holders(a)] for a in set(wanted.values())}
        self.moves = plan_moves(wanted, holders)
        for (kind, ident), holder in sorted(self.moves.blocked.items()):
            if kind == "user":
                profile = self.employee_of[ident]
                self.target.pop(ident, None)  # it stays where it is
                if profile.leaver:
                    continue  # stays where it is; whoever wanted its address is set aside
                moving = ("user", ident) in self.moves.rings
                self.aside[profile.employee_id] = self._held(holder, profile, ring=moving)
            else:
                profile = next(p for p in self.newcomers if p.employee_id == ident)
                self.aside[ident] = self._held(holder, profile)

    def _held(self, holder: str, profile: Profile, *, ring: bool = False) -> str:
        """Why an employee cannot take their address, naming who holds it."""
        if ring:
            other = self.employee_of.get(holder)
            whose = f"the user of employee {other.employee_id}" if other else f"SCIM user {holder}"
            return (
                f"its new address is held in HiThrive by {whose}, which waits for "
                "this one's address in turn (addresses swapped in HiBob); free one by hand"
            )
        owner = self.employee_of.get(holder)
        user = self.own.by_id.get(holder)
        if owner is not None and owner.employee_id in self.no_address:
            who = (
                f"the user of employee {owner.employee_id}, who has left and has no other "
                "valid address in HiBob (give them one there, or free the address in HiThrive)"
            )
        elif owner is not None:
            who = f"the user of employee {owner.employee_id}, which cannot move this run"
        elif user is not None and user.id in self.own.foreign:
            who = (
                f"SCIM user {holder}, which another provisioning client manages "
                "(hithrive.adopt: all takes such users over by email)"
            )
        elif user is not None and user.id in self.own.managed and user.external_id:
            gone = user.external_id not in self.seen
            state = "whom HiBob no longer returns" if gone else "who is set aside"
            who = f"the user of employee {user.external_id}, {state}"
        else:
            who = f"SCIM user {holder}, which hibob-sync does not manage"
        return f"the address is held in HiThrive by {who}; it syncs once the address is free"

    # -- what to write -----------------------------------------------------------------------
    def _decide(self) -> None:
        self.email_of = {**self.names, **self.target}
        emails = self.emails
        self.known_emails = set(self.own.by_name)
        self.known_emails.update(emails[i] for i in self.live_ids if i not in self.aside)
        self.leaver_emails = {emails[i] for i in emails if i not in self.live_ids}
        for profile in self.profiles:
            employee_id = profile.employee_id
            user = self.user_of.get(employee_id)
            if employee_id in self.aside:
                self.plan.rejected.append(
                    Failure(employee_id, profile.email or None, self.aside[employee_id])
                )
            elif profile.leaver:
                self._leaver(profile, user)
            elif not self.live(profile):  # a future hire waiting for day one (skip)
                self._record(profile, user, None)
            else:
                self._live(profile, user)
        for failure in self.profiles_rejected():
            user = self.own.by_external.get(failure)
            self.ledger.employee(failure, "set_aside", user.id if user else None)

    def profiles_rejected(self) -> list[str]:
        """HiBob IDs set aside (by the profile step or here), each once."""
        ids = {f.employee_id for f in self.plan.rejected if f.employee_id is not None}
        return sorted(ids & set(self.seen))

    def _record(self, profile: Profile, user: ScimUser | None, action: Action | None) -> None:
        if action is not None:
            self.plan.actions.append(action)
        elif user is not None:
            self.plan.unchanged += 1
        outcome = outcome_of(action) if action is not None else "in_sync"
        self.ledger.employee(profile.employee_id, outcome, user.id if user else None)

    def _leaver(self, profile: Profile, user: ScimUser | None) -> None:
        """Deactivated by HiBob ID whatever else the record holds; other fields left alone."""
        if user is None:
            self._record(profile, None, None)
            return
        now = self.names[user.id]
        goal = self.target.get(user.id, now)
        changes: dict[str, tuple[Value, Value]] = {}
        if goal != now:
            changes["email"] = (user.values.get("email"), goal)
        wave = self.moves.waves.get(("user", user.id), 0)
        action: Action | None = None
        if user.active and self.leavers == "deactivate":
            action = Action("deactivate", goal, profile.employee_id, user, changes, active=False)
        elif changes:
            action = Action("update", goal, profile.employee_id, user, changes)
        if action is not None:
            action.wave = wave
            for problem in profile.problems:
                self._warn(
                    profile,
                    f"a leaver whose record fails a check ({problem}); "
                    "their account is handled by HiBob ID, other fields left as they are",
                )
        self._record(profile, user, action)

    def _live(self, profile: Profile, user: ScimUser | None) -> None:
        skip = self._manager_skip(profile) | set(profile.keep)  # bad values: left as they are
        want: bool | None = profile.active
        if not profile.status_known:
            want = None
            self._warn(profile, NO_STATUS + "; active left as it is in HiThrive")
        if user is None:
            created: dict[str, tuple[Value, Value]] = {
                k: (None, v)
                for k, v in profile.values.items()
                if k not in skip and v not in (None, ())
            }
            create = Action(
                "create",
                profile.email,
                profile.employee_id,
                None,
                created,
                external_id=profile.employee_id,
                active=want,
                wave=self.moves.waves.get(("new", profile.employee_id), 0),
            )
            self._record(profile, None, create)
            return
        current = current_values(user, self.fields, self.email_of)
        changes = diff(profile.values, current, skip, self.same)
        wave = self.moves.waves.get(("user", user.id), 0)
        action: Action | None = None
        if profile.employee_id in self.adopted:
            change = want if want is not None and user.active != want else None
            action = Action(
                "adopt",
                profile.email,
                profile.employee_id,
                user,
                changes,
                external_id=profile.employee_id,
                active=change,
            )
        elif want is True and not user.active:
            action = Action("reactivate", profile.email, profile.employee_id, user, changes)
            action.active = True
            action.day_one = profile.hired or user.id in self.ahead
        elif want is False and user.active:
            action = Action(
                "deactivate", profile.email, profile.employee_id, user, changes, active=False
            )
        elif changes:
            action = Action("update", profile.email, profile.employee_id, user, changes)
        if action is not None:
            action.wave = wave
        self._record(profile, user, action)

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
        self.plan.warnings.append(Failure(profile.employee_id, profile.email or None, reason))

    # -- users no employee accounts for ------------------------------------------------------
    def _unclaimed(self) -> None:
        seconds = {u.id for u in self.own.seconds}
        for user in self.users:
            if user.id in self.ledger.claimed:
                continue
            if user.id in seconds:
                self.plan.warnings.append(
                    Failure(
                        user.external_id,
                        self.names_of(user),
                        f"a second SCIM user (id {user.id}) carries this employee's ID; "
                        "hibob-sync leaves it alone: remove it or clear its externalId",
                    )
                )
                self.ledger.user(user.id, "set_aside")
            elif user.external_id in self.seen:
                continue  # an employee the scope left out (scope.py accounts for them)
            elif user.id in self.own.managed:
                self._vanished(user)
            else:
                if user.id in self.own.foreign:
                    self.ledger.foreign += 1
                self.ledger.user(user.id, "unmanaged")

    def _vanished(self, user: ScimUser) -> None:
        """A managed user whose employee HiBob no longer returns at all (vanished.py waits)."""
        if user.external_id and user.active and self.leavers == "deactivate":
            action = Action("deactivate", self.names_of(user), user.external_id, user, active=False)
            self.plan.actions.append(action)
            self.ledger.user(user.id, "deactivated")
        else:
            self.ledger.user(user.id, "in_sync")
