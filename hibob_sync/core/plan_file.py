"""The plan file: the record of a reviewed plan, written by `plan -o` and read by `apply`.

When a safeguard stops the run, the admin's review is the override. The file is a record of
what was reviewed, never a list of instructions: every action with its values before and
after (deactivations still waiting in the grace window included), what it was made from
(config and mapping digests, the SCIM URL, the time, an expiry) and the safeguards it
tripped. `apply` plans afresh and writes only what matches this record (replay.py); here it
refuses (65, nothing written) a file that expired or was made for another config, mapping
or target. A refusal is no run (``PlanRefused``). The file holds profile values, so it is
written with mode 0600 and says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hibob_sync.config.mapping import FieldMapping
from hibob_sync.config.settings import Settings
from hibob_sync.core.plan import ACTION_KINDS, Action, ActionKind, Plan
from hibob_sync.core.safeguards import Tripped
from hibob_sync.errors import ConfigError, PlanRefused
from hibob_sync.model import Value

FORMAT = "hibob-sync plan"
VERSION = 2  # 2: actions as a record only (no fingerprints), waiting ones listed
DEFAULT_EXPIRY = timedelta(hours=24)
NOTE = (
    "This file holds HR profile values (titles, dates of birth, teams...). Keep it private "
    "and delete it once applied."
)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8")


def config_digest(settings: Settings) -> str:
    """The config file as it is now (any change makes a plan stale)."""
    if settings.path is None:
        return _digest(b"")
    try:
        return _digest(settings.path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{settings.path}: cannot be read ({exc.strerror})") from None


def mapping_digest(mapping: FieldMapping) -> str:
    """The mapping as loaded (the default mapping has no file, so not the file's bytes)."""
    data: dict[str, object] = {name: list(mapping.sources[name]) for name in mapping}
    if mapping.extra or mapping.rules:  # (the same digest as before for a plain mapping)
        data["extra:"] = {key: list(sources) for key, sources in mapping.extra.items()}
        data["rules:"] = {key: rule.as_yaml() for key, rule in mapping.rules.items()}
    return _digest(_canonical(data))


def _value(value: object) -> Value:
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return None if value is None else str(value)


def _wire(value: Value) -> object:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class PlanOutput:
    """What `plan -o` asks for: where to write the plan file, and how long it is valid."""

    path: Path
    expires: timedelta = DEFAULT_EXPIRY


@dataclass(frozen=True)
class StoredAction:
    """One reviewed action as the file records it (compared with a fresh plan, never run)."""

    kind: ActionKind
    email: str
    employee_id: str | None
    scim_id: str | None
    changes: dict[str, tuple[Value, Value]]
    external_id: str | None
    active: bool | None
    waiting: bool = False  # a vanished user's deactivation still in the grace window


@dataclass
class PlanFile:
    """A plan file as read back."""

    path: Path
    created_at: datetime
    expires_at: datetime
    config: str
    mapping: str
    scim_url: str | None
    actions: list[StoredAction] = field(default_factory=list)
    safeguards: list[Tripped] = field(default_factory=list)


def plan_document(
    plan: Plan,
    found: Sequence[Tripped],
    settings: Settings,
    mapping: FieldMapping,
    now: datetime,
    expires: timedelta = DEFAULT_EXPIRY,
) -> dict[str, Any]:
    """The plan file's content (see module docstring)."""
    actions = [_recorded(action) for action in plan.actions]
    for action, pending in zip(plan.held, plan.pending, strict=False):
        actions.append(
            {
                **_recorded(action),
                "waiting": {"missing_since": pending.missing_since, "countdown": pending.countdown},
            }
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "note": NOTE,
        "created_at": now.isoformat(timespec="seconds"),
        "expires_at": (now + expires).isoformat(timespec="seconds"),
        "config": {"path": str(settings.path or ""), "digest": config_digest(settings)},
        "mapping": {"path": str(settings.mapping_path), "digest": mapping_digest(mapping)},
        "scim_url": settings.scim_url,
        "hibob_url": settings.hibob_url,
        "counts": plan.counts(),
        "safeguards": [{"safeguard": t.safeguard, "message": t.message} for t in found],
        "actions": actions,
        "set_aside": [vars(r) for r in plan.rejected],
        "warnings": [vars(r) for r in plan.warnings],
    }


def _recorded(action: Action) -> dict[str, Any]:
    return {
        "kind": action.kind,
        "email": action.email,
        "employee_id": action.employee_id,
        "scim_id": action.user.id if action.user else None,
        "changes": {k: [_wire(b), _wire(a)] for k, (b, a) in action.changes.items()},
        "external_id": action.external_id,
        "active": action.active,
    }


def write(
    out: PlanOutput,
    plan: Plan,
    found: Sequence[Tripped],
    settings: Settings,
    mapping: FieldMapping,
    now: datetime,
) -> None:
    """`plan -o`: the plan file for `apply`; PlanRefused (65) for a plan no review can
    approve (``Tripped.reviewable``), which gets no file."""
    final = [t for t in found if not t.reviewable]
    if final:
        raise PlanRefused(
            f"no plan file written to {out.path}: {final[0].message}", hint=final[0].hint
        )
    document = plan_document(plan, found, settings, mapping, now, out.expires)
    write_plan_file(out.path, document)


def applied_message(plan_file: PlanFile, done_before: int, message: str) -> str:
    """What history keeps of an `apply`: that a reviewed plan was carried out, past what."""
    count = len(plan_file.actions)
    text = (
        f"applied the reviewed plan {plan_file.path} made at "
        f"{plan_file.created_at.isoformat(timespec='seconds')} "
        f"({count} action{'' if count == 1 else 's'}"
    )
    if done_before:
        text += f", {done_before} already done by an earlier apply"
    text += ")"
    if plan_file.safeguards:
        text += "; past the safeguards " + ", ".join(t.safeguard for t in plan_file.safeguards)
    return f"{text}. {message}" if message else text


def write_plan_file(path: Path, document: dict[str, Any]) -> None:
    """Write atomically with mode 0600: the file holds profile values."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=".plan-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the plan file ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(document, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write the plan file ({exc.strerror})") from None


def _bad(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"{path}: not a usable hibob-sync plan file ({why})",
        hint="make one with `hibob-sync plan -o FILE`",
    )


def _when(path: Path, text: object) -> datetime:
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        raise _bad(path, f"bad time {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def _stored(path: Path, item: Any) -> StoredAction:
    try:
        kind = item["kind"]
        if kind not in ACTION_KINDS:
            raise _bad(path, f"unknown action {kind!r}")
        changes = {
            str(name): (_value(pair[0]), _value(pair[1])) for name, pair in item["changes"].items()
        }
        return StoredAction(
            kind=kind,
            email=str(item["email"]),
            employee_id=None if item["employee_id"] is None else str(item["employee_id"]),
            scim_id=None if item["scim_id"] is None else str(item["scim_id"]),
            changes=changes,
            external_id=_optional(item.get("external_id")),
            active=item.get("active") if isinstance(item.get("active"), bool) else None,
            waiting=bool(item.get("waiting")),
        )
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise _bad(path, f"an action lacks {exc}") from None


def load_plan_file(path: Path) -> PlanFile:
    """Read a plan file; a damaged or foreign file is exit 78 naming it.

    The CLI refuses a missing FILE as a usage error (2) before this; one that goes missing
    in between is still named here.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(path, f"not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _bad(path, "no 'format: hibob-sync plan'")
    if document.get("version") != VERSION:
        raise _bad(path, f"format version {document.get('version')!r}, expected {VERSION}")
    try:
        return PlanFile(
            path=path,
            created_at=_when(path, document["created_at"]),
            expires_at=_when(path, document["expires_at"]),
            config=str(document["config"]["digest"]),
            mapping=str(document["mapping"]["digest"]),
            scim_url=document.get("scim_url"),
            actions=[_stored(path, item) for item in document["actions"]],
            safeguards=[
                Tripped(str(t["safeguard"]), str(t["message"])) for t in document["safeguards"]
            ],
        )
    except (KeyError, TypeError) as exc:
        raise _bad(path, f"missing {exc}") from None


def check_applicable(
    plan_file: PlanFile, settings: Settings, mapping: FieldMapping, now: datetime
) -> None:
    """Refuse (65) a plan that expired or was made for another config, mapping or target."""
    problems = []
    if now >= plan_file.expires_at:
        problems.append(f"it expired at {plan_file.expires_at.isoformat(timespec='seconds')}")
    if plan_file.scim_url != settings.scim_url:
        problems.append(
            f"it was made for the SCIM server {plan_file.scim_url}, and the config points at "
            f"{settings.scim_url}"
        )
    elif plan_file.config != config_digest(settings):
        problems.append(f"it was made with another config than {settings.path}")
    if plan_file.mapping != mapping_digest(mapping):
        problems.append("it was made with another field mapping")
    if problems:
        raise PlanRefused(
            f"the plan {plan_file.path} made at "
            f"{plan_file.created_at.isoformat(timespec='seconds')} cannot be applied: "
            + "; ".join(problems)
            + "; nothing was written",
            hint="make a new plan with `hibob-sync plan -o FILE`, review it, and apply that",
        )
