"""`check` on sync.state_path: the state folder and its files tried as a run opens them.

So `check` cannot say "all good" and `run` then exit 78 on the lock file: the same tests
(host_files.py) run here, without creating or changing anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from hibob_sync.errors import ConfigError
from hibob_sync.host_files import check_private_folder, open_nofollow, refuse_link
from hibob_sync.state import StateStore
from hibob_sync.state_files import KEY, SIDE_FILES


def probe(state_path: Path, lock_path: Path) -> str:
    """What `check` says of sync.state_path: the folder and files a run will use, tried the
    way a run opens them, without creating or changing any (ConfigError otherwise)."""
    folder = state_path.parent
    if folder.exists() or folder.is_symlink():
        check_private_folder(folder, KEY)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(
                f"{KEY}: the state folder {folder} is not writable by this user",
                hint="chown the folder to the user that runs hibob-sync, or run as its owner",
            )
    else:
        parent = next((p for p in folder.parents if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            why = "is a file" if parent is not None and not parent.is_dir() else "is not writable"
            raise ConfigError(
                f"{KEY}: the state folder {folder} cannot be created: {parent} {why}",
                hint="point sync.state_path at a file in a folder this user can create and write",
            )
        return f"{folder} will be created (mode 0700) by the first run"
    for path in (
        state_path,
        lock_path,
        *(state_path.with_name(state_path.name + x) for x in SIDE_FILES),
    ):
        refuse_link(path, KEY)
        if path.exists():
            os.close(open_nofollow(path, os.O_RDONLY, KEY))
            if not os.access(path, os.R_OK | os.W_OK):
                raise ConfigError(
                    f"{KEY}: {path} is not writable by this user",
                    hint="run hibob-sync as the user that owns the state folder",
                )
    if state_path.exists():
        StateStore(state_path, read_only=True).verify()
    return f"{folder} is private to this user; nothing in it is a link"
