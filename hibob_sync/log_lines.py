"""How lines on stderr look: as today on a terminal, timestamped for a log file.

Cron appends every night to the same log; a line that says when it was written and how
bad it is can still be read a month later, and grepped by level. A terminal gets the
short form, since the person reading it knows when they ran the command.
"""

from __future__ import annotations

import logging
from datetime import datetime

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
