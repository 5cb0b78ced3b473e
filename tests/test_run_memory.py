"""The run's memory: a run reads the state store once and writes it once (the -vv log counts
the connections the run's StateStore opened), and `plan` only ever reads it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.sync_fixtures import SyncEnv

OLD_SCHEMA = """
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL, exit_code INTEGER NOT NULL, outcome TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '', counts TEXT NOT NULL DEFAULT '{}', coverage TEXT);
CREATE TABLE failures (run_id INTEGER NOT NULL, employee_id TEXT, email TEXT,
    reason TEXT NOT NULL);
INSERT INTO runs (started_at, finished_at, exit_code, outcome, coverage)
    VALUES ('2026-11-01T02:00:00+00:00', '2026-11-01T02:01:00+00:00', 0, 'ok', '[]');
"""


def test_a_run_reads_the_store_once_and_writes_it_once(sync_env: SyncEnv) -> None:
    first = sync_env.cli("-vv", "run")
    assert first.exit_code == 1, first.stderr  # the sandbox's planted bad records
    assert "state store: 1 read, 1 write" in first.messages
    second = sync_env.cli("-vv", "run")  # a store with history, countdowns and managed ids
    assert second.exit_code == 0, second.stderr
    assert "state store: 1 read, 1 write" in second.messages
    with sqlite3.connect(sync_env.state) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (2,)
        assert conn.execute("SELECT COUNT(*) FROM managed_users").fetchone()[0] > 0
    conn.close()


def test_plan_without_a_store_opens_none(sync_env: SyncEnv) -> None:
    result = sync_env.cli("-vv", "plan")
    assert result.exit_code in (0, 65), result.stderr
    assert "state store: 0 read, 0 write" in result.messages
    assert not sync_env.state.exists()


def test_plan_reads_an_older_store_without_migrating_or_chmodding_it(sync_env: SyncEnv) -> None:
    sync_env.state.parent.mkdir(mode=0o700)
    with sqlite3.connect(sync_env.state) as conn:
        conn.executescript(OLD_SCHEMA)
    conn.close()
    sync_env.state.chmod(0o640)
    before = _snapshot(sync_env.state)
    result = sync_env.cli("-vv", "plan")
    assert result.exit_code in (0, 65), result.stderr
    assert "state store: 1 read, 0 write" in result.messages
    assert _snapshot(sync_env.state) == before  # no schema, no migration, same mode
    run = sync_env.cli("-vv", "run")  # the run itself migrates the store, as before
    assert "state store: 1 read, 1 write" in run.messages
    with sqlite3.connect(sync_env.state) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs WHERE partial = 0").fetchone() == (2,)
    conn.close()
    assert sync_env.state.stat().st_mode & 0o777 == 0o600


def _snapshot(path: Path) -> tuple[bytes, int, list[str]]:
    return (
        path.read_bytes(),
        path.stat().st_mode & 0o777,
        sorted(p.name for p in path.parent.iterdir()),
    )


def test_a_failed_night_reads_once_and_writes_once(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sync_env.run().exit_code == 1
    monkeypatch.setenv("HITHRIVE_SCIM_TOKEN", "not-the-token")  # refused after the read
    result = sync_env.cli("-vv", "run")
    assert result.exit_code == 77, result.stderr
    assert "state store: 1 read, 1 write" in result.messages
    with sqlite3.connect(sync_env.state) as conn:
        assert conn.execute("SELECT exit_code FROM runs ORDER BY id").fetchall() == [(1,), (77,)]
    conn.close()
