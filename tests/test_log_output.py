"""Output that reads well in a cron log, and set-up mistakes that are named as such (78)."""

from __future__ import annotations

import os
import pty
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.sync_fixtures import SyncEnv

STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) ")


def test_every_stderr_line_is_stamped_in_a_log(sync_env: SyncEnv) -> None:
    result = sync_env.run()
    assert result.exit_code == 1  # the sandbox's planted bad records: a summary on stderr
    lines = result.stderr.splitlines()
    assert len(lines) > 3
    for line in lines:
        assert STAMPED.match(line), line
    assert any(" WARNING Done: " in line for line in lines)


def assert_stamped(stderr: str) -> None:
    """Off a terminal, every line on stderr starts with a time and level (none blank)."""
    lines = stderr.splitlines()
    assert lines, "nothing on stderr"
    for line in lines:
        assert STAMPED.match(line), line


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--bogus", "run"), id="unknown-option"),
        pytest.param(("plan", "--expires", "0s"), id="bad-value"),
        pytest.param(("map", "set", "nickname", "root.email"), id="bad-choice"),
        pytest.param(("-q", "-v", "status"), id="plugin-usage"),
    ],
)
def test_click_usage_errors_are_stamped_in_a_log(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.exit_code in (2, 3), result.output
    assert_stamped(result.stderr)
    assert " ERROR Usage: hibob-sync" in result.stderr or "ERROR Invalid value" in result.stderr


def test_apply_summary_is_on_stderr_and_stamped(sync_env: SyncEnv, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert sync_env.cli("plan", "-o", str(plan)).exit_code == 0
    result = sync_env.cli("apply", str(plan))
    assert result.exit_code in (0, 1), result.output
    assert result.stdout == ""  # as `run`: the summary is for the log, stdout for --json
    assert_stamped(result.stderr)
    assert "applied the reviewed plan" in result.messages


def test_a_keyring_password_prompt_is_stamped_under_cron(tmp_path: Path) -> None:
    """An encrypted keyring asks for its password even under cron (no terminal): its prompt
    and Python's getpass warning are lines in the log too."""
    (tmp_path / "config.yaml").write_text(
        "hithrive:\n  scim_url: http://127.0.0.1:9/scim/v2\n", encoding="utf-8"
    )
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "tests.prompting_keyring.PromptingKeyring",
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "hibob_sync", "--config", "config.yaml", "run"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,  # no controlling terminal: getpass writes to stderr
        timeout=60,
    )
    assert proc.returncode == 77, proc.stderr
    assert "password for encrypted keyring" in proc.stderr
    assert_stamped(proc.stderr)


def test_terminal_output_stays_short(tmp_path: Path) -> None:
    """On a terminal, no timestamps: `Error: ...` as before (stderr is a real pty here)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "hibob_sync", "--config", str(tmp_path / "none.yaml"), "run"],
            stderr=follower,
            stdout=subprocess.DEVNULL,
            timeout=60,
            env=os.environ.copy(),
        )
        os.close(follower)
        follower = -1
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    text = output.decode()
    assert proc.returncode == 78
    assert text.startswith("Error: config file "), text
    assert not STAMPED.match(text)


def test_sigterm_on_a_terminal_prints_no_blank_line(tmp_path: Path) -> None:
    """A blank line closes a typed ^C; SIGTERM (timeout(1), kill) has none to close."""
    silent = socket.socket()  # accepts the request and never answers: the run waits
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    (tmp_path / "config.yaml").write_text(
        f"hibob:\n  base_url: {url}/v1\nhithrive:\n  scim_url: {url}/scim\n"
        "sync:\n  state_path: state/state.db\n",
        encoding="utf-8",
    )
    secrets = {"HIBOB_SERVICE_USER_ID": "u", "HIBOB_SERVICE_USER_TOKEN": "t"}
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hibob_sync", "--config", "config.yaml", "run"],
            stderr=follower,
            stdout=subprocess.DEVNULL,
            cwd=tmp_path,
            env={**os.environ, **secrets, "HITHRIVE_SCIM_TOKEN": "s"},
        )
        os.close(follower)
        follower = -1
        connection, _ = silent.accept()  # the run is reading HiBob
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 130
        output = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        connection.close()
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
        silent.close()
    lines = output.decode().replace("\r\n", "\n").split("\n")
    assert "Error: Interrupted." in lines, lines
    assert lines[lines.index("Error: Interrupted.") - 1] != ""


def test_quiet_and_verbose_is_a_usage_error(sync_env: SyncEnv) -> None:
    result = sync_env.cli("-q", "-v", "run")
    assert result.exit_code == 2
    assert "--quiet" in result.stderr and "--verbose" in result.stderr
    assert sync_env.sandbox.request_count() == 0


def test_hibob_base_url_answering_404_is_a_config_error(sync_env: SyncEnv) -> None:
    text = sync_env.config.read_text().replace(sync_env.sandbox.url, sync_env.sandbox.url + "/v9")
    sync_env.config.write_text(text)
    for command in ("run", "check"):
        result = sync_env.cli(command)
        assert result.exit_code == 78, result.output
        assert "hibob.base_url" in result.output
        # One error, said once: no warning about the catalogue (with its hint) before it.
        assert "field catalogue" not in result.output and "Hint: check" not in result.output


class _LoginWall(BaseHTTPRequestHandler):
    """Another app at the configured URL: every request needs its own login."""

    def do_GET(self) -> None:
        body = b"<html><body>Please sign in</body></html>"
        self.send_response(401)
        if self.path.startswith("/basic/"):
            self.send_header("WWW-Authenticate", 'Basic realm="intranet"')
            self.send_header("Content-Type", "application/json")
            body = b'{"message": "login required"}'
        else:
            self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def login_wall() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoginWall)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/app", "with a web page (a login page?)"),
        ("/basic/api", "asks for Basic authentication, not a SCIM bearer token"),
    ],
)
def test_scim_url_behind_another_login_is_not_a_rejected_token(
    sync_env: SyncEnv, login_wall: str, path: str, says: str
) -> None:
    # 78, not 77: the token never reached a SCIM server; `connect` would not help.
    text = sync_env.config.read_text().replace(sync_env.scim.url, login_wall + path)
    sync_env.config.write_text(text)
    for command in ("run", "check"):
        result = sync_env.cli(command)
        assert result.exit_code == 78, result.output
        assert f"hithrive.scim_url {login_wall}{path}" in result.output
        assert says in result.output and "may not be a SCIM endpoint" in result.output
        assert "rejected the token" not in result.output
    connect = sync_env.cli("connect", "--from-env")
    assert connect.exit_code == 78 and "may not be a SCIM endpoint" in connect.output


def test_a_host_that_does_not_resolve_fails_fast(sync_env: SyncEnv) -> None:
    # .invalid never resolves (RFC 6761): not an outage to wait out six times.
    text = sync_env.config.read_text().replace(
        sync_env.scim.url, "https://scim.no-such-host.invalid/scim/v2"
    )
    sync_env.config.write_text(text)
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert "could not resolve host scim.no-such-host.invalid" in result.messages
    assert "attempts" not in result.output and "retrying" not in result.output
    assert sync_env.clock.sleeps == []


class _WebPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Sign in to HiThrive</body></html>"
        self.send_response(404 if self.path.startswith("/gone/") else 200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_page() -> Iterator[str]:
    """A loopback web server answering every path with a login page, as a wrong URL might."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_scim_url_that_is_not_scim_is_a_config_error(sync_env: SyncEnv, web_page: str) -> None:
    text = sync_env.config.read_text().replace(sync_env.scim.url, web_page + "/app")
    sync_env.config.write_text(text)
    for command in ("run", "check"):
        result = sync_env.cli(command)
        assert result.exit_code == 78, result.output
        assert "hithrive.scim_url" in result.output
        assert "/ServiceProviderConfig is not a SCIM document" in result.output
    assert sync_env.clock.sleeps == []  # not retried as if the server were down


def test_scim_url_without_users_is_a_config_error(sync_env: SyncEnv, web_page: str) -> None:
    # 404 below this URL: no /ServiceProviderConfig (tolerated) and no /Users (not SCIM).
    text = sync_env.config.read_text().replace(sync_env.scim.url, web_page + "/gone")
    sync_env.config.write_text(text)
    result = sync_env.cli("check")
    assert result.exit_code == 78, result.output
    assert "hithrive.scim_url" in result.stdout and "/Users is not there" in result.stdout
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    assert "hithrive.scim_url" in result.stderr


def test_placeholder_is_caught_before_any_request(sync_env: SyncEnv) -> None:
    text = sync_env.config.read_text().replace(sync_env.scim.url, "https://YOUR-TENANT/scim/v2")
    sync_env.config.write_text(text)
    result = sync_env.run()
    assert result.exit_code == 78
    assert "hithrive.scim_url" in result.stderr and "placeholder" in result.stderr
    assert sync_env.sandbox.request_count() == 0


@pytest.mark.parametrize(
    ("yaml_text", "where"),
    [
        ("scim_url: https://x.example/scim/v2\n", "scim_url belongs at hithrive.scim_url"),
        ("hibob:\n  leavers: ignore\n", "leavers belongs at sync.leavers"),
        ("ca_bundle: ca.pem\n", "hibob.ca_bundle or hithrive.ca_bundle"),
    ],
)
def test_unknown_key_says_where_it_belongs(tmp_path: Path, yaml_text: str, where: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    result = run_cli("--config", str(config), "run")
    assert result.exit_code == 78
    assert "unknown key" in result.stderr and where in result.stderr, result.stderr
