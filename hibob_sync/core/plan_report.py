"""`plan` (and `run --dry-run`) for people and scripts: the plan, then every safeguard.

Deactivations still waiting in the grace window are listed as actions marked "waiting": a
reviewed plan's `apply` carries them out.

The text is the per-user diff, the summary (set-aside employees new and old, warnings) and
the safeguards that would stop `run`, each with its numbers and the way through. The JSON
holds the same, values included (it is what the admin asked to see); JSON escapes control
characters itself, the text goes through ``safe_text.shown``.
"""

from __future__ import annotations

import json
from pathlib import Path

from hibob_sync.core.plan import Action, Plan
from hibob_sync.core.report import plan_text, summary_text
from hibob_sync.core.summary import RunSummary
from hibob_sync.model import Value


def safeguards_text(summary: RunSummary) -> str:
    """Each safeguard the plan trips, named with its numbers; or that `run` would go ahead."""
    if not summary.tripped:
        return "Safeguards: none tripped; `hibob-sync run` would carry out this plan."
    lines = [f"Safeguards that would stop `hibob-sync run` ({len(summary.tripped)}):"]
    for item in summary.tripped:
        lines.append(f"  [{item.safeguard}] {item.message}")
    final = [item for item in summary.tripped if not item.reviewable]
    if final:  # no review makes it right: no way through is offered
        lines.append(
            "No review can approve this plan, and `plan -o` writes no file for it: "
            + (final[0].hint or "fix the cause and plan again")
            + "."
        )
        return "\n".join(lines)
    lines.append(
        "If this plan is right: `hibob-sync plan -o plan.json`, review the file, then "
        "`hibob-sync apply plan.json`."
    )
    return "\n".join(lines)


def review_text(summary: RunSummary) -> str:
    """The whole of `plan`'s output."""
    parts = [plan_text(summary.plan or Plan()), summary_text(summary), safeguards_text(summary)]
    return "\n\n".join(parts)


def _wire(value: Value) -> object:
    return list(value) if isinstance(value, tuple) else value


def _action(action: Action) -> dict[str, object]:
    return {
        "kind": action.kind,
        "email": action.email,
        "employee_id": action.employee_id,
        "scim_id": action.user.id if action.user else None,
        "changes": {
            name: {"before": _wire(before), "after": _wire(after)}
            for name, (before, after) in action.changes.items()
        },
        "external_id": action.external_id,
        "active": action.active,
    }


def review_dict(summary: RunSummary) -> dict[str, object]:
    """The JSON form: the run summary's keys, plus the actions and the safeguards."""
    plan = summary.plan or Plan()
    document = summary.as_dict()
    document["actions"] = [_action(action) for action in plan.actions] + [
        {**_action(action), "waiting": {"missing_since": p.missing_since, "countdown": p.countdown}}
        for action, p in zip(plan.held, plan.pending, strict=False)
    ]
    document["safeguards"] = [
        {"safeguard": item.safeguard, "message": item.message, "hint": item.hint}
        for item in summary.tripped
    ]
    document["would_run"] = not summary.tripped
    return document


def review_json(summary: RunSummary) -> str:
    """`plan --json`."""
    return json.dumps(review_dict(summary), indent=2, sort_keys=True)


def plan_file_note(path: Path) -> str:
    """Said whenever a plan file is written: it holds profile values."""
    return (
        f"Wrote the plan to {path} (mode 0600). It holds HR profile values: keep it private "
        f"and delete it once applied. Carry it out with `hibob-sync apply {path}`."
    )
