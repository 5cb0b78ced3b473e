"""A lock file so two runs never overlap (the second exits 75 and writes nothing)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hibob_sync.config.settings import Settings
from hibob_sync.errors import ConfigError, LockedError
from hibob_sync.host_files import check_private_folder, open_nofollow


@contextmanager
def state_lock(settings: Settings) -> Iterator[None]:
    """The run lock, next to the state store: an unusable folder names sync.state_path."""
    key = f"{settings.path}: sync.state_path" if settings.path else "sync.state_path"
    with run_lock(lock_path(settings), key=key):
        yield


def lock_path(settings: Settings) -> Path:
    """The lock file: next to the state store, named after it."""
    state = settings.state_path
    return state.with_name(state.name + ".lock")


@contextmanager
def run_lock(path: Path, *, key: str | None = None) -> Iterator[None]:
    """Hold an exclusive, non-blocking flock on ``path`` for the duration of a run.

    flock is released by the kernel when the process dies, even by SIGKILL, so a crashed
    run never leaves a stale lock behind. ``key`` is the config key that put the lock
    there, named when it cannot be created (exit 78: the config must change).
    """
    name = key or "the lock file"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        check_private_folder(path.parent, name)
        # Never through a link, never a file hard-linked elsewhere: root may run this in the
        # service user's folder, and the PID is written into the file (host_files.py).
        fd = open_nofollow(path, os.O_CREAT | os.O_RDWR, name)
    except OSError as exc:
        raise _unusable(path, exc, key) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(
                f"another hibob-sync run holds the lock {path}; this run did nothing",
                hint="if no other run is going, the lock frees itself when its process ends",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def _unusable(path: Path, exc: OSError, key: str | None) -> ConfigError:
    """Why the lock file cannot be made, in words that fit (mkdir says "File exists" when a
    file stands where a folder must be)."""
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    why = f"{blocker} is a file, not a folder" if blocker else exc.strerror
    where = f"{key}: " if key else ""
    return ConfigError(
        f"{where}cannot create the lock file {path}: {why}",
        hint="point sync.state_path at a file in a folder this user can create and write "
        "(the lock file sits next to the state store)",
    )
