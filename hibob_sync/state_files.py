"""The state store's file: its schema, and how it is opened (never through a link,
created private).

SQLite follows symbolic links and creates files with the umask's mode, so the store is
checked and created here first (host_files.py), then handed to SQLite; read-only opens
(history, status, check) create, chmod and migrate nothing.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote

from hibob_sync.host_files import (
    check_private_folder,
    make_private_folder,
    open_nofollow,
    refuse_link,
    write_new_private,
)

KEY = "sync.state_path"
SIDE_FILES = ("-journal", "-wal", "-shm")  # SQLite's own files next to the store

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    counts TEXT NOT NULL DEFAULT '{}',
    coverage TEXT,
    partial INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS failures (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    employee_id TEXT,
    email TEXT,
    reason TEXT NOT NULL,
    since TEXT
);
CREATE INDEX IF NOT EXISTS failures_run ON failures(run_id);
CREATE TABLE IF NOT EXISTS scim_dialect (
    scim_url TEXT NOT NULL,
    attribute TEXT NOT NULL,
    form TEXT NOT NULL,
    learned_at TEXT NOT NULL,
    PRIMARY KEY (scim_url, attribute)
);
CREATE TABLE IF NOT EXISTS scim_pace (
    scim_url TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    pace REAL NOT NULL,
    quota INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    learned_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vanished (
    employee_id TEXT PRIMARY KEY,
    missing_since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_vanished (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    employee_id TEXT NOT NULL,
    missing_since TEXT NOT NULL,
    deactivated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS run_vanished_run ON run_vanished(run_id);
CREATE TABLE IF NOT EXISTS managed_users (
    scim_id TEXT PRIMARY KEY,
    ahead INTEGER NOT NULL DEFAULT 0
);
"""


def open_store(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """The connection, once the folder and the file are known not to lead elsewhere.

    The store and its journal files are checked for links first; a new store is created
    with O_EXCL and mode 0600, never by SQLite.
    """
    if read_only:
        check_private_folder(path.parent, KEY)
    else:
        make_private_folder(path.parent, KEY)
    for name in ("", *SIDE_FILES):
        refuse_link(path.with_name(path.name + name), KEY)
    if not read_only:
        with suppress(FileExistsError):
            write_new_private(path, b"", KEY)
    fd = open_nofollow(path, os.O_RDONLY, KEY)  # a regular file, not linked
    try:
        if not read_only and os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    if not read_only:
        return sqlite3.connect(path, timeout=30)
    uri = "file:" + quote(str(path.absolute())) + "?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=30)


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the store has ``name`` (read-only opens do not create the schema)."""
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return conn.execute(query, (name,)).fetchone() is not None


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The columns ``table`` has (a store from an older version may lack some)."""
    return {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a store made by an older version up to date (columns are only ever added)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(failures)")}
    if "since" not in columns:
        conn.execute("ALTER TABLE failures ADD COLUMN since TEXT")
    if "partial" not in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}:
        conn.execute("ALTER TABLE runs ADD COLUMN partial INTEGER NOT NULL DEFAULT 0")
