"""The state store: run history, the last good field coverage and the SCIM ids hibob-sync
created or adopted, in SQLite.

Holds only counts, HiBob employee IDs, emails and reasons (which name fields, never values),
so no birth date, title or other profile value is ever stored. The file is created with
mode 0600 in a folder of mode 0700.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hibob_sync.errors import ConfigError
from hibob_sync.host_files import check_private_folder, refuse_link
from hibob_sync.memory import RunChanges, RunMemory
from hibob_sync.model import Failure
from hibob_sync.pace import Learnt
from hibob_sync.state_files import KEY, SCHEMA, columns, has_table, migrate, open_store
from hibob_sync.state_memory import (
    known_problems,
    put_dialect,
    put_managed,
    put_missing,
    put_pace,
    read_dialect,
    read_memory,
    read_pace,
    write_changes,
)

KEEP_RUNS = 1000


@dataclass
class RunRecord:
    """One run as stored."""

    started_at: str
    finished_at: str
    exit_code: int
    outcome: str
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    coverage: list[str] | None = None  # mapping sources seen, for good runs
    failures: list[Failure] = field(default_factory=list)
    id: int | None = None
    # The date each failure was first seen, where an earlier run saw it too.
    since: dict[Failure, str] = field(default_factory=dict)
    # Employees HiBob stopped returning (vanished.py), by ID: since when, waiting or not.
    waiting: dict[str, str] = field(default_factory=dict)
    vanished_deactivated: dict[str, str] = field(default_factory=dict)
    partial: bool = False  # `run --only`: some people only, never the night's good run


class StateStore:
    """Opens (and creates) the SQLite file; one short connection per operation.

    ``read_only`` (history, status, plan) never creates, chmods or migrates anything.
    ``reads`` and ``writes`` count the connections opened, for the run's -vv log.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self.reads = 0
        self.writes = 0

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        if write:
            self.writes += 1
        else:
            self.reads += 1
        try:
            with closing(open_store(self.path, read_only=self.read_only)) as conn:
                conn.execute("PRAGMA foreign_keys = ON")
                if not self.read_only:
                    conn.executescript(SCHEMA)
                    migrate(conn)
                refuse_link(self.path, KEY)  # after connecting too: nothing swapped in between
                with conn:
                    yield conn
        except sqlite3.DatabaseError as exc:
            verb = "read" if self.read_only else "opened"
            raise ConfigError(
                f"the state store {self.path} cannot be {verb}: {exc}",
                hint="check sync.state_path; move a damaged file aside to start afresh",
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"the state store {self.path} cannot be "
                f"{'read' if self.read_only else 'opened'}: {exc.strerror}",
                hint="check sync.state_path and its folder's permissions",
            ) from None

    def recall(self, scim_url: str, pace_since: str = "") -> RunMemory:
        """Everything a run reads, in one connection (state_memory.py); a pace learnt
        before ``pace_since`` (ISO time) is forgotten."""
        with self._connect() as conn:
            memory = read_memory(conn, scim_url, pace_since)
            return replace(memory, last_good_coverage=last_good_coverage(conn))

    def remember(self, run: RunRecord, changes: RunChanges) -> int:
        """Store a run and what it learnt, in one transaction."""
        with self._connect(write=True) as conn:
            run_id = _insert_run(conn, run)
            write_changes(conn, changes, run.finished_at)
        return run_id

    def record(self, run: RunRecord) -> int:
        """Store a run and its failures; old runs beyond KEEP_RUNS are pruned."""
        with self._connect(write=True) as conn:
            return _insert_run(conn, run)

    def last_runs(self, limit: int = 10) -> list[RunRecord]:
        """The newest runs first, with their failures."""
        with self._connect() as conn:
            if not has_table(conn, "runs"):
                return []  # read-only on a store no run has written yet
            cols = _COLUMNS if _has_partial(conn) else _COLUMNS.replace("partial", "0")
            rows = conn.execute(
                f"SELECT {cols} FROM runs ORDER BY id DESC LIMIT ?",  # noqa: S608 - constants
                (limit,),
            ).fetchall()
            runs = [_row_to_run(row) for row in rows]
            # A store written by an older version, read without migrating it (history).
            since = "since" if "since" in columns(conn, "failures") else "NULL"
            vanished = has_table(conn, "run_vanished")
            for run in runs:
                for employee_id, email, reason, first in conn.execute(
                    f"SELECT employee_id, email, reason, {since} FROM failures"  # noqa: S608
                    " WHERE run_id = ?",
                    (run.id,),
                ):
                    failure = Failure(employee_id, email, reason)
                    run.failures.append(failure)
                    run.since[failure] = str(first or run.started_at)[:10]
                if not vanished:
                    continue
                for employee_id, missing_since, deactivated in conn.execute(
                    "SELECT employee_id, missing_since, deactivated FROM run_vanished"
                    " WHERE run_id = ?",
                    (run.id,),
                ):
                    kept = run.vanished_deactivated if deactivated else run.waiting
                    kept[str(employee_id)] = str(missing_since)
        return runs

    def last_good_coverage(self) -> set[str] | None:
        """The mapping sources seen by the newest run that wrote (exit 0 or 1)."""
        with self._connect() as conn:
            coverage = last_good_coverage(conn)
        return None if coverage is None else set(coverage)

    def known_problems(self) -> dict[Failure, str]:
        """The employees the last finished run (exit 0 or 1) set aside, with since when.

        A run compares its own against these: only new ones make exit 1 (spec.md).
        """
        with self._connect() as conn:
            return known_problems(conn, _GOOD)

    def dialect(self, scim_url: str) -> dict[str, str]:
        """The forms a SCIM server took in earlier runs (scim_dialect.py), by attribute."""
        with self._connect() as conn:
            return read_dialect(conn, scim_url)

    def remember_dialect(self, scim_url: str, forms: Mapping[str, str], at: str) -> None:
        """Keep what a SCIM server took, so the next run starts with it."""
        with self._connect(write=True) as conn:
            put_dialect(conn, scim_url, forms, at)

    def pace(self, scim_url: str, since: str = "") -> Learnt | None:
        """The shape of a SCIM server's rate limit, as an earlier run learnt it (pace.py), if
        learnt at `since` (ISO time) or later: a pace kept too long would never find a quota
        the provider raised."""
        with self._connect() as conn:
            return read_pace(conn, scim_url, since)

    def remember_pace(self, scim_url: str, learnt: Learnt, at: str) -> None:
        """Keep the pace a SCIM server's rate limit allowed, so the next run starts at it;
        `at` changes only with the pace (a night that kept it learnt nothing new)."""
        with self._connect(write=True) as conn:
            put_pace(conn, scim_url, learnt, at)

    def missing_since(self) -> dict[str, str]:
        """The running countdowns (vanished.py): HiBob employee ID -> missing since."""
        with self._connect() as conn:
            rows = conn.execute("SELECT employee_id, missing_since FROM vanished").fetchall()
        return {str(employee_id): str(since) for employee_id, since in rows}

    def set_missing(self, missing: Mapping[str, str]) -> None:
        """Replace the countdowns with this run's: the ones not in it ended."""
        with self._connect(write=True) as conn:
            put_missing(conn, missing)

    def managed_users(self) -> dict[str, bool]:
        """SCIM ids hibob-sync created or adopted (ownership.py), each with whether it was
        created ahead for a future hire and has not been active since."""
        with self._connect() as conn:
            if not has_table(conn, "managed_users"):  # read only, from an older version
                return {}
            rows = conn.execute("SELECT scim_id, ahead FROM managed_users").fetchall()
        return {str(scim_id): bool(ahead) for scim_id, ahead in rows}

    def set_managed_users(self, users: Mapping[str, bool]) -> None:
        """Replace the managed SCIM ids with this run's (ownership.owned_after)."""
        with self._connect(write=True) as conn:
            put_managed(conn, users)

    def add_note(self, run_id: int, note: str) -> None:
        """Append to a recorded run's message (e.g. that its alert email was not sent)."""
        with self._connect(write=True) as conn:
            conn.execute(
                "UPDATE runs SET message = CASE WHEN message = '' THEN ? "
                "ELSE message || '; ' || ? END WHERE id = ?",
                (note, note, run_id),
            )

    def consecutive_failures(self, exit_codes: Sequence[int]) -> int:
        """How many of the newest runs in a row ended with one of ``exit_codes``.

        Reads the exit codes alone, so a damaged row elsewhere cannot stop an alert.
        """
        count = 0
        with self._connect() as conn:  # exit codes alone: a damaged row cannot stop an alert
            for (code,) in conn.execute(
                "SELECT exit_code FROM runs WHERE partial = 0 ORDER BY id DESC LIMIT 50"
            ):  # `run --only` (partial): the nightly's streak is not its business
                if code not in exit_codes:
                    break
                count += 1
        return count

    def verify(self) -> None:
        """Raise ConfigError unless SQLite can read the file (check: a damaged store)."""
        with self._connect() as conn:
            conn.execute("PRAGMA schema_version").fetchone()

    def last_good_finish(self) -> str | None:
        """When the newest good nightly run (exit 0 or 1, not `--only`) finished (metrics)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT finished_at FROM runs WHERE exit_code IN (0, 1) AND partial = 0"
                " ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return str(row[0]) if row else None


_COLUMNS = "id, started_at, finished_at, exit_code, outcome, message, counts, coverage, partial"
_GOOD = "exit_code IN (0, 1) AND partial = 0"


def last_good_coverage(conn: sqlite3.Connection) -> frozenset[str] | None:
    """The mapping sources seen by the newest nightly run that wrote (exit 0 or 1); read
    strictly: a damaged value stops the run, whose check it would otherwise weaken."""
    if not has_table(conn, "runs"):
        return None  # read only, and no run has written the store yet
    good = _GOOD if "partial" in columns(conn, "runs") else "exit_code IN (0, 1)"
    row = conn.execute(
        f"SELECT coverage FROM runs WHERE coverage IS NOT NULL AND {good}"  # noqa: S608
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return frozenset(json.loads(row[0])) if row else None


def _insert_run(conn: sqlite3.Connection, run: RunRecord) -> int:
    """A run and its failures; old runs beyond KEEP_RUNS are pruned."""
    cursor = conn.execute(
        "INSERT INTO runs (started_at, finished_at, exit_code, outcome, message, counts,"
        " coverage, partial) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run.started_at,
            run.finished_at,
            run.exit_code,
            run.outcome,
            run.message,
            json.dumps(run.counts, sort_keys=True),
            json.dumps(sorted(run.coverage)) if run.coverage is not None else None,
            int(run.partial),
        ),
    )
    run_id = int(cursor.lastrowid or 0)
    today = run.started_at[:10]
    conn.executemany(
        "INSERT INTO failures (run_id, employee_id, email, reason, since) VALUES (?, ?, ?, ?, ?)",
        [(run_id, f.employee_id, f.email, f.reason, run.since.get(f, today)) for f in run.failures],
    )
    conn.executemany(
        "INSERT INTO run_vanished (run_id, employee_id, missing_since, deactivated)"
        " VALUES (?, ?, ?, ?)",
        [(run_id, i, since, 0) for i, since in run.waiting.items()]
        + [(run_id, i, since, 1) for i, since in run.vanished_deactivated.items()],
    )
    conn.execute("DELETE FROM runs WHERE id <= (SELECT MAX(id) FROM runs) - ?", (KEEP_RUNS,))
    return run_id


def _parsed(text: object, empty: Any) -> Any:
    """A stored JSON column, for reports: a damaged one shows as ``empty``, so `history` and
    the alerts still show every run (the run itself reads coverage strictly)."""
    try:
        return json.loads(str(text)) if text else empty
    except ValueError:
        return empty


def _row_to_run(row: tuple[object, ...]) -> RunRecord:
    run_id, started, finished, code, outcome, message, counts, coverage, partial = row
    parsed_counts = _parsed(counts, {})
    return RunRecord(
        id=int(str(run_id)),
        started_at=str(started),
        finished_at=str(finished),
        exit_code=int(str(code)),
        outcome=str(outcome),
        message=str(message or ""),
        counts=dict(parsed_counts) if isinstance(parsed_counts, dict) else {},
        coverage=_parsed(coverage, None),
        partial=bool(partial),
    )


def history(state_path: Path, limit: int = 10) -> list[RunRecord]:
    """The newest runs first (empty when no run has been recorded yet); changes no file."""
    check_private_folder(state_path.parent, KEY)
    if not state_path.exists() and not state_path.is_symlink():
        return []
    return StateStore(state_path, read_only=True).last_runs(limit)


def last_and_last_good(state_path: Path) -> tuple[RunRecord | None, RunRecord | None]:
    """The newest run and the newest good one (exit 0 or 1), for monitoring.

    Opens the file read-only and never creates it: `status` runs as the monitoring agent's
    user, which must not leave an empty store (owned by it) where the sync will write.
    """
    try:
        state_path.lstat()  # FileNotFoundError: no run yet; PermissionError: said below
    except PermissionError:
        raise ConfigError(
            f"the state store {state_path} cannot be read: permission denied",
            hint="run `status` as the user that runs the sync (it is mode 0600)",
        ) from None
    with StateStore(state_path, read_only=True)._connect() as conn:
        cols = _COLUMNS if _has_partial(conn) else _COLUMNS.replace("partial", "0")
        where = "partial = 0" if "partial" in cols else "1"
        last = conn.execute(
            f"SELECT {cols} FROM runs WHERE {where} ORDER BY id DESC LIMIT 1"  # noqa: S608
        ).fetchone()
        good = conn.execute(
            f"SELECT {cols} FROM runs WHERE exit_code IN (0, 1) AND {where}"  # noqa: S608
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return (_row_to_run(last) if last else None, _row_to_run(good) if good else None)


def remembered(state_path: Path) -> tuple[dict[Failure, str], dict[str, str]]:
    """(the last finished run's problems with since when, the grace-window countdowns),
    read only: `explain` never creates or changes the store. Empty without a store."""
    if not state_path.exists():
        return {}, {}
    with StateStore(state_path, read_only=True)._connect() as conn:
        if not _has_partial(conn):
            return {}, {}  # a store no run of this version has opened: nothing to trust
        rows = conn.execute("SELECT employee_id, missing_since FROM vanished").fetchall()
        return known_problems(conn, _GOOD), {str(i): str(since) for i, since in rows}


def _has_partial(conn: sqlite3.Connection) -> bool:
    """Whether the runs table has the partial column (a store not yet migrated has not)."""
    return "partial" in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
