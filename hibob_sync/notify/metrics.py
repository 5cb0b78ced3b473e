"""The Prometheus textfile written after every run (`notify.metrics_file`).

node_exporter's textfile collector (and Grafana Alloy's) reads `*.prom` files from a folder
at each scrape; the file must never be seen half-written, so it is written to a private temp
file in the same folder (O_EXCL, mode 0600, never through a link), given its final mode and
renamed over the old one. Counts and times only: no employee, email or value ever goes in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hibob_sync.core.plan import ACTION_KINDS
from hibob_sync.errors import HibobSyncError
from hibob_sync.memory import RunMemory
from hibob_sync.state import StateStore

log = logging.getLogger(__name__)

ACTIONS = (*ACTION_KINDS, "unchanged", "failed")
GOOD = (0, 1)
FINAL_MODE = 0o644  # counts and times only; the collector runs as another user


@dataclass(frozen=True)
class RunMetrics:
    """What one run leaves for monitoring: times (epoch seconds), exit code and counts."""

    started: float
    finished: float
    exit_code: int
    last_success: float | None  # the newest run that finished with exit 0 or 1
    counts: Mapping[str, int] = field(default_factory=dict)
    pending_deactivations: int = 0


def write_metrics(path: Path, run: RunMetrics) -> None:
    """Write the textfile atomically (raises OSError when the folder is not writable)."""
    # Imported here: only runs with notify.metrics_file set need it.
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()

    def gauge(name: str, text: str, value: float) -> None:
        Gauge(f"hibob_sync_{name}", text, registry=registry).set(value)

    gauge("last_run_timestamp_seconds", "When the last run finished (Unix time).", run.finished)
    gauge(
        "last_success_timestamp_seconds",
        "When the last good run (exit 0 or 1) finished (Unix time; 0 before the first).",
        run.last_success or 0,
    )
    gauge(
        "last_exit_code", "Exit code of the last run (0 in sync, 1 some employees).", run.exit_code
    )
    gauge(
        "run_duration_seconds",
        "How long the last run took.",
        max(0.0, run.finished - run.started),
    )
    users = Gauge(
        "hibob_sync_users",
        "SCIM users per action in the last run (failed: writes that failed).",
        ["action"],
        registry=registry,
    )
    for action in ACTIONS:
        users.labels(action=action).set(run.counts.get(action, 0))
    gauge(
        "employees_set_aside",
        "Employees the last run set aside (bad or missing HiBob data), named in its summary.",
        run.counts.get("rejected", 0),
    )
    gauge(
        "pending_deactivations",
        "Managed users whose employee HiBob stopped returning, waiting out "
        "sync.vanished_grace before deactivation.",
        run.pending_deactivations,
    )
    _replace(path, generate_latest(registry))


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to a new private temp file beside ``path``, then rename it over.

    mkstemp opens with O_EXCL and O_NOFOLLOW, mode 0600: nobody can have prepared or
    linked the temp file. The collector (another user) reads the final file: mode 0644.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), FINAL_MODE)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _epoch(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


def record_metrics(
    path: Path,
    state_path: Path,
    *,
    started_at: str,
    finished_at: str,
    exit_code: int,
    counts: Mapping[str, int],
    partial: bool = False,
    memory: RunMemory | None = None,
) -> None:
    """Write the textfile for a run just recorded; best effort, never changes the exit code.

    A partial run (`run --only`) is never the last good run: that time comes from the run's
    memory of the store (memory.py), or from the store for a run that read none.

    A metrics file that cannot be written is logged; the alert on its growing age is what
    tells the monitoring side.
    """
    finished = _epoch(finished_at) or 0.0
    last_success = finished if exit_code in GOOD and not partial else None
    if last_success is None and memory is not None:
        last_success = _epoch(memory.last_good_finish) if memory.last_good_finish else None
    elif last_success is None:
        try:
            good = StateStore(state_path, read_only=True).last_good_finish()
            last_success = _epoch(good) if good else None
        except (OSError, HibobSyncError) as exc:
            log.warning("metrics: the last good run could not be read: %s", exc)
    metrics = RunMetrics(
        started=_epoch(started_at) or finished,
        finished=finished,
        exit_code=exit_code,
        last_success=last_success,
        counts=counts,
        pending_deactivations=counts.get("pending", 0),
    )
    try:
        write_metrics(path, metrics)
    except OSError as exc:
        log.error("metrics: could not write %s: %s", path, exc.strerror or exc)
