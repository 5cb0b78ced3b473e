"""A person is told: `run` emails on 65/77 and on repeated 69, and pings a healthcheck."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.smtp_fixtures import StartSmtp
from tests.sync_fixtures import SyncEnv
from tests.test_run import active_users


def notify_block(port: int, after: int = 3, healthcheck: str | None = None) -> str:
    text = (
        "notify:\n"
        "  email: {to: [it@example.com], from: hibob-sync@example.com, "
        f"smtp_host: 127.0.0.1, smtp_port: {port}}}\n"
        f"  alert_after_failed_runs: {after}\n"
    )
    if healthcheck:
        text += f"  healthcheck_url: {healthcheck}\n"
    return text


def bodies(server: object) -> list[str]:
    messages = [message_from_bytes(e.original_content) for e in server.envelopes]  # type: ignore[attr-defined]
    return [f"{m['Subject']}\n{m.get_payload(decode=True).decode()}" for m in messages]


def test_safeguard_emails_what_to_do_without_personal_data(
    sync_env: SyncEnv, smtp_server: StartSmtp
) -> None:
    smtp = smtp_server()
    sync_env.write_config(notify_block(smtp.port))
    assert sync_env.run().exit_code == 1  # new problems (the planted bad records): one email
    assert sync_env.run().exit_code == 0  # the same again: no email
    company = sync_env.sandbox.company
    for employee_id in active_users(sync_env)[:8]:
        company.terminate(employee_id)
    assert sync_env.run().exit_code == 65
    [new_problems, text] = bodies(smtp)
    assert "new employees could not be synced" in new_problems
    assert "safeguard" in text.lower()
    assert "--dry-run" in text
    assert smtp.envelopes[1].rcpt_tos == ["it@example.com"]
    for employee_id in company.ids():
        record = company.get(employee_id)
        email = record.get("root.email")
        for body in (new_problems, text):
            assert not email or str(email).strip().lower() not in body.lower()
            assert str(record.get("root.surname")) not in body


def test_rejected_credentials_email(
    sync_env: SyncEnv, smtp_server: StartSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp = smtp_server()
    sync_env.write_config(notify_block(smtp.port))
    monkeypatch.setenv("HITHRIVE_SCIM_TOKEN", "revoked-token")
    assert sync_env.run().exit_code == 77
    [text] = bodies(smtp)
    assert "hibob-sync connect" in text
    assert "revoked-token" not in text


def test_outage_emails_only_after_repeated_failures(
    sync_env: SyncEnv, smtp_server: StartSmtp
) -> None:
    smtp = smtp_server()
    sync_env.write_config(notify_block(smtp.port, after=2))
    sync_env.sandbox.fail_next(8, 503)
    assert sync_env.run().exit_code == 69
    assert smtp.envelopes == []
    sync_env.sandbox.fail_next(8, 503)
    assert sync_env.run().exit_code == 69
    assert len(smtp.envelopes) == 1
    history = sync_env.cli("history").stdout
    assert history.count("service unavailable") == 2


class _Recorder(BaseHTTPRequestHandler):
    paths: list[str]

    def do_GET(self) -> None:
        self._ok()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._ok()

    def _ok(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def healthcheck() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_healthcheck_start_then_success_or_fail(
    sync_env: SyncEnv, smtp_server: StartSmtp, healthcheck: ThreadingHTTPServer
) -> None:
    smtp = smtp_server()
    url = f"http://127.0.0.1:{healthcheck.server_address[1]}/ping/abc"
    sync_env.write_config(notify_block(smtp.port, healthcheck=url))
    sync_env.run()  # exit 1: the run finished, some employees named -> success
    sync_env.sandbox.fail_next(8, 503)
    sync_env.run()  # exit 69 -> /fail
    paths = healthcheck.paths  # type: ignore[attr-defined]
    assert paths == ["/ping/abc/start", "/ping/abc", "/ping/abc/start", "/ping/abc/fail"]
