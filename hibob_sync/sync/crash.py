"""How a run ends when nothing foresaw it: past sync.max_runtime (69), or on an exception
nothing expected, named in one line with its traceback kept in a private file (70).

A defect must not look like "some employees failed" (exit 1) or leave no trace: the run
ends with exit 70, the message names the exception's type and where it was raised (never
its text, which may carry data), and the full traceback goes to a new file of mode 0600 in
the state folder, opened without following links (host_files.py). The caller records the
run, writes the metrics and alerts as for 69.
"""

from __future__ import annotations

import os
import platform
import re
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import hibob_sync
from hibob_sync.config.durations import format_duration
from hibob_sync.credentials import HIBOB_TOKEN, SCIM_TOKEN, SMTP_PASSWORD
from hibob_sync.errors import ConfigError, HibobSyncError, InternalError, RunTooLongError
from hibob_sync.host_files import make_private_folder, write_new_private
from hibob_sync.interrupts import RunDeadline, run_deadline

_T = TypeVar("_T")

PACKAGE = Path(hibob_sync.__file__).resolve().parent
# Credentials in a header or a URL, should an exception's text ever quote one.
_AUTH = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+|//[^/\s:@]+:[^/\s@]+@")


def where(exc: BaseException) -> str:
    """The innermost frame of hibob-sync's own code: ``hibob_sync/state.py:123 (func)``."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if Path(f.filename).resolve().is_relative_to(PACKAGE)]
    if not (ours or frames):
        return "an unknown place"
    frame = (ours or frames)[-1]
    path = Path(frame.filename).resolve()
    shown = path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE) else path.name
    return f"{shown}:{frame.lineno} ({frame.name})"


def _redacted(text: str) -> str:
    """The traceback without any credential the process can see in its environment."""
    for secret in (HIBOB_TOKEN, SCIM_TOKEN, SMTP_PASSWORD):
        value = os.environ.get(secret.env, "")
        if len(value) >= 4:
            text = text.replace(value, f"<{secret.env}>")
    return _AUTH.sub("<credentials hidden>", text)


def _report(exc: BaseException, at: str) -> bytes:
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    head = (
        f"hibob-sync {hibob_sync.__version__} on Python {platform.python_version()} "
        f"({platform.system()})\n"
        f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}: "
        f"{type(exc).__name__} in {at}\n\n"
    )
    return (head + _redacted(stack)).encode("utf-8", "replace")


def save_traceback(exc: BaseException, folder: Path | None) -> Path:
    """Write the report to a new private file in ``folder`` (the temp folder if that fails
    or there is none)."""
    name = f"crash-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.txt"
    data = _report(exc, where(exc))
    try:
        if folder is None:
            raise ConfigError("no state folder")
        make_private_folder(folder, "sync.state_path")
        path = folder / name
        write_new_private(path, data, "sync.state_path")
        return path
    except (ConfigError, OSError):
        fd, temp = tempfile.mkstemp(prefix="hibob-sync-crash-", suffix=".txt")  # 0600, O_EXCL
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return Path(temp)


def crashed(exc: BaseException, folder: Path | None) -> InternalError:
    """The one-line error for an unexpected exception, its traceback saved first."""
    at = where(exc)
    try:
        saved = f"the traceback is in {save_traceback(exc, folder)}"
    except OSError as problem:
        saved = f"the traceback could not be saved ({problem.strerror or type(problem).__name__})"
    return InternalError(
        f"internal error (a defect in hibob-sync): {type(exc).__name__} in {at}; {saved}",
        hint="please report it with that file (credentials are left out); "
        "a run is recorded as failed and can simply be run again",
    )


def guarded(step: Callable[[], _T], max_runtime: timedelta, folder: Path) -> _T:
    """``step`` (a run) within ``max_runtime``, else RunTooLongError (69); an exception
    nothing expected becomes InternalError (70), its traceback saved in ``folder``."""
    try:
        with run_deadline(max_runtime.total_seconds()):
            return step()
    except RunDeadline:
        raise RunTooLongError(
            f"the run passed sync.max_runtime ({format_duration(max_runtime)}) and was "
            "stopped; what it wrote stays, the next run goes on from there",
            hint="a server that answers slowly or not at all holds a run up; check both "
            "with `hibob-sync check`, or raise sync.max_runtime",
        ) from None
    except (HibobSyncError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise crashed(exc, folder) from exc
