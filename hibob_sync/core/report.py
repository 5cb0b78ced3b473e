"""Text for people: the plan as a readable diff, the run summary, the history table.

Pure functions returning strings, so the CLI only prints them. The dry-run diff shows
values (it is what an admin asked to see, on their terminal); the summary and history show
only counts, HiBob IDs, emails and reasons. Every HiBob or SCIM value goes through
safe_text.shown: HR data is untrusted text and must not steer a terminal or forge log lines.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Sequence

from hibob_sync.core.outcomes import outcomes_text
from hibob_sync.core.plan import ACTION_KINDS, ActionKind, Pending, Plan
from hibob_sync.core.summary import RunSummary
from hibob_sync.errors import ExitCode, RunReport
from hibob_sync.model import Failure, Value
from hibob_sync.safe_text import shown
from hibob_sync.state import RunRecord

# How each action kind shows: its mark in the plan, its word in the counts.
SYMBOL: dict[ActionKind, str] = {
    "create": "+",
    "update": "~",
    "adopt": "=",
    "reactivate": "^",
    "deactivate": "-",
}
DONE: dict[str, str] = {
    **{kind: kind + ("d" if kind.endswith("e") else "ed") for kind in ACTION_KINDS},
    "unchanged": "unchanged",
    "rejected": "set aside",
    "pending": "waiting to deactivate",
    "failed": "failed",
    "cleaned": "synced without control characters",
    "unmanaged": "not managed by hibob-sync (left alone)",
    "out_of_scope": "out of scope",
    "protected": "protected (left as they are)",
}


def _show(value: Value) -> str:
    if value is None or value == ():
        return "(empty)"
    if isinstance(value, tuple):
        return ", ".join(shown(item) for item in value)
    return shown(value)


def plan_text(plan: Plan) -> str:
    """The plan per user and per field: before -> after."""
    lines: list[str] = []
    for kind in ACTION_KINDS:
        for action in plan.of_kind(kind):
            who = (
                f"{shown(action.email)} (HiBob {shown(action.employee_id)})"
                if action.employee_id
                else shown(action.email)
            )
            lines.append(f"{SYMBOL[kind]} {kind:<10} {who}")
            for name, (before, after) in action.changes.items():
                if kind == "create":
                    lines.append(f"      {name}: {_show(after)}")
                else:
                    lines.append(f"      {name}: {_show(before)} -> {_show(after)}")
            if action.external_id and kind == "adopt":  # by hand (none), or a rehire's old ID
                held = action.user.external_id if action.user is not None else None
                before = shown(held) if held else "(none)"
                lines.append(f"      externalId: {before} -> {shown(action.external_id)}")
    for action, pending in zip(plan.held, plan.pending, strict=False):
        lines.append(
            f"{SYMBOL['deactivate']} {'deactivate':<10} {shown(action.email)} "
            f"(HiBob {shown(action.employee_id or '')}), waiting: {pending.countdown} of "
            "sync.vanished_grace (`apply` of a reviewed plan deactivates now)"
        )
    if not lines:
        lines.append("Nothing to change: every employee in scope is in sync.")
    return "\n".join(lines)


def pending_lines(pending: Sequence[Pending]) -> list[str]:
    """Users waiting out sync.vanished_grace, each with its countdown (in every summary,
    so `run --dry-run` and the nightly log both show them)."""
    if not pending:
        return []
    lines = [f"Waiting to deactivate: HiBob no longer returns them at all ({len(pending)}):"]
    for item in pending[:SHOWN]:
        lines.append(
            f"  {shown(item.email)} (HiBob {shown(item.employee_id)}): missing since "
            f"{item.missing_since}, {item.countdown} of sync.vanished_grace"
        )
    if len(pending) > SHOWN:
        lines.append(f"  ... and {len(pending) - SHOWN} more (`run --json` lists them all)")
    return lines


def counts_text(counts: dict[str, int]) -> str:
    """`3 created, 1 updated, ...`, leaving out zeros."""
    parts = [f"{counts[k]} {word}" for k, word in DONE.items() if counts.get(k)]
    return ", ".join(parts) if parts else "nothing to do"


SHOWN = 30  # per list in the text summary; --json and history --json list everyone


def _failure_lines(title: str, items: Sequence[Failure], *, count: bool = True) -> list[str]:
    if not items:
        return []
    lines = [f"{title} ({len(items)}):" if count else f"{title}:"]
    for item in items[:SHOWN]:
        who = shown(item.email) if item.email else "(no valid email)"
        if item.employee_id:  # none for an address `--only` named that nobody knows
            who += f" (HiBob {shown(item.employee_id)})"
        lines.append(f"  {who}: {shown(item.reason)}")
    if len(items) > SHOWN:
        reasons = Counter(item.reason for item in items[SHOWN:])
        lines.append(f"  ... and {len(items) - SHOWN} more (`run --json` lists them all):")
        lines += [f"    {count} x {shown(reason)}" for reason, count in reasons.most_common(5)]
    return lines


def summary_text(summary: RunSummary) -> str:
    """The run summary: counts, then the new problems, the old ones by date, the warnings."""
    verb = "Would do" if summary.dry_run else "Done"
    if summary.partial:
        verb += " for the named people only (--only)"
    lines = [f"{verb}: {counts_text(summary.counts)}."]
    if summary.plan is not None and summary.plan.outcomes.employees:
        lines.append(outcomes_text(summary.plan.outcomes))
    if summary.concurrency:
        lines.append(concurrency_text(summary.concurrency))
    if summary.rate_limit:
        lines.append(rate_limit_text(summary.rate_limit))
    new = [f for f in summary.failures if f not in summary.since]
    lines += _failure_lines("Employees not synced, new since the last run", new)
    by_date: dict[str, list[Failure]] = {}
    for failure in summary.failures:
        if failure in summary.since:
            by_date.setdefault(summary.since[failure], []).append(failure)
    for date, items in sorted(by_date.items()):
        lines += _failure_lines(f"{len(items)} still set aside since {date}", items, count=False)
    lines += _failure_lines("Warnings", summary.warnings)
    if summary.plan is not None:
        lines += pending_lines(summary.plan.pending)
    lines += _dialect_lines(summary)
    return "\n".join(lines)


def _dialect_lines(summary: RunSummary) -> list[str]:
    """How the SCIM server takes updates, when it is not the plain standard way."""
    plain = all(line.endswith("by sub-attribute path") for line in summary.dialect)
    if plain and not summary.recoveries:
        return []
    lines = ["SCIM server dialect (remembered for the next run):"]
    lines += [f"  {line}" for line in summary.dialect]
    if summary.recoveries:
        lines.append(f"  {summary.recoveries} user(s) needed another form this run")
    return lines


def concurrency_text(settled: dict[str, float]) -> str:
    """How many SCIM requests the run settled at keeping in flight (the limiter adapts)."""
    text = (
        f"SCIM concurrency settled at {settled['settled']:g} "
        f"(ceiling sync.concurrency {settled['ceiling']:g}, at most {settled['peak']:g} in flight)"
    )
    if "pace" in settled:
        text += f", paced at {settled['pace']:g} requests/s after 429 answers"
    return text + "."


def rate_limit_text(spent: dict[str, float | str]) -> str:
    """What the run waited for 429s, of its budget, and the server's limit as learnt."""
    text = (
        f"Rate limited (HTTP 429): waited {float(spent['waited']):g}s of "
        f"sync.max_wait {float(spent['max_wait']):g}s"
    )
    if spent.get("gave_up"):
        text += f"; {spent['gave_up']:g} request(s) gave up when it ran out"
    if spent.get("limit"):
        text += f"; the server's limit: {spent['limit']}"
    return text + "."


