"""How lines on stderr look: as today on a terminal, timestamped for a log file.

Part of the CLI layer (it writes with click); the core only logs.

Cron appends every night to the same log; a line that says when it was written and how
bad it is can still be read a month later, and grepped by level. A terminal gets the
short form, since the person reading it knows when they ran the command.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime

import click

from hibob_sync.safe_text import line_safe


def timestamp(when: datetime | None = None) -> str:
    """ISO 8601 local time with its UTC offset, to the second."""
    moment = when or datetime.now().astimezone()
    return moment.astimezone().isoformat(timespec="seconds")


def stamp(text: str, level: str, when: datetime | None = None) -> str:
    """Every line of ``text`` prefixed with the time and level, so none stands alone."""
    prefix = f"{timestamp(when)} {level} "
    return "\n".join(prefix + line for line in (line_safe(text).split("\n") or [""]))


class StampedFormatter(logging.Formatter):
    """Log records as ``2026-11-29T02:15:03+01:00 WARNING message``, one stamp per line."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return stamp(text, record.levelname, datetime.fromtimestamp(record.created).astimezone())


class _SafeFormatter(logging.Formatter):
    """``LEVEL message`` with any quoted data made safe for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return line_safe(super().format(record))


def formatter(stamped: bool) -> logging.Formatter:
    """The formatter for stderr: stamped for a log file, ``LEVEL message`` on a terminal."""
    if stamped:
        return StampedFormatter("%(message)s")
    return _SafeFormatter("%(levelname)s %(message)s")


_PREFIX = {"ERROR": "Error: ", "WARNING": "warning: ", "INFO": ""}


def echo_err(message: str, level: str = "ERROR", *, stamped: bool) -> None:
    """One message on stderr: `Error: ...` on a terminal, `<time> ERROR ...` in a log."""
    text = stamp(message, level) if stamped else line_safe(_PREFIX.get(level, "") + message)
    click.echo(text, err=True)


def setup_logging(verbosity: int, *, stamped: bool) -> None:
    """The tool's log on stderr at the level -q/-v ask for, stamped for a log file."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(stamped=stamped))
    root = logging.getLogger("hibob_sync")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    if verbosity < 2:
        # urllib3 logs full URLs at debug level only; keep it quiet unless asked.
        logging.getLogger("urllib3").setLevel(logging.WARNING)
