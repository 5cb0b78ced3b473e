"""Safe on the host (spec.md, "Safety of the host"): links planted in the state folder are
never followed, a state folder or admin file others can write is refused (78), `history`
and `status` change no file, and `check` finds an unusable state folder before `run` does.

Root matters here: the tool runs as root in a folder its service user can write, so the
link tests run as root (CI does) and skip otherwise.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from hibob_sync.state import RunRecord, StateStore
from tests.cli_helpers import run_cli
from tests.sync_fixtures import SyncEnv

NOBODY = 65534  # the service user, as far as root can tell
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")


def snapshot(path: Path) -> tuple[str, int, int]:
    """What a planted link's target must keep: content, mode and owner."""
    info = path.lstat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mode, info.st_uid


def folder_files(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {
        p.name: (p.lstat().st_mode, p.lstat().st_size, os.readlink(p) if p.is_symlink() else "")
        for p in folder.iterdir()
    }


@as_root
@pytest.mark.parametrize("command", [("run",), ("history",), ("status",), ("check",)])
def test_links_planted_in_the_state_folder_leave_both_targets_unchanged(
    sync_env: SyncEnv, tmp_path: Path, command: tuple[str, ...]
) -> None:
    # The service user (nobody) owns the state folder and plants links there; root runs.
    state_folder = sync_env.state.parent
    state_folder.mkdir(mode=0o700)
    os.chown(state_folder, NOBODY, NOBODY)
    targets = tmp_path / "root-only"
    targets.mkdir(mode=0o700)
    precious = targets / "shadow"
    precious.write_text("root:secret-hash:19000::::::\n", encoding="utf-8")
    precious.chmod(0o644)
    other = targets / "other"
    other.write_text("keep me\n", encoding="utf-8")
    other.chmod(0o640)
    before = {p: snapshot(p) for p in (precious, other)}
    (state_folder / "state.db").symlink_to(precious)
    (state_folder / "state.db.lock").symlink_to(other)

    result = sync_env.cli(*command)

    assert result.exit_code in (3, 78), result.output  # status: UNKNOWN (3), others 78
    assert "symbolic link" in result.output and "Traceback" not in result.output
    assert {p: snapshot(p) for p in (precious, other)} == before
    if command != ("check",):  # check goes on to its other items
        assert sync_env.sandbox.request_count() == 0  # refused before any credential was used
    assert sync_env.scim.writes == []


@as_root
def test_a_dangling_link_creates_nothing_at_its_target(sync_env: SyncEnv, tmp_path: Path) -> None:
    state_folder = sync_env.state.parent
    state_folder.mkdir(mode=0o700)
    target = tmp_path / "made-by-root.db"
    (state_folder / "state.db").symlink_to(target)
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    assert f"{sync_env.state} is a symbolic link" in result.messages
    assert not target.exists()


@as_root
def test_a_hard_link_to_another_file_is_refused(sync_env: SyncEnv, tmp_path: Path) -> None:
    state_folder = sync_env.state.parent
    state_folder.mkdir(mode=0o700)
    precious = tmp_path / "precious"
    precious.write_text("keep me\n", encoding="utf-8")
    os.link(precious, state_folder / "state.db.lock")
    before = snapshot(precious)
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    assert "hard-linked" in result.messages
    assert snapshot(precious) == before


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_a_state_folder_others_can_write_is_refused(sync_env: SyncEnv, mode: int) -> None:
    state_folder = sync_env.state.parent
    state_folder.mkdir()
    state_folder.chmod(mode)
    for command in ("run", "plan", "history"):
        result = sync_env.cli(command)
        assert result.exit_code == 78, (command, result.output)
        assert f"sync.state_path: the state folder {state_folder} is writable" in result.messages
        assert f"chmod 700 {state_folder}" in result.messages
    assert sync_env.scim.writes == []
    assert sorted(p.name for p in state_folder.iterdir()) == []  # nothing created there


def test_check_refuses_an_unusable_state_folder_as_run_would(sync_env: SyncEnv) -> None:
    state_folder = sync_env.state.parent
    state_folder.mkdir()
    state_folder.chmod(0o777)
    result = sync_env.cli("check")
    assert result.exit_code == 78, result.output
    assert f"[FAIL] sync.state_path: the state folder {state_folder} is writable" in result.stdout
    assert "all good" not in result.stdout
    state_folder.chmod(0o700)
    (state_folder / "state.db.lock").symlink_to(state_folder / "elsewhere")
    result = sync_env.cli("check")
    assert result.exit_code == 78, result.output
    assert "state.db.lock is a symbolic link" in result.stdout
    (state_folder / "state.db.lock").unlink()
    result = sync_env.cli("check")
    assert "[ok  ] sync.state_path:" in result.stdout, result.output
    assert sorted(p.name for p in state_folder.iterdir()) == []  # check created nothing


def test_a_file_where_the_state_folder_must_be_fails_check(sync_env: SyncEnv) -> None:
    (sync_env.folder / "blocker").write_text("not a folder\n", encoding="utf-8")
    sync_env.config.write_text(
        sync_env.config.read_text(encoding="utf-8").replace("state/state.db", "blocker/s.db")
    )
    result = sync_env.cli("check")
    assert result.exit_code == 78, result.output
    assert f"[FAIL] sync.state_path: {sync_env.folder / 'blocker'} is a file" in result.stdout


def test_history_and_status_change_no_file(sync_env: SyncEnv) -> None:
    state_folder = sync_env.state.parent
    state_folder.mkdir(mode=0o700)
    StateStore(sync_env.state).record(
        RunRecord("2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00", 0, "in sync")
    )
    sync_env.state.chmod(0o640)  # not what a run leaves: a read must not "fix" it
    before = folder_files(state_folder)
    digest = hashlib.sha256(sync_env.state.read_bytes()).hexdigest()
    for command in (("history",), ("history", "--json"), ("status",)):
        result = sync_env.cli(*command)
        assert result.exit_code == 0, result.output
    assert folder_files(state_folder) == before
    assert hashlib.sha256(sync_env.state.read_bytes()).hexdigest() == digest
    assert stat.S_IMODE(sync_env.state.stat().st_mode) == 0o640


def test_a_new_state_store_is_private(sync_env: SyncEnv) -> None:
    old = os.umask(0)
    try:
        assert sync_env.run().exit_code == 1
    finally:
        os.umask(old)
    assert stat.S_IMODE(sync_env.state.stat().st_mode) == 0o600
    lock = sync_env.state.with_name("state.db.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["config.yaml", "mapping.yaml"])
@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602])
def test_admin_files_others_can_write_are_refused(sync_env: SyncEnv, name: str, mode: int) -> None:
    path = sync_env.folder / name
    path.chmod(mode)
    for command in ("run", "check", "plan"):
        result = sync_env.cli(command)
        assert result.exit_code == 78, (command, result.output)
        assert f"{path} is writable by group or others" in result.messages
        assert f"chmod go-w {path}" in result.messages
    assert sync_env.sandbox.request_count() == 0


@as_root
@pytest.mark.parametrize("name", ["config.yaml", "mapping.yaml"])
def test_admin_files_of_another_user_are_refused(sync_env: SyncEnv, name: str) -> None:
    path = sync_env.folder / name
    os.chown(path, NOBODY, NOBODY)
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    assert f"{path} belongs to " in result.messages and "refused" in result.messages
    os.chown(path, 0, NOBODY)  # root's, readable by the service user's group: fine
    path.chmod(0o640)
    assert sync_env.run().exit_code == 1


def test_a_config_in_the_current_folder_is_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"  # the tests run in tmp_path: the ./config.yaml search
    config.write_text("sync:\n  state_path: state/state.db\n", encoding="utf-8")
    config.chmod(0o666)
    result = run_cli("history")
    assert result.exit_code == 78, result.output
    assert "config.yaml is writable by group or others" in result.messages
