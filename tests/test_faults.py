"""Faults end to end through the CLI: each run ends with a documented exit code, nothing is
lost, and a re-run converges to in-sync.

HiBob faults come from the sandbox's fault queue, SCIM faults from the counting proxy in
front of scim2-server; waits between retries land on the fake clock, never in real time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hibob_sync.sandbox import SEARCH_PATH, generate_company
from hibob_sync.sandbox.catalogue import MAPPING_YAML
from tests.hibob_faults import ScriptedSandbox
from tests.hibob_fixtures import HIBOB_TOKEN, HIBOB_USER_ID, SANDBOX_TODAY, FakeClock
from tests.reliability_helpers import assert_in_sync, assert_no_duplicates, scim_writes
from tests.scim_fixtures import ScimServer, ScimServerFactory
from tests.sync_fixtures import SyncEnv

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
EMPLOYEES = 200  # for the killed run: long enough an apply to be killed in the middle


def scim_error(status: int) -> dict[str, object]:
    return {"schemas": [SCIM_ERROR], "status": str(status), "detail": "try again later"}


def history(env: SyncEnv) -> list[dict[str, object]]:
    result = env.cli("history", "--json")
    assert result.exit_code == 0, result.output
    runs: list[dict[str, object]] = json.loads(result.stdout)
    return runs


def assert_clean_outcome(output: str) -> None:
    assert "Traceback" not in output


# -- HiBob -------------------------------------------------------------------------------------


def test_hibob_burst_of_503_is_retried(sync_env: SyncEnv) -> None:
    sync_env.sandbox.fail_next(3, 503, path=SEARCH_PATH)
    result = sync_env.run()
    assert result.exit_code == 1, result.output
    assert sync_env.sandbox.request_count("search") == 4
    assert len(sync_env.clock.sleeps) == 3
    assert "HTTP 503 from HiBob; retrying" in result.stderr
    assert_in_sync(sync_env)


def test_hibob_429_storm_honours_retry_after(sync_env: SyncEnv) -> None:
    sync_env.sandbox.fail_next(3, 429, headers={"Retry-After": "17"}, path=SEARCH_PATH)
    result = sync_env.run()
    assert result.exit_code == 1, result.output
    assert sync_env.clock.sleeps == [17.0, 17.0, 17.0]
    assert_in_sync(sync_env)


def test_hibob_rate_limit_waits_for_the_window_reset(sync_env: SyncEnv) -> None:
    """The sandbox's own limiter: no Retry-After, only X-RateLimit-Reset (epoch seconds)."""
    sync_env.sandbox.rate_limit = 1
    assert sync_env.run().exit_code == 1
    started = sync_env.clock.now
    result = sync_env.run()
    assert result.exit_code == 0, result.output  # the same bad records as the run before
    # One wait, until the 60 s window that began with the first search has ended.
    assert sync_env.clock.sleeps == [pytest.approx(60.0, abs=1.0)]
    assert sync_env.clock.now >= started + 59
    assert_in_sync(sync_env)


def test_hibob_connection_dropped_mid_body(sync_env: SyncEnv) -> None:
    sync_env.sandbox.drop_next_connection(mid_answer=True, path=SEARCH_PATH)
    result = sync_env.run()
    assert result.exit_code == 1, result.output
    assert sync_env.sandbox.request_count("search") == 2
    assert "cut off in the middle of the answer" in result.stderr
    assert_in_sync(sync_env)


def test_hibob_truncated_json_is_retried(sync_env: SyncEnv) -> None:
    sync_env.sandbox.truncate_next(path=SEARCH_PATH)
    result = sync_env.run()
    assert result.exit_code == 1, result.output
    assert sync_env.sandbox.request_count("search") == 2
    assert "HiBob sent a broken answer: its brackets do not pair up" in result.stderr
    assert_in_sync(sync_env)


