"""Apply a plan to the SCIM server: creates first (managers before their reports), then
updates, adoptions, reactivations and deactivations, with bounded concurrency.

A refusal of one user is recorded with its reason and the rest carry on; a rejected token,
a lost permission or a server that stays down stops the run (the caller turns it into an
exit code). The manager of each user is the SCIM id of the manager's user, found by email,
whatever order the employees came in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hibob_sync.core.plan import Action, Plan
from hibob_sync.model import Failure, ScimUser, Value, scim_field
from hibob_sync.scim.batch import write_each
from hibob_sync.scim.writes import ScimWrite, ScimWriter, WriteResult

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
PROGRESS_STEP = 50  # writes per step of the progress bar


@dataclass
class Applied:
    """What the apply step did: per kind counts of successes, and the failures."""

    done: dict[str, int] = field(default_factory=dict)
    deactivated: set[str] = field(default_factory=set)  # employee IDs the server took
    failures: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    made: dict[str, bool] = field(default_factory=dict)  # created/adopted SCIM id -> active


def _create_waves(creates: Sequence[Action]) -> tuple[list[list[Action]], list[Action]]:
    """Order creates so a manager is created before the reports that point at them.

    Returns the waves, and the creates whose manager is in a cycle of new users: those are
    created without a manager and patched once everyone exists.
    """
    by_email = {action.email: action for action in creates}
    depth: dict[str, int] = {}
    cyclic: list[Action] = []

    for action in creates:
        chain: list[str] = []
        email: str | None = action.email
        while email is not None and email in by_email and email not in depth:
            if email in chain:
                break
            chain.append(email)
            manager = by_email[email].manager_email
            email = manager if manager != email else None
        base = depth.get(email, -1) if email is not None and email in depth else -1
        if email is not None and email in chain:
            # A cycle: the members from `email` on are created first, without managers.
            start = chain.index(email)
            for member in chain[start:]:
                depth[member] = 0
                cyclic.append(by_email[member])
            chain = chain[:start]
            base = 0
        for offset, member in enumerate(reversed(chain), start=1):
            depth[member] = base + offset
    waves: dict[int, list[Action]] = {}
    for action in creates:
        waves.setdefault(depth[action.email], []).append(action)
    return [waves[level] for level in sorted(waves)], cyclic


# Profile values a SCIM server might quote back in an error. Emails and employee numbers are
# left: they name the employee anyway, and short numbers would mangle the rest of a message.
_QUOTABLE = frozenset(
    {"job_title", "start_date", "birthday", "teams", "groups", "first_name", "last_name"}
    | {"display_name"}
)


def _redact(text: str, action: Action, write: ScimWrite) -> str:
    """Mask the values a write sent or replaced in a server's error text.

    Failure reasons are logged and kept in the state store, which hold no profile values;
    a server's error detail may quote them (e.g. "invalid title 'X'").
    """
    named: list[tuple[str, Value]] = list(write.values.items())
    named += [(name, value) for name, change in action.changes.items() for value in change]
    values: set[str] = set()
    for name, value in named:
        if name in _QUOTABLE:
            values.update(v for v in ((value,) if isinstance(value, str) else value or ()) if v)
    for value in sorted(values, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "<value>", text)
    return text


class _Applier:
    def __init__(
        self,
        writer: ScimWriter,
        plan: Plan,
        users: Sequence[ScimUser],
        concurrency: int,
        progress: Progress | None,
        result: Applied | None = None,
    ) -> None:
        self.writer = writer
        self.plan = plan
        self.concurrency = concurrency
        self.progress = progress
        self.id_of: dict[str, str] = {}
        for user in users:
            self.id_of.setdefault(user.user_name.strip().lower(), user.id)
        # A user whose email changes in this run is a manager under the new email already.
        for action in plan.actions:
            if action.user is not None and action.kind != "deactivate":
                self.id_of[action.email] = action.user.id
        self.result = result if result is not None else Applied()

    def _manager_id(self, action: Action) -> tuple[bool, Value]:
        """(known, SCIM id) of the manager the action asks for."""
        email = action.manager_email
        if email is None:
            return True, None
        manager_id = self.id_of.get(email)
        return manager_id is not None, manager_id

    def _scim_changes(self, action: Action, *, skip_manager: bool = False) -> dict[str, Value]:
        changes: dict[str, Value] = {}
        for name, (_, after) in action.changes.items():
            if name == "manager_email":
                if skip_manager:
                    continue
                known, manager_id = self._manager_id(action)
                if not known:
                    self.result.warnings.append(
                        Failure(
                            action.employee_id,
                            action.email,
                            "the manager's user could not be created; reports-to not set",
                        )
                    )
                    continue
                changes["manager_id"] = manager_id
            else:
                changes[scim_field(name)] = after
        return changes

    def _write(self, pairs: list[tuple[Action, ScimWrite]]) -> None:
        """Send the writes; count each as it ends, so progress moves and what was done is
        known if a later write raises."""
        planned = len(pairs)
        pairs = [(action, write) for action, write in pairs if not write.empty]  # nothing to send
        ticks = planned - len(pairs)

        def on_result(index: int, outcome: WriteResult) -> None:
            nonlocal ticks
            self._record(*pairs[index], outcome)
            ticks += 1
            if self.progress and ticks >= PROGRESS_STEP:
                self.progress(ticks)
                ticks = 0

        write_each(self.writer, [write for _, write in pairs], self.concurrency, on_result)
        if self.progress and ticks:
            self.progress(ticks)

    def _record(self, action: Action, write: ScimWrite, outcome: WriteResult) -> None:
        if outcome.ok:
            self.result.done[action.kind] = self.result.done.get(action.kind, 0) + 1
            if action.kind == "deactivate" and action.employee_id is not None:
                self.result.deactivated.add(action.employee_id)
            if outcome.user is not None:
                self.id_of[action.email] = outcome.user.id
            made = outcome.user or action.user
            if action.kind in ("create", "adopt") and made is not None:
                now = action.active if action.active is not None else made.active
                self.result.made[made.id] = now
        else:
            message = str(outcome.error.message if outcome.error else "unknown error")
            reason = _redact(message, action, write)
            self.result.failures.append(Failure(action.employee_id, action.email, reason))
            log.warning(
                "could not %s HiBob employee %s: %s", action.kind, action.employee_id, reason
            )

    def run(self) -> Applied:
        """Wave by wave (a write that takes an address waits for its holder to leave it):
        creates (managers first), then the other writes; cyclic managers last."""
        creates = self.plan.of_kind("create")
        wave_of = {action.email: action.wave for action in creates}
        # A manager created in a later wave is linked once it exists, as in a cycle.
        later = [a for a in creates if wave_of.get(a.manager_email or "", -1) > a.wave]
        deferred_all: list[Action] = list(later)
        for wave in sorted({action.wave for action in self.plan.actions}):
            ordered, cyclic = _create_waves([a for a in creates if a.wave == wave])
            deferred_all += cyclic
            deferred = {id(a) for a in [*cyclic, *later]}
            for group in ordered:
                pairs: list[tuple[Action, ScimWrite]] = []
                for action in group:
                    values = self._scim_changes(action, skip_manager=id(action) in deferred)
                    active = action.active is not False  # a future hire is created inactive
                    write = ScimWrite.for_create(values, action.external_id or "", active=active)
                    pairs.append((action, write))
                self._write(pairs)
            pairs = []
            for action in self.plan.actions:
                if action.kind == "create" or action.wave != wave:
                    continue
                assert action.user is not None
                write = ScimWrite.for_update(
                    action.user,
                    self._scim_changes(action),
                    active=action.active,
                    external_id=action.external_id,
                )
                pairs.append((action, write))
            self._write(pairs)
        self._link_deferred(deferred_all)
        return self.result

    def _link_deferred(self, deferred: Sequence[Action]) -> None:
        """New users created without their manager get it now that every one of them exists."""
        pairs: list[tuple[Action, ScimWrite]] = []
        for action in deferred:
            known, manager_id = self._manager_id(action)
            user_id = self.id_of.get(action.email)
            if known and user_id is not None and manager_id is not None:
                user = ScimUser(
                    user_id, action.email, action.external_id, action.active is not False
                )
                write = ScimWrite.for_update(user, {"manager_id": manager_id})
                pairs.append((Action("update", action.email, action.employee_id, user), write))
        self._write(pairs)


def apply_plan(
    writer: ScimWriter,
    plan: Plan,
    users: Sequence[ScimUser],
    *,
    concurrency: int = 4,
    progress: Progress | None = None,
    result: Applied | None = None,
) -> Applied:
    """Carry out every action of the plan (see module docstring).

    ``result`` is filled as writes succeed, so a caller that an error interrupts still
    knows what was done (history shows it).
    """
    return _Applier(writer, plan, users, concurrency, progress, result).run()
