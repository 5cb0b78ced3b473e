"""Files on the host, opened as a tool run by root or a service user should open them.

The state folder (state store, lock, tracebacks) may be writable by the service user while
root runs the tool (`sudo hibob-sync run`): a link planted there must never redirect a
write, so every file in it is opened with O_NOFOLLOW (O_EXCL when new), and a folder others
can write, or that belongs to someone else, is refused. config.yaml and mapping.yaml hold
what decides where the tokens go, so they are checked as OpenSSH checks its config.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
from pathlib import Path

from hibob_sync.errors import ConfigError

# O_NOFOLLOW refuses a link as the last part; O_CLOEXEC keeps the fd out of children.
NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _acceptable_owner(uid: int) -> bool:
    """The running user, or root (whose files only root can change anyway)."""
    return uid in (os.geteuid(), 0)


def check_private_folder(folder: Path, key: str) -> None:
    """Refuse (78) a state folder others can write, or that belongs to another user.

    Root may use the service user's folder (`sudo hibob-sync history`): O_NOFOLLOW is what
    keeps that safe. ``key`` names the setting that chose the folder.
    """
    try:
        info = folder.stat()
    except FileNotFoundError:
        return  # created private by the first run
    except OSError as exc:
        raise ConfigError(
            f"{key}: the state folder {folder} cannot be used: {exc.strerror}",
            hint="point sync.state_path at a file in a folder this user owns",
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            f"{key}: {folder} is a file, not a folder",
            hint="point sync.state_path at a file in a folder this user can create and write",
        )
    if info.st_mode & 0o022:
        raise ConfigError(
            f"{key}: the state folder {folder} is writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); refused, since anyone who can write "
            "there can plant links the tool would follow",
            hint=f"chmod 700 {folder}",
        )
    if os.geteuid() != 0 and not _acceptable_owner(info.st_uid):
        raise ConfigError(
            f"{key}: the state folder {folder} belongs to {_user(info.st_uid)}, not to "
            f"{_user(os.geteuid())} who runs hibob-sync; refused",
            hint=f"chown {_user(os.geteuid())} {folder}, or run as {_user(info.st_uid)}",
        )


def make_private_folder(folder: Path, key: str) -> None:
    """Create the state folder (mode 0700) if it is missing, then check it."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        pass  # a file where the folder must be: check_private_folder says so
    except OSError as exc:
        blocker = next((p for p in folder.parents if p.exists() and not p.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker else exc.strerror
        raise ConfigError(
            f"{key}: cannot create the state folder {folder}: {why}",
            hint="point sync.state_path at a file in a folder this user can create and write",
        ) from None
    check_private_folder(folder, key)


def open_nofollow(path: Path, flags: int, key: str, mode: int = 0o600) -> int:
    """os.open that refuses a symbolic link, a non-regular file and a hard-linked one.

    A hard link to another file (root's, say) would let a write land there as a link
    would; a FIFO would hang the open. Raises ConfigError (78) naming ``key``.
    """
    try:
        fd = os.open(path, flags | NOFOLLOW | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"{key}: {path} is a symbolic link; refused (files in the state folder are "
                "never followed through links)",
                hint=f"remove the link: rm {path}",
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            what = "a hard-linked file" if stat.S_ISREG(info.st_mode) else "not a regular file"
            raise ConfigError(
                f"{key}: {path} is {what}; refused", hint=f"move it aside: mv {path} {path}.bad"
            )
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def refuse_link(path: Path, key: str) -> None:
    """Refuse a symbolic link where the state store or its journal will be (SQLite would
    follow it); the store is checked this way before and after it is opened."""
    if path.is_symlink():
        raise ConfigError(
            f"{key}: {path} is a symbolic link; refused (files in the state folder are never "
            "followed through links)",
            hint=f"remove the link: rm {path}",
        )


def write_new_private(path: Path, data: bytes, key: str) -> None:
    """Write a new file of mode 0600 that nobody can have prepared (O_EXCL, O_NOFOLLOW)."""
    fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, key)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def check_admin_file(path: Path, what: str) -> None:
    """Refuse (78) a config or mapping file others can write, or that belongs to a user
    other than the one running or root, as OpenSSH treats ~/.ssh/config."""
    try:
        info = path.stat()
    except OSError:
        return  # missing or unreadable: the reader says so
    if info.st_mode & 0o022:
        raise ConfigError(
            f"{what} {path} is writable by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); refused, since whoever can write it "
            "decides where the tokens are sent",
            hint=f"chmod go-w {path}",
        )
    if not _acceptable_owner(info.st_uid):
        raise ConfigError(
            f"{what} {path} belongs to {_user(info.st_uid)}, not to {_user(os.geteuid())} "
            "who runs hibob-sync, nor to root; refused",
            hint=f"chown {_user(os.geteuid())} {path} (or root)",
        )
