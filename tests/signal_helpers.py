"""Child processes that a test interrupts with SIGINT, as Ctrl-C would."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def interruptible_children() -> Iterator[None]:
    """Children started in the block have SIGINT at its default, even when this suite runs
    in the background.

    A shell starts a background job with SIGINT ignored, and an ignored signal stays ignored
    in every child: Python then installs no Ctrl-C handler and the child ignores the test's
    SIGINT (rightly, started that way), so the test waits for nothing until its timeout.
    Caught instead of ignored here, SIGINT is reset to its default by the child's exec.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous == signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)
