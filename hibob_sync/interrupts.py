"""SIGTERM stops a run as Ctrl-C does, and no worker thread delays or outlives the stop.

systemd (`systemctl stop`), timeout(1) in a cron line and a plain kill send SIGTERM. The
CLI turns it into the KeyboardInterrupt that Ctrl-C raises, so one path handles both: the
run is recorded as interrupted, metrics written, the lock released, exit 130.

Three things make that stop prompt whatever the run is doing:
- CPython runs signal handlers in the main thread only, and only the thread the kernel
  hands a signal to is woken from a blocking call. Worker threads block SIGINT and SIGTERM
  (``worker_pool``), so the kernel hands them to the main thread (Linux prefers it anyway,
  but not always, and other kernels do not), which is woken wherever it waits: a future,
  a lock, a socket.
- Interrupted, a pool cancels the writes and pages not started, refuses new requests
  through ``on_stop`` (the limiter) and does not wait for the requests in flight
  (``stop_pool``) beyond a second that lets a healthy server's answers be counted
  (``finished``): a SCIM server that never answers cannot hold the stop up.
- The entry point then exits without joining worker threads still blocked in such a
  request (``leave``). They hold no local state: the state store is written by the main
  thread only, so nothing is half-written; what the server already took stays valid, as
  after a kill, and the next run plans from what is there.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from typing import NoReturn, TypeVar

THREAD_PREFIX = "hibob-sync-"
IN_FLIGHT_GRACE = 1.0  # seconds an interrupted pool gives requests in flight to report
_T = TypeVar("_T")
_K = TypeVar("_K")
# SIGALRM is the run's deadline (run_deadline): it too must wake the main thread.
_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGALRM})


class RunDeadline(KeyboardInterrupt):
    """``sync.max_runtime`` passed: the run stops as SIGTERM stops it (pools do not wait for
    requests in flight, the lock is released), then is recorded as 69, not 130."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C is (every handler of one handles both); its own type only
    so that the CLI does not close a ``^C`` on the terminal that nobody typed."""


def _raise_interrupt(signum: int, frame: object) -> NoReturn:
    raise Terminated


def _raise_deadline(signum: int, frame: object) -> NoReturn:
    raise RunDeadline


@contextmanager
def run_deadline(seconds: float) -> Iterator[None]:
    """Raise RunDeadline in the main thread once ``seconds`` of wall time have passed.

    A timer signal (SIGALRM), not a check between steps: a request that hangs in a read
    (or a worker the main thread waits for) cannot hold the run past it.
    """
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield  # signals reach the main thread only; tests may call main() elsewhere
        return
    previous = signal.signal(signal.SIGALRM, _raise_deadline)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal.signal works in the main thread only; tests may call main() elsewhere
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def shielded() -> Iterator[None]:
    """Once stopping, finish stopping: a second Ctrl-C or SIGTERM (systemd and timeout(1)
    signal every process of the group, a person presses Ctrl-C twice) is ignored meanwhile."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _block_stop_signals() -> None:
    """A worker's first act: SIGINT and SIGTERM go to the main thread, never here."""
    if hasattr(signal, "pthread_sigmask"):  # POSIX; elsewhere only the main thread gets them
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def worker_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A thread pool whose threads leave SIGINT and SIGTERM to the main thread."""
    return ThreadPoolExecutor(
        max_workers=workers,
        thread_name_prefix=THREAD_PREFIX + name,
        initializer=_block_stop_signals,
    )


@contextmanager
def stop_pool(
    workers: int, name: str, on_stop: Callable[[], None] | None = None
) -> Iterator[ThreadPoolExecutor]:
    """``worker_pool`` for a block: waits for its work on the way out, except when interrupted.

    Interrupted (KeyboardInterrupt: Ctrl-C or SIGTERM), it cancels the work not started,
    calls ``on_stop`` (refuse new requests) and leaves the requests in flight to finish or
    time out without waiting for them. On any other error, the work not started is
    cancelled and the work started is waited for, as before.
    """
    pool = worker_pool(workers, name)
    try:  # the outer try: an interrupt while waiting for the work stops it too
        try:
            yield pool
        except KeyboardInterrupt:
            raise
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    except KeyboardInterrupt:
        if on_stop is not None:
            on_stop()
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def finished(
    pool: ThreadPoolExecutor,
    futures: Mapping[Future[_T], _K],
    *,
    interrupted: bool,
    on_stop: Callable[[], None] | None = None,
) -> Iterator[tuple[_K, _T]]:
    """What the work a stopped pool leaves behind ended with: (key, result) of each that
    ended with one, so a write the server took is counted even if nobody was waiting for it.

    Stopped by an error, the work started is waited for (as ``stop_pool`` would); stopped by
    an interrupt, requests in flight get ``IN_FLIGHT_GRACE`` seconds, no more, so a server
    that never answers cannot hold the stop up.
    """
    if interrupted:  # nothing new starts; what is in flight may end
        if on_stop is not None:
            on_stop()
        pool.shutdown(wait=False, cancel_futures=True)
        wait(list(futures), timeout=IN_FLIGHT_GRACE)
    else:
        pool.shutdown(wait=True, cancel_futures=True)
    for future, key in futures.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            yield key, future.result()


def stragglers() -> list[threading.Thread]:
    """Worker threads still alive: after an interrupt, requests nobody waits for."""
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX) and t.is_alive()]


def leave(code: int) -> NoReturn:
    """Exit with ``code`` without waiting for workers still blocked in a request.

    Python joins every pool thread at exit, so one request to a server that never answers
    would keep an interrupted process alive until its read timeout (minutes). Called only
    by the process's entry point, once the run is recorded and the lock released.
    """
    if not stragglers():
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe must not turn 130 into a crash
            stream.flush()
    os._exit(code)
