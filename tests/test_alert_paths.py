"""Alerts known to work: check tries every alert path without sending; failed alerts show."""

from __future__ import annotations

from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.smtp_fixtures import SMTP_PASSWORD, SMTP_USER, StartSmtp, free_port
from tests.sync_fixtures import SyncEnv
from tests.test_alerts_e2e import healthcheck  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parent.parent


def email_block(port: int, username: str | None = None, healthcheck_url: str = "") -> str:
    text = (
        "notify:\n"
        "  email: {to: [it@example.com], from: hibob-sync@example.com, "
        f"smtp_host: 127.0.0.1, smtp_port: {port}"
        + (f", username: {username}" if username else "")
        + "}\n"
    )
    return text + (f"  healthcheck_url: {healthcheck_url}\n" if healthcheck_url else "")


def test_example_config_does_not_switch_alert_email_on() -> None:
    data = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    assert (data.get("notify") or {}).get("email") is None


def test_check_logs_in_to_smtp_without_sending(
    sync_env: SyncEnv, smtp_server: StartSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp = smtp_server(auth=True)
    sync_env.write_config(email_block(smtp.port, SMTP_USER))
    monkeypatch.setenv("HIBOB_SYNC_SMTP_PASSWORD", SMTP_PASSWORD)
    result = sync_env.cli("check")
    assert result.exit_code == 0, result.stdout
    assert f"[ok  ] alert email works: SMTP 127.0.0.1:{smtp.port}, login as {SMTP_USER}" in (
        result.stdout
    )
    assert smtp.logins == [SMTP_USER] and smtp.envelopes == []

    monkeypatch.setenv("HIBOB_SYNC_SMTP_PASSWORD", "wrong-password")
    result = sync_env.cli("check")
    assert result.exit_code == 78
    assert "[FAIL] alert email: the SMTP server" in result.stdout
    assert "rejected the login" in result.stdout and "wrong-password" not in result.output
    assert smtp.envelopes == []


def test_check_send_test_email_sends_one(sync_env: SyncEnv, smtp_server: StartSmtp) -> None:
    smtp = smtp_server()
    sync_env.write_config(email_block(smtp.port))
    result = sync_env.cli("check", "--send-test-email")
    assert result.exit_code == 0, result.stdout
    assert "test message sent to it@example.com" in result.stdout
    assert len(smtp.envelopes) == 1
    assert b"hibob-sync: test message" in smtp.envelopes[0].original_content


def test_unreachable_alert_paths_fail_the_check(sync_env: SyncEnv) -> None:
    closed = free_port()
    sync_env.write_config(email_block(closed, healthcheck_url=f"http://127.0.0.1:{closed}/p"))
    result = sync_env.cli("check")
    assert result.exit_code == 78
    assert "[FAIL] alert email: could not reach the SMTP server" in result.stdout
    assert f"[FAIL] healthcheck: could not reach the healthcheck host 127.0.0.1:{closed}" in (
        result.stdout
    )


def test_healthcheck_host_is_reached_but_not_pinged(
    sync_env: SyncEnv,
    healthcheck: ThreadingHTTPServer,  # noqa: F811 - the fixture
) -> None:
    url = f"http://127.0.0.1:{healthcheck.server_address[1]}/ping/abc"
    sync_env.write_config(f"notify:\n  healthcheck_url: {url}\n")
    result = sync_env.cli("check")
    assert "[ok  ] healthcheck host 127.0.0.1" in result.stdout
    assert "[note] no alert email" in result.stdout
    assert healthcheck.paths == []  # type: ignore[attr-defined]


def test_https_healthcheck_url_to_a_plain_http_port_says_no_tls(
    sync_env: SyncEnv,
    healthcheck: ThreadingHTTPServer,  # noqa: F811 - the fixture
) -> None:
    port = healthcheck.server_address[1]
    sync_env.write_config(f"notify:\n  healthcheck_url: https://127.0.0.1:{port}/ping/abc\n")
    result = sync_env.cli("check")
    assert result.exit_code == 78
    assert f"[FAIL] healthcheck: the healthcheck host 127.0.0.1:{port} does not speak TLS" in (
        result.stdout
    )
    result = sync_env.run()  # the ping's failure is logged; the run's own code stands
    assert result.exit_code == 1, result.output  # the sandbox's planted bad records
    assert (
        f"notify.healthcheck_url: https://127.0.0.1:{port} does not speak TLS on port {port}"
        in result.messages
    )
    assert healthcheck.paths == []  # type: ignore[attr-defined]


def test_failed_alert_is_recorded_and_shown_under_quiet(sync_env: SyncEnv) -> None:
    sync_env.write_config(email_block(free_port()))
    result = sync_env.cli("-q", "run")
    assert result.exit_code == 1  # new problems: an alert is due, and cannot be sent
    assert "ERROR alert email not sent: could not reach the SMTP server" in result.stderr
    history = sync_env.cli("history").stdout
    assert "alert email not sent" in history
