"""The rehearsal (`hibob-sync demo --serve`): it starts, the commands it prints work as
printed (pasted into a shell), HiBob's people change while it runs, and it stops cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hibob_sync.sandbox import HibobSandbox, generate_company
from hibob_sync.sandbox.roster_cli import ADMIN_TOKEN_ENV, URL_ENV
from tests.signal_helpers import interruptible_children

BIN = Path(sys.executable).parent  # where this environment's `hibob-sync` and `python` are
READY = "Ctrl-C (or SIGTERM) stops both servers"
HANG_GUARD = 60


@pytest.fixture
def rehearsal(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`demo --serve` in its own process, and what it printed up to READY."""
    pytest.importorskip("scim2_server", reason="scim2-server needs Python 3.11 or newer")
    if shutil.which("hibob-sync", path=str(BIN)) is None:
        pytest.skip(f"no hibob-sync script next to {sys.executable}")
    args = ["demo", "--serve", "--dir", str(tmp_path / "rehearsal"), "--employees", "30"]
    with interruptible_children():
        proc = subprocess.Popen(
            [sys.executable, "-m", "hibob_sync", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        assert proc.stdout is not None
        printed: list[str] = []
        while not printed or READY not in printed[-1]:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"the rehearsal ended early: {printed} {proc.communicate()}")
            printed.append(line.rstrip("\n"))
        yield proc, printed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def shell(line: str, env_line: str) -> subprocess.CompletedProcess[str]:
    """One printed command, pasted into a shell that loaded the rehearsal's env file."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        ["sh", "-c", f"{env_line} && {line}"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
        timeout=HANG_GUARD * 2,
    )


def test_the_printed_commands_work_and_sigterm_stops_it_cleanly(
    rehearsal: tuple[subprocess.Popen[str], list[str]],
) -> None:
    proc, printed = rehearsal
    commands = [line.strip()[2:] for line in printed if line.strip()[:2] == "$ "]  # as printed
    env_line, *rest = commands
    assert env_line.startswith(". /")
    urls = [
        line.split()[2] for line in printed if "HiBob sandbox:" in line or "SCIM server:" in line
    ]
    expected = {"hibob-sync check": {0}, "hibob-sync run": {0, 1}}  # 1: the planted bad records
    who = next(c.split()[-1] for c in rest if " roster leave " in c)
    plan = "hibob-sync plan"
    for command in rest:
        result = shell(command, env_line)
        assert result.returncode in expected.get(command, {0}), (command, result)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        # Each change of HiBob's people shows in the next plan.
        if " roster leave " in command:
            assert "- deactivate" in shell(plan, env_line).stdout
        if " roster remove " in command:
            assert f"{who} (HiBob" in shell(plan, env_line).stdout
            assert "of 2 minutes of sync.vanished_grace" in shell(plan, env_line).stdout
        if command.endswith(" roster empty"):
            stopped = shell(plan, env_line)
            assert stopped.returncode == 65 and "HiBob returned no employees" in stopped.stdout
    assert shell(plan, env_line).returncode == 0  # everyone restored: a run would go ahead

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 0, err
    assert "Stopped: both servers are down" in out
    assert "Interrupted" not in err and "Traceback" not in err
    for url in urls:
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)


def test_roster_changes_need_the_admin_token() -> None:
    with HibobSandbox(generate_company(12, seed=1), user_id="u", token="t") as closed:
        # Without an admin token the endpoint is not there at all (HiBob has none).
        answer = requests.get(closed.url.rsplit("/v1", 1)[0] + "/_sandbox/roster", timeout=10)
        assert answer.status_code == 401  # the service-user check answers first, as HiBob's
    with HibobSandbox(generate_company(12, seed=1), admin_token="right") as sandbox:
        env = {**os.environ, URL_ENV: sandbox.url, ADMIN_TOKEN_ENV: "wrong"}
        run = [sys.executable, "-m", "hibob_sync.sandbox", "roster", "empty"]
        refused = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "Invalid sandbox admin token" in refused.stderr
        assert sandbox.company.hidden == frozenset()
        env[ADMIN_TOKEN_ENV] = "right"
        done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert sandbox.company.hidden == frozenset(sandbox.company.ids())


def test_roster_list_into_head_ends_quietly() -> None:
    """`roster list | head -3`: the reader closing the pipe early is no traceback."""
    with HibobSandbox(generate_company(120, seed=1), admin_token="right") as sandbox:
        env = {**os.environ, URL_ENV: sandbox.url, ADMIN_TOKEN_ENV: "right"}
        line = f"'{sys.executable}' -m hibob_sync.sandbox roster list | head -3"
        done = subprocess.run(
            ["sh", "-c", line], env=env, capture_output=True, text=True, timeout=HANG_GUARD
        )
        assert len(done.stdout.splitlines()) == 3
        assert done.stderr == "", done.stderr
