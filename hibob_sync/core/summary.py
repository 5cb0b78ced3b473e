"""What a run did, as the CLI shows it and the state store keeps it (plain data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hibob_sync.core.plan import Plan
from hibob_sync.core.safeguards import Tripped
from hibob_sync.errors import ExitCode
from hibob_sync.model import Failure, ScimUser


@dataclass
class RunSummary:
    """What a run did: counts, the employees that failed or were set aside, the outcome."""

    started_at: str
    finished_at: str = ""
    dry_run: bool = False
    exit_code: int = ExitCode.OK
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)
    plan: Plan | None = None
    users: list[ScimUser] = field(default_factory=list)
    since: dict[Failure, str] = field(default_factory=dict)  # failures an earlier run had too
    dialect: list[str] = field(default_factory=list)  # how the SCIM server takes updates
    recoveries: int = 0  # users whose update needed another form this run
    concurrency: dict[str, float] | None = None  # where the SCIM limiter settled
    tripped: list[Tripped] = field(default_factory=list)  # safeguards the plan would trip
    # 429s met: the wait budget (max_wait, waited, gave_up) and the limit learnt ("limit").
    rate_limit: dict[str, float | str] | None = None
    partial: bool = False  # `--only`: the named people alone, never the night's run

    @property
    def outcome(self) -> str:
        return ExitCode.outcome(self.exit_code)

    def as_dict(self) -> dict[str, object]:
        """The JSON form of --json: counts, IDs and emails only, never profile values."""
        return {
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "dry_run": self.dry_run,
            "partial": self.partial,
            "exit_code": int(self.exit_code),
            "outcome": self.outcome,
            "message": self.message,
            "counts": self.counts,
            "failures": [
                {**vars(f), "new": f not in self.since, "since": self.since.get(f)}
                for f in self.failures
            ],
            "warnings": [vars(f) for f in self.warnings],
            "pending_deactivations": [vars(p) for p in self.plan.pending] if self.plan else [],
            # One outcome per employee in HiBob's answer and per other SCIM user (outcomes.py).
            "outcomes": self.plan.outcomes.counts() if self.plan else {},
            "accounted_for": self.plan.outcomes.totals() if self.plan else {},
            "scim_dialect": self.dialect,
            "scim_recoveries": self.recoveries,
            **({"concurrency": self.concurrency} if self.concurrency else {}),
            **({"rate_limit": self.rate_limit} if self.rate_limit else {}),
        }


def with_cleaned(
    counts: dict[str, int], cleaned: list[Failure], who: Mapping[str, int]
) -> dict[str, int]:
    """The counts, plus employees whose text lost control characters (when there are any),
    and who was out of scope or protected (``Who.counts``)."""
    if cleaned:
        counts["cleaned"] = len(cleaned)
    counts.update(who)
    return counts