def summary_json(summary: RunReport) -> str:
    """The --json form."""
    return json.dumps(summary.as_dict(), indent=2, sort_keys=True)


def _did(run: RunRecord) -> str:
    """What a run did; a failed run says whether it wrote anything before it stopped."""
    if run.exit_code in (ExitCode.OK, ExitCode.PARTIAL):
        return counts_text(run.counts)
    wrote: dict[str, int] = {k: run.counts[k] for k in ACTION_KINDS if run.counts.get(k)}
    if not wrote:
        return "nothing written"
    return counts_text(wrote) + " before it stopped"


def history_text(runs: Sequence[RunRecord]) -> str:
    """One line per run, newest first, each message whole (wrapped, never cut)."""
    if not runs:
        return "No runs recorded yet."
    lines = [f"{'started (UTC)':<25} {'exit':>4}  {'outcome':<26} counts"]
    for run in runs:
        outcome = f"{run.outcome} (partial)" if run.partial else run.outcome
        lines.append(f"{run.started_at:<25} {run.exit_code:>4}  {outcome:<26} {_did(run)}")
        if run.message:
            lines += textwrap.wrap(
                shown(run.message), width=100, initial_indent=" " * 32, subsequent_indent=" " * 32
            )
        lines += _vanished_lines(run)
    return "\n".join(lines)


def _vanished_lines(run: RunRecord) -> list[str]:
    """When each employee HiBob stopped returning went missing, by HiBob ID."""
    parts = [f"HiBob {shown(i)} missing since {since}" for i, since in sorted(run.waiting.items())]
    parts += [
        f"HiBob {shown(i)} deactivated, missing since {since}"
        for i, since in sorted(run.vanished_deactivated.items())
    ]
    if not parts:
        return []
    return textwrap.wrap(
        "vanished: " + "; ".join(parts),
        width=100,
        initial_indent=" " * 32,
        subsequent_indent=" " * 34,
    )


def history_json(runs: Sequence[RunRecord]) -> str:
    """The --json form of history."""
    return json.dumps(
        [
            {
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "exit_code": r.exit_code,
                "outcome": r.outcome,
                "partial": r.partial,
                "message": r.message,
                "counts": r.counts,
                "failures": [{**vars(f), "since": r.since.get(f)} for f in r.failures],
                "vanished": [
                    {"employee_id": i, "missing_since": since, "deactivated": i in done}
                    for done in (r.vanished_deactivated,)
                    for i, since in sorted({**r.waiting, **done}.items())
                ],
            }
            for r in runs
        ],
        indent=2,
    )
