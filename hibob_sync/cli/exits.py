"""How a command that failed ends: one ``Error:`` line and its exit code.

A HibobSyncError says what to fix; any other exception is a defect, named the same way
(exit 70, its traceback saved by sync/crash.py). The stack is shown only on request.
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

from hibob_sync.cli.environment import App
from hibob_sync.cli.log_lines import echo_err
from hibob_sync.errors import HibobSyncError
from hibob_sync.interrupts import leave

log = logging.getLogger("hibob_sync")


def fail(app: App, exc: HibobSyncError, owns_process: bool) -> NoReturn:
    """The error line and its code (the stack too with --traceback or -vv)."""
    if app.show_trace:
        log.exception("traceback")
    echo_err(str(exc), stamped=app.log_file)
    if owns_process:  # past sync.max_runtime, a request may still hang in a worker
        leave(exc.exit_code)
    sys.exit(exc.exit_code)


def crash(app: App, exc: Exception, owns_process: bool) -> NoReturn:
    """A defect in any command: named in one line, its traceback saved (exit 70)."""
    from hibob_sync.sync.crash import crashed

    fail(app, crashed(exc, app.state_folder()), owns_process)
