"""How lines on stderr look: as today on a terminal, timestamped for a log file.

Part of the CLI layer (it writes with click); the core only logs.

Cron appends every night to the same log; a line that says when it was written and how
bad it is can still be read a month later, and grepped by level. A terminal gets the
short form, since the person reading it knows when they ran the command.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TextIO

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


_STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d [A-Z]+ ")


class StampingStream(io.TextIOBase):
    """stderr for a log file: a line that arrives without a timestamp gets one.

    What hibob-sync writes itself is stamped already (and passes through as it is); this
    catches what others write there: click's usage text, a keyring backend's password
    prompt, Python's warnings. Blank lines (click closes a ``^C`` with one) are dropped.
    A partial line (a prompt) is written, stamped, when the writer flushes it.
    """

    def __init__(self, inner: TextIO, level: str = "WARNING") -> None:
        super().__init__()
        self._inner = inner
        self._level = level
        self._pending = ""
        self._mid_line = False  # a flushed partial line is out: its rest gets no stamp

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._inner, "errors", None)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._inner.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._pending += text
        while "\n" in self._pending:
            line, _, self._pending = self._pending.partition("\n")
            self._emit(line, end="\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ""
            self._emit(line, end="")
            self._mid_line = True
        self._inner.flush()

    def _emit(self, line: str, *, end: str) -> None:
        if self._mid_line:
            self._inner.write(line_safe(line) + end)
        elif line.strip() and _STAMPED.match(line):
            self._inner.write(line + end)
        elif line.strip():
            self._inner.write(stamp(line, self._level) + end)
        self._mid_line = self._mid_line and not end


@contextmanager
def stamped_stderr(stamped: bool) -> Iterator[None]:
    """While the command runs off a terminal, every line on stderr starts with a timestamp."""
    if not stamped:
        yield
        return
    previous = sys.stderr
    stream = StampingStream(previous)
    sys.stderr = stream  # type: ignore[assignment]
    try:
        yield
    finally:
        try:
            stream.flush()
        finally:
            sys.stderr = previous


def show_click_error(error: click.ClickException, *, stamped: bool) -> None:
    """click's message (``Usage: ...``, ``Error: ...``), each line stamped ERROR in a log."""
    if not stamped:
        error.show()
        return
    text = io.StringIO()
    error.show(file=text)
    lines = [line.removeprefix("Error: ") for line in text.getvalue().splitlines()]
    click.echo(stamp("\n".join(line for line in lines if line.strip()), "ERROR"), err=True)