def test_hibob_answer_slower_than_read_timeout(sync_env: SyncEnv) -> None:
    # sync.timeout bounds every call (it overrides the injected default).
    sync_env.write_config(timeout=0.4)
    sync_env.sandbox.delay_next(3, path=SEARCH_PATH)
    started = time.monotonic()
    result = sync_env.run()
    assert result.exit_code == 1, result.output
    assert time.monotonic() - started < 3, "the client waited for the slow answer"
    assert sync_env.sandbox.request_count("search") == 2
    assert "timed out" in result.stderr
    assert_in_sync(sync_env)


def test_hibob_persistent_outage_exits_69_and_writes_nothing(sync_env: SyncEnv) -> None:
    sync_env.sandbox.fail_next(50, 503)
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert_clean_outcome(result.output)
    assert "HiBob stayed unavailable" in result.stderr and "4 attempts" in result.stderr
    assert sync_env.scim.requests == []
    runs = history(sync_env)
    assert len(runs) == 1
    assert runs[0]["exit_code"] == 69 and runs[0]["outcome"] == "service unavailable"
    assert "HiBob stayed unavailable" in str(runs[0]["message"])

    sync_env.sandbox.clear_faults()
    assert sync_env.run().exit_code == 1
    assert_in_sync(sync_env)
    assert [run["exit_code"] for run in history(sync_env)][-2:] == [1, 69]


# -- SCIM --------------------------------------------------------------------------------------


def test_scim_5xx_on_some_writes_is_retried(sync_env: SyncEnv) -> None:
    scim = sync_env.scim
    scim.respond(503, scim_error(503), method="POST", path="/Users", times=2)
    scim.respond(502, None, method="POST", path="/Users", times=1)
    result = sync_env.run()
    assert result.exit_code == 1, result.output
    created = len(sync_env.users())
    assert scim.count("POST", "/Users") == created + 3
    assert_in_sync(sync_env)

    # Updates too: a 504 on a PATCH is retried, and the change lands once.
    employee_id = sorted(sync_env.users_by_external_id())[3]
    sync_env.sandbox.company.update(employee_id, {"work.title": "Chief Retry Officer"})
    scim.reset_counts()
    scim.respond(504, scim_error(504), method="PATCH", path="/Users", times=2)
    result = sync_env.run()
    assert result.exit_code == 0, result.output
    user = sync_env.users_by_external_id()[employee_id]
    assert scim_writes(sync_env) == [("PATCH", f"/Users/{user['id']}")] * 3
    assert user["title"] == "Chief Retry Officer"
    assert_in_sync(sync_env)


def test_scim_429_storm_honours_retry_after(sync_env: SyncEnv) -> None:
    sync_env.scim.respond(
        429, scim_error(429), method="POST", path="/Users", times=3, headers={"Retry-After": "9"}
    )
    result = sync_env.run()
    assert result.exit_code == 1, result.output
    assert sync_env.clock.sleeps == [9.0, 9.0, 9.0]
    assert_in_sync(sync_env)


def test_scim_lost_post_answer_then_409_makes_no_duplicate(sync_env: SyncEnv) -> None:
    scim = sync_env.scim
    scim.drop_response("POST", "/Users")
    result = sync_env.run("--json")
    assert result.exit_code == 1, result.output
    users = sync_env.users()
    assert_no_duplicates(users)
    # The retried POST met 409 (the first one had created the user) and was resolved.
    assert scim.count("POST", "/Users") == len(users) + 1
    conflict = [c for c in scim.calls if c.method == "GET" and "filter=" in c.query]
    assert len(conflict) == 1
    assert json.loads(result.stdout)["counts"]["failed"] == 0
    assert_in_sync(sync_env)


def test_scim_lost_bulk_answer_makes_no_duplicate(
    sync_env: SyncEnv, scim_server_factory: ScimServerFactory
) -> None:
    """On a server with /Bulk, the whole retried batch meets 409s: each is resolved."""
    sync_env.scim = scim_server_factory(config="default")
    sync_env.write_config()
    sync_env.scim.drop_response("POST", "/Bulk")
    result = sync_env.run("--json")
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert summary["counts"]["failed"] == 0
    assert summary["counts"]["create"] == len(sync_env.users())
    assert_in_sync(sync_env)


