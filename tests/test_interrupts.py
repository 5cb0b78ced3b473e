"""Ctrl-C and SIGTERM (systemctl stop, timeout(1) in cron) stop a run the same way, at once.

Each test holds a real run (its own process) at one phase: reading HiBob, listing SCIM users
in parallel, writing with requests in flight that the server never answers until the test
lets them go. The signal must end the run with 130, no traceback, the run recorded as
interrupted, metrics written, the lock free; a re-run converges. The 60 s on the process's
exit is a hang guard only (no timing is asserted): a run that waited for its requests in
flight would sit there until the test let them go.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hibob_sync.interrupts import stop_pool, worker_pool
from hibob_sync.sandbox import SEARCH_PATH
from tests.cli_helpers import run_cli
from tests.reliability_helpers import assert_in_sync
from tests.signal_helpers import interruptible_children
from tests.sync_fixtures import SyncEnv
from tests.test_faults import start_cli_process, wait_for
from tests.test_log_output import assert_stamped

SIGNALS = [pytest.param(signal.SIGINT, id="ctrl-c"), pytest.param(signal.SIGTERM, id="sigterm")]
HANG_GUARD = 60  # seconds; never reached by a run that stops as it should
METRICS = "notify:\n  metrics_file: metrics/hibob_sync.prom\n"
EXIT = "hibob_sync_last_exit_code "


class Gate:
    """Holds matching requests at the SCIM proxy until released: a server that never answers."""

    def __init__(self) -> None:
        self.arrived = threading.Semaphore(0)
        self.released = threading.Event()

    def hold(self, _: Any) -> None:
        self.arrived.release()
        self.released.wait(HANG_GUARD * 2)


def start(env: SyncEnv, *command: str) -> subprocess.Popen[bytes]:
    with interruptible_children():
        return start_cli_process(env, *command)


def interrupt(proc: subprocess.Popen[bytes], signum: int) -> str:
    """Send the signal; the run's stderr once it has exited (killed after the hang guard)."""
    proc.send_signal(signum)
    try:
        _, stderr = proc.communicate(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return stderr.decode()


def assert_interrupted(env: SyncEnv, proc: subprocess.Popen[bytes], stderr: str) -> None:
    assert proc.returncode == 130, stderr
    assert "Interrupted." in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert_stamped(stderr)  # in a log, every line timestamped: no blank line before it
    history = run_cli("--config", str(env.config), "history", "--json")
    last = json.loads(history.stdout)[0]
    assert (last["exit_code"], last["outcome"]) == (130, "interrupted")
    assert "interrupted" in last["message"]


@pytest.mark.parametrize("signum", SIGNALS)
def test_interrupt_while_reading_hibob(sync_env: SyncEnv, signum: int) -> None:
    sync_env.sandbox.delay_next(HANG_GUARD * 2, path=SEARCH_PATH)  # stop() cuts it short
    proc = start(sync_env)
    wait_for(lambda: sync_env.sandbox.request_count("search") >= 1, HANG_GUARD, proc)
    stderr = interrupt(proc, signum)
    assert_interrupted(sync_env, proc, stderr)
    status = run_cli("--config", str(sync_env.config), "status")
    assert status.exit_code == 2, status.output  # CRITICAL: no good run at all
    assert "exit 130 (interrupted)" in status.stdout
    assert sync_env.scim.requests == []


def test_sigterm_while_listing_pages_in_parallel(sync_env: SyncEnv) -> None:
    # 60 users in pages of 20: pages 1 and 2 in turn, then the rest at once (scim_paging).
    sync_env.scim.seed(
        [{"userName": f"by-hand-{n}@example.com", "active": True} for n in range(60)]
    )
    gate = Gate()
    sync_env.scim.before(gate.hold, method="GET", path="/Users", query="startIndex=41")
    proc = start(sync_env)
    try:
        wait_for(lambda: gate.arrived.acquire(blocking=False), HANG_GUARD, proc)
        stderr = interrupt(proc, signal.SIGTERM)
    finally:
        gate.released.set()
    assert_interrupted(sync_env, proc, stderr)
    assert [m for m, _ in sync_env.scim.requests if m != "GET"] == []


@pytest.mark.parametrize(
    ("command", "signum"),
    [
        pytest.param("run", signal.SIGTERM, id="run-sigterm"),
        pytest.param("run", signal.SIGINT, id="run-ctrl-c"),
        pytest.param("apply", signal.SIGTERM, id="apply-sigterm"),
    ],
)
def test_interrupt_with_writes_in_flight(sync_env: SyncEnv, command: str, signum: int) -> None:
    sync_env.write_config(METRICS)
    (sync_env.folder / "metrics").mkdir()  # node_exporter's textfile folder
    args: tuple[str, ...] = ("run",)
    if command == "apply":
        plan = sync_env.folder / "plan.json"
        # Made on the real clock (as the run that applies it): the fake one would expire it.
        made = run_cli("--config", str(sync_env.config), "plan", "-o", str(plan))
        assert made.exit_code == 0, made.output
        args = ("apply", str(plan))
    # Both writers (concurrency 2) send a create that the server holds unanswered.
    gate = Gate()
    sync_env.scim.before(gate.hold, method="POST", path="/Users", query="", times=2)
    proc = start(sync_env, *args)
    try:
        wait_for(lambda: gate.arrived.acquire(blocking=False), HANG_GUARD, proc)
        stderr = interrupt(proc, signum)
    finally:
        gate.released.set()  # the held creates now reach the server: sent writes stay valid
    assert_interrupted(sync_env, proc, stderr)
    metrics = (sync_env.folder / "metrics" / "hibob_sync.prom").read_text(encoding="utf-8")
    [exit_code] = [line.split()[1] for line in metrics.splitlines() if line.startswith(EXIT)]
    assert float(exit_code) == 130
    # Nothing went out after the signal: only the held creates (one per writer) were sent.
    writes = [(m, p) for m, p in sync_env.scim.requests if m != "GET"]
    assert 1 <= len(writes) <= 2 and {w for w in writes} == {("POST", "/Users")}, writes

    again = sync_env.run()  # the lock is free, and what was written counts as done
    assert again.exit_code == 1, again.output  # the sandbox's seeded bad records, as always
    assert_in_sync(sync_env)


def test_workers_leave_sigint_and_sigterm_to_the_main_thread() -> None:
    with worker_pool(2, "test") as pool:
        blocked = pool.submit(signal.pthread_sigmask, signal.SIG_BLOCK, []).result(HANG_GUARD)
    assert {signal.SIGINT, signal.SIGTERM} <= blocked
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # this thread


def test_an_interrupted_pool_cancels_the_rest_and_does_not_wait() -> None:
    started, release = threading.Event(), threading.Event()
    stopped: list[bool] = []

    def in_flight() -> bool:
        started.set()
        return release.wait(HANG_GUARD)

    on_stop = lambda: stopped.append(True)  # noqa: E731
    with pytest.raises(KeyboardInterrupt), stop_pool(1, "test", on_stop=on_stop) as pool:
        running = pool.submit(in_flight)
        queued = pool.submit(in_flight)
        assert started.wait(HANG_GUARD)
        raise KeyboardInterrupt
    try:
        assert stopped == [True]
        assert queued.cancelled()
        assert not running.done()  # still in flight: the pool did not wait for it
    finally:
        release.set()
    assert running.result(HANG_GUARD) is True


def test_ctrl_c_at_a_map_question_is_130(tmp_path: Path) -> None:
    """Ctrl-C while `map` waits for an answer: 130 and "Interrupted.", not "Aborted!" and 1."""
    (tmp_path / "config.yaml").write_text("mapping_file: mapping.yaml\n", encoding="utf-8")
    leader, follower = pty.openpty()  # `map` asks only at a terminal
    try:
        with interruptible_children():
            proc = subprocess.Popen(
                [sys.executable, "-m", "hibob_sync", "--config", "config.yaml", "map"],
                stdin=follower,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=tmp_path,
            )
        assert proc.stdout is not None
        seen = b""
        while b"email - " not in seen:  # the first question is on the screen
            chunk = proc.stdout.read1(4096)
            assert chunk, proc.communicate(timeout=HANG_GUARD)
            seen += chunk
        wait_until_asleep(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            _, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            # The signal came between the prompt and the read (Python cannot act on it
            # inside C's read()): a key pressed lets it through, as at a real terminal.
            os.write(leader, b"\n")
            _, stderr = proc.communicate(timeout=HANG_GUARD)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 130, stderr
    assert b"Interrupted." in stderr and b"Abort" not in stderr
    assert not (tmp_path / "mapping.yaml").exists()


def wait_until_asleep(pid: int) -> None:
    """Until the process sleeps (in the read of its answer), where Linux shows that."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(500):
        if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "S":
            return
        time.sleep(0.01)
