"""Which of a run's problems are new: the exit-code rule of spec.md.

Exit 1 means a person should look: an employee set aside (or not written) whom the last
finished run had no problem with. The same problem again, night after night, is still named,
with the date it was first seen, but exits 0, so cron, syslog and the alert email stay quiet
until something changes. Warnings never change the exit code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hibob_sync.errors import ExitCode
from hibob_sync.model import Failure


@dataclass(frozen=True)
class Verdict:
    """The exit code of a finished run, why, and since when each old problem is known."""

    exit_code: ExitCode
    message: str
    since: dict[Failure, str]


def verdict(failures: Sequence[Failure], known: Mapping[Failure, str]) -> Verdict:
    """Exit 1 only for problems the last finished run did not have (see module docstring)."""
    since = {f: known[f] for f in failures if f in known}
    new = [f for f in failures if f not in since]
    if not new:
        return Verdict(ExitCode.OK, "", since)
    return Verdict(ExitCode.PARTIAL, new_problems_message(new), since)


def new_problems_message(new: Sequence[Failure]) -> str:
    """A line for history and the alert email: how many, and why (reasons hold no values)."""
    reasons = Counter(f.reason for f in new)
    shown = "; ".join(
        f"{count} x {reason}" if count > 1 else reason for reason, count in reasons.most_common(5)
    )
    more = len(reasons) - 5
    if more > 0:
        shown += f"; and {more} other reason(s)"
    who = "employee" if len(new) == 1 else "employees"
    return f"{len(new)} {who} newly set aside or not written: {shown}"
