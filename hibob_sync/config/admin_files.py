"""Safe edits of the admin's files (config.yaml, mapping.yaml), wherever they live.

On a server these files sit in a root-owned folder such as /etc/hibob-sync, readable by the
service user through their group (root:hibob-sync 0640). An edit must never change that: a
mapping rewritten as root:root 0600 stops the next nightly run (it can no longer read it). So
every writer of these files goes through here:

- the new text goes to a temp file in the file's own folder (a rename is atomic only within
  one file system), is synced, and renamed over the file, so no reader ever sees half a file;
- the temp file gets the old file's mode, group and (as root) owner before the rename; a new
  file takes them from its sibling config.yaml where there is one;
- ``check_writable`` says, before any question is asked, when the edit cannot be saved: a
  folder the user cannot write, or a file whose owner or group this user cannot keep.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hibob_sync.errors import ConfigError

NEW_FILE_MODE = 0o640  # what `init` writes: the owner edits, the group (service user) reads


@dataclass(frozen=True)
class Ownership:
    """Owner, group and permission bits a rewritten file must keep."""

    uid: int
    gid: int
    mode: int


def target(path: Path) -> Path:
    """The file an edit really changes: a symlinked mapping.yaml keeps its link."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def ownership(path: Path, like: Path | None = None) -> Ownership | None:
    """What ``path`` must keep: its own owner, group and mode, else ``like``'s, else None."""
    for candidate in (path, like):
        if candidate is None:
            continue
        try:
            info = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            return Ownership(info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode))
    return None


def _existing_folder(folder: Path) -> Path:
    """The folder, or its nearest existing parent (where a missing folder would be made)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_writable(path: Path, what: str, like: Path | None = None) -> None:
    """Raise ConfigError (78) if saving ``path`` would fail or change who may read it.

    Called before an editor asks anything, so no answer is typed in vain.
    """
    path = target(path)
    folder = _existing_folder(path.parent)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot save {what} {path}: no permission to write in {folder} (running as {_user()})",
            hint=f"run as the folder's owner (e.g. with sudo), or edit {path} by hand "
            "and run `hibob-sync map validate`",
        )
    keep = ownership(path)  # a new file's look-alike is followed where we can, never refused
    if keep is None or os.geteuid() == 0:
        return
    if keep.uid != os.geteuid():
        raise ConfigError(
            f"cannot save {what} {path}: it belongs to {_user(keep.uid)}, and a rewrite as "
            f"{_user()} would change its owner",
            hint=f"run as {_owner(keep.uid)} (e.g. with sudo), or edit {path} by hand",
        )
    if keep.gid not in (os.getegid(), *os.getgroups()):
        raise ConfigError(
            f"cannot save {what} {path}: its group {_group(keep.gid)} is not one of "
            f"{_user()}'s, so a rewrite would change who may read it",
            hint=f"run as root (e.g. with sudo), or edit {path} by hand",
        )


def write_admin_file(
    path: Path,
    text: str,
    what: str,
    like: Path | None = None,
    check: Callable[[Path], None] | None = None,
) -> None:
    """Replace ``path`` with ``text`` atomically, keeping its owner, group and mode.

    A new file takes them from ``like`` (its config.yaml) if that exists, else the user's
    with NEW_FILE_MODE. ``check`` reads the written temp file first and raises to keep the
    old one (a config that would not load is never swapped in). Any failure is a ConfigError
    naming the file; nothing half-written stays behind.
    """
    check_writable(path, what, like)
    path = target(path)
    keep, new = ownership(path, like), not path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot save {what} {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            _give(handle.fileno(), keep, new=new)
        if check is not None:
            check(Path(temp))
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise ConfigError(f"cannot save {what} {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def create_admin_file(path: Path, text: str, what: str, mode: int = NEW_FILE_MODE) -> None:
    """Write a new file, never over an existing one (O_EXCL), for `init`."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; nothing was written to it") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _give(fd: int, keep: Ownership | None, *, new: bool) -> None:
    """The temp file takes the old file's group and mode, and as root its owner too."""
    if keep is None:
        os.fchmod(fd, NEW_FILE_MODE)
        return
    if os.geteuid() == 0:
        os.fchown(fd, keep.uid, keep.gid)
    elif keep.gid != os.fstat(fd).st_gid:
        # An existing file's group is one of ours (check_writable made sure); a new file
        # follows its config.yaml's group only where it can.
        try:
            os.fchown(fd, -1, keep.gid)
        except PermissionError:
            if not new:
                raise
    os.fchmod(fd, keep.mode)  # after chown, which may clear set-id bits


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; a folder that cannot be opened is no error."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _user(uid: int | None = None) -> str:
    uid = os.geteuid() if uid is None else uid
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def _owner(uid: int) -> str:
    return "root" if uid == 0 else f"{_user(uid)} or root"


def _group(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return f"gid {gid}"