def test_scim_persistent_outage_exits_69(sync_env: SyncEnv) -> None:
    sync_env.scim.respond(503, scim_error(503), times=None)
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert_clean_outcome(result.output)
    assert "SCIM server" in result.stderr and "stayed unavailable" in result.stderr
    assert scim_writes(sync_env) == []
    assert history(sync_env)[0]["exit_code"] == 69


# -- a run killed half-way, and two runs at once -----------------------------------------------


@pytest.fixture
def big_env(
    scim_server: ScimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SyncEnv]:
    """A couple of hundred employees, run by a separate process."""
    clock = FakeClock()
    company = generate_company(EMPLOYEES, 23, today=SANDBOX_TODAY)
    sandbox = ScriptedSandbox(company, user_id=HIBOB_USER_ID, token=HIBOB_TOKEN)
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "mapping.yaml").write_text(MAPPING_YAML, encoding="utf-8")
    monkeypatch.setenv("HIBOB_SERVICE_USER_ID", HIBOB_USER_ID)
    monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", HIBOB_TOKEN)
    monkeypatch.setenv("HITHRIVE_SCIM_TOKEN", scim_server.token)
    from hibob_sync.http import HttpSettings

    http = HttpSettings(connect_timeout=5, read_timeout=30, max_attempts=4, sleep=clock.sleep)
    with sandbox:
        env = SyncEnv(sandbox, scim_server, folder, http, clock)
        env.write_config()
        yield env


def start_cli_process(env: SyncEnv, *command: str) -> subprocess.Popen[bytes]:
    """`hibob-sync run` (or COMMAND) as cron would start it: own process, credentials in env."""
    return subprocess.Popen(
        [sys.executable, "-m", "hibob_sync", "--config", str(env.config), *(command or ("run",))],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(condition: object, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    """Poll until condition() holds; fail (with the process's output) after timeout."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended early ({proc.returncode}): {out!r} {err!r}")
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the run")
        time.sleep(0.01)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


def test_killed_mid_apply_then_rerun_converges(big_env: SyncEnv) -> None:
    proc = start_cli_process(big_env)
    try:
        wait_for(lambda: len(scim_writes(big_env)) >= 20, 60, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == -signal.SIGKILL
    written = len(big_env.users())
    expected = EMPLOYEES - len(big_env.sandbox.company.by_status("Terminated"))
    assert 0 < written < expected - 3, "the kill did not land in the middle of applying"

    result = big_env.run()
    assert result.exit_code == 1, result.output  # the seeded bad records, as on any run
    assert_no_duplicates(big_env.users())
    assert_in_sync(big_env)  # includes a third run that writes nothing


def test_second_run_while_one_holds_the_lock_exits_75(sync_env: SyncEnv) -> None:
    # The first run, a separate process, is held inside its run by a slow HiBob answer.
    sync_env.sandbox.delay_next(2, path=SEARCH_PATH)
    first = start_cli_process(sync_env)
    try:
        wait_for(lambda: sync_env.sandbox.request_count("search") >= 1, 30, first)
        second = sync_env.run()
        assert second.exit_code == 75, second.output
        assert "another hibob-sync run holds the lock" in second.stderr
        assert_clean_outcome(second.output)
        assert sync_env.sandbox.request_count("search") == 1  # the second never read HiBob
        assert scim_writes(sync_env) == []
        first.wait(timeout=60)
    finally:
        stop(first)
    assert first.returncode == 1
    # Only the first run wrote; the refused one is recorded too (newest first), since
    # nights in a row of it alert like 69: a hung run must not hold the lock unnoticed.
    assert [run["exit_code"] for run in history(sync_env)] == [1, 75]
    assert_in_sync(sync_env)
