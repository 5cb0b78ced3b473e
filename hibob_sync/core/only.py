"""`run --only WHO` / `plan --only WHO`: the same pipeline, for the named people only.

WHO is an email or a HiBob employee ID. The run reads only those people (a filtered HiBob
search, with the other records that share their addresses: sync.fetch.search_people; a
filtered SCIM lookup each, with their managers' users for the reports-to link),
plans as every night, then keeps only the named people's actions: nobody else is touched.
A named user whose employee HiBob does not return is left to the nightly run's grace window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hibob_sync.core.plan import Plan
from hibob_sync.model import Failure, ScimUser, normalise_email


@dataclass(frozen=True)
class Only:
    """The people named on the command line, split by kind (HiBob filters one kind at once)."""

    emails: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, names: Iterable[str]) -> Only:
        emails: dict[str, None] = {}
        ids: dict[str, None] = {}
        for name in names:
            text = name.strip()
            if "@" in text:
                emails[normalise_email(text) or text] = None
            elif text:
                ids[text] = None
        return cls(tuple(emails), tuple(ids))

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.emails, *self.ids)


def narrow_plan(plan: Plan, only: Only, named_ids: set[str], seen_ids: Iterable[str]) -> None:
    """Keep the named people's actions, problems and warnings only (``named_ids``: their
    HiBob IDs); nobody waits in a grace window, since the countdowns are the nightly's."""
    seen = set(seen_ids)
    ids = named_ids | set(only.ids)
    emails = set(only.emails)

    def named(employee_id: str | None, email: str | None) -> bool:
        return (employee_id is not None and employee_id in ids) or email in emails

    plan.actions = [
        a
        for a in plan.actions
        if named(a.employee_id, a.email)
        and not (a.kind == "deactivate" and a.employee_id is not None and a.employee_id not in seen)
    ]
    # The run did not read that other employee: whether they still hold the address is the
    # nightly run's to judge, never a reason to take their user over now.
    kept = []
    for action in plan.actions:
        holder = action.user.external_id if action.user is not None else None
        if action.kind == "adopt" and holder and holder not in seen:
            plan.rejected.append(
                Failure(
                    action.employee_id,
                    action.email,
                    f"the email is held in HiThrive by the user whose externalId is {holder} "
                    "(another HiBob record, or another provisioning client's user); the "
                    "nightly run decides (or name both with --only)",
                )
            )
        else:
            kept.append(action)
    plan.actions = kept
    plan.rejected = [f for f in plan.rejected if named(f.employee_id, f.email)]
    plan.warnings = [f for f in plan.warnings if named(f.employee_id, f.email)]
    plan.pending = []


def unmatched(
    only: Only, named_ids: set[str], email_of: dict[str, str], users: Sequence[ScimUser]
) -> tuple[list[Failure], list[Failure]]:
    """(names neither side knows: problems; names only HiThrive knows: warnings)."""
    unknown: list[Failure] = []
    scim_only: list[Failure] = []
    hibob_emails = {email_of.get(i) for i in named_ids}
    for who in only.names:
        in_hibob = who in named_ids or who in hibob_emails
        if in_hibob:
            continue
        email = who if "@" in who else None
        user = next(
            (u for u in users if u.user_name.strip().lower() == who or u.external_id == who), None
        )
        if user is None:
            reason = "neither HiBob nor HiThrive knows them"
            unknown.append(Failure(None if email else who, email, reason))
        else:
            scim_only.append(
                Failure(
                    user.external_id,
                    user.user_name.strip().lower(),
                    "HiBob does not return them; left to the nightly run (sync.vanished_grace)",
                )
            )
    return unknown, scim_only
