"""The run's memory in SQL: everything a run reads from the state store, in one connection,
and everything it learnt, written in the caller's one transaction (state.py opens both).

Read-only opens (`plan`) meet stores from older versions unmigrated, so each read looks for
the tables and columns it needs first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from hibob_sync.memory import RunChanges, RunMemory
from hibob_sync.model import Failure
from hibob_sync.pace import Learnt
from hibob_sync.state_files import columns, has_table

NIGHTLY_CODES = 50  # runs read back for the alert's "failed nights in a row"


def read_memory(conn: sqlite3.Connection, scim_url: str, pace_since: str) -> RunMemory:
    """The state store as this run finds it: the dialect and pace kept for ``scim_url`` (a
    pace learnt before ``pace_since`` is forgotten), problems, countdowns, ids (state.py
    adds the coverage)."""
    if not has_table(conn, "runs"):
        return RunMemory()  # read only, and no run has written the store yet
    nightly = "partial = 0" if "partial" in columns(conn, "runs") else "1"
    good = f"exit_code IN (0, 1) AND {nightly}"
    finish = conn.execute(
        f"SELECT finished_at FROM runs WHERE {good} ORDER BY id DESC LIMIT 1"  # noqa: S608
    ).fetchone()
    codes = conn.execute(
        f"SELECT exit_code FROM runs WHERE {nightly} ORDER BY id DESC LIMIT ?",  # noqa: S608
        (NIGHTLY_CODES,),
    ).fetchall()
    return RunMemory(
        dialect=read_dialect(conn, scim_url),
        pace=read_pace(conn, scim_url, pace_since),
        known_problems=known_problems(conn, good),
        missing_since={
            str(i): str(since)
            for i, since in _pairs(conn, "vanished", "employee_id, missing_since")
        },
        managed_users={
            str(i): bool(ahead) for i, ahead in _pairs(conn, "managed_users", "scim_id, ahead")
        },
        nightly_codes=tuple(int(code) for (code,) in codes),
        last_good_finish=str(finish[0]) if finish else None,
    )


def known_problems(conn: sqlite3.Connection, good: str) -> dict[Failure, str]:
    """The employees the last finished run (``good``: its condition) set aside, since when."""
    row = conn.execute(
        f"SELECT id, started_at FROM runs WHERE {good} ORDER BY id DESC LIMIT 1"  # noqa: S608
    ).fetchone()
    if row is None:
        return {}
    run_id, started = row
    since = "since" if "since" in columns(conn, "failures") else "NULL"
    return {
        Failure(employee_id, email, reason): str(first or started)[:10]
        for employee_id, email, reason, first in conn.execute(
            f"SELECT employee_id, email, reason, {since} FROM failures"  # noqa: S608
            " WHERE run_id = ?",
            (run_id,),
        )
    }


def read_dialect(conn: sqlite3.Connection, scim_url: str) -> dict[str, str]:
    if not has_table(conn, "scim_dialect"):
        return {}
    rows = conn.execute(
        "SELECT attribute, form FROM scim_dialect WHERE scim_url = ?", (scim_url.rstrip("/"),)
    ).fetchall()
    return {str(attribute): str(form) for attribute, form in rows}


def read_pace(conn: sqlite3.Connection, scim_url: str, since: str) -> Learnt | None:
    if not has_table(conn, "scim_pace"):
        return None
    row = conn.execute(
        "SELECT kind, pace, quota, seconds FROM scim_pace WHERE scim_url = ? AND learned_at >= ?",
        (scim_url.rstrip("/"), since),
    ).fetchone()
    if row is None or row[0] not in ("rate", "window") or not float(row[1]) > 0:
        return None
    return Learnt(row[0], float(row[1]), int(row[2]), float(row[3]))


def _pairs(conn: sqlite3.Connection, table: str, cols: str) -> list[tuple[object, object]]:
    if not has_table(conn, table):
        return []  # read only, from an older version
    return conn.execute(f"SELECT {cols} FROM {table}").fetchall()  # noqa: S608 - constants


def write_changes(conn: sqlite3.Connection, changes: RunChanges, at: str) -> None:
    """What a run learnt, in the caller's transaction (its history record's)."""
    if changes.dialect:
        put_dialect(conn, changes.scim_url, changes.dialect, at)
    if changes.pace is not None:
        put_pace(conn, changes.scim_url, changes.pace, at)
    if changes.missing is not None:
        put_missing(conn, changes.missing)
    if changes.managed is not None:
        put_managed(conn, changes.managed)


def put_dialect(conn: sqlite3.Connection, scim_url: str, forms: Mapping[str, str], at: str) -> None:
    conn.executemany(
        "INSERT INTO scim_dialect (scim_url, attribute, form, learned_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (scim_url, attribute)"
        " DO UPDATE SET form = excluded.form, learned_at = excluded.learned_at"
        " WHERE form != excluded.form",
        [(scim_url.rstrip("/"), key, form, at) for key, form in forms.items()],
    )


def put_pace(conn: sqlite3.Connection, scim_url: str, learnt: Learnt, at: str) -> None:
    """`at` changes only with the pace (a night that kept it learnt nothing new)."""
    conn.execute(
        "INSERT INTO scim_pace (scim_url, kind, pace, quota, seconds, learned_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scim_url) DO UPDATE SET"
        " kind = excluded.kind, pace = excluded.pace, quota = excluded.quota,"
        " seconds = excluded.seconds, learned_at = excluded.learned_at"
        " WHERE kind != excluded.kind OR abs(pace - excluded.pace) > 1e-6",
        (scim_url.rstrip("/"), learnt.kind, learnt.pace, learnt.quota, learnt.seconds, at),
    )


def put_missing(conn: sqlite3.Connection, missing: Mapping[str, str]) -> None:
    """Replace the countdowns with this run's: the ones not in it ended."""
    conn.execute("DELETE FROM vanished")
    conn.executemany(
        "INSERT INTO vanished (employee_id, missing_since) VALUES (?, ?)", sorted(missing.items())
    )


def put_managed(conn: sqlite3.Connection, users: Mapping[str, bool]) -> None:
    """Replace the managed SCIM ids with this run's (ownership.owned_after)."""
    conn.execute("DELETE FROM managed_users")
    conn.executemany(
        "INSERT INTO managed_users (scim_id, ahead) VALUES (?, ?)",
        sorted((scim_id, int(ahead)) for scim_id, ahead in users.items()),
    )
