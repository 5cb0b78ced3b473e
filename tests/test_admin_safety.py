"""The smaller host-safety items of spec.md: email settings that would leak or break
headers, a configured mapping file that is missing, the metrics file's temp file, alert
bodies without employee data, and the demo's child without credentials."""

from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path

import pytest

from hibob_sync.notify.alerts import alert_for, render
from tests.smtp_fixtures import SMTP_PASSWORD, SMTP_USER, StartSmtp
from tests.sync_fixtures import SyncEnv
from tests.test_metrics import METRICS, with_metrics

EMAIL = "notify:\n  email: {{to: {to}, from: {sender}, smtp_host: {host}, smtp_port: 25{more}}}\n"


def email_block(
    to: str = "it@example.com",
    sender: str = "hibob-sync@example.com",
    host: str = "127.0.0.1",
    more: str = "",
) -> str:
    return EMAIL.format(to=to, sender=sender, host=host, more=more)


@pytest.mark.parametrize(
    ("block", "key"),
    [
        (email_block(to='"it@example.com\\r\\nBcc: all@example.com"'), "notify.email.to"),
        (email_block(to='["ok@example.com", "it@example.com\\nX: y"]'), "notify.email.to"),
        (email_block(sender='"alerts@example.com\\r\\nBcc: x@example.com"'), "notify.email.from"),
    ],
)
def test_line_breaks_in_email_addresses_are_config_errors(
    sync_env: SyncEnv, block: str, key: str
) -> None:
    sync_env.write_config(block)
    for command in ("run", "check"):
        result = sync_env.cli(command)
        assert result.exit_code == 78, result.output
        assert f"{key}: expected" in result.messages and "Traceback" not in result.output


def test_a_password_is_never_sent_in_clear_to_another_host(
    sync_env: SyncEnv, smtp_server: StartSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIBOB_SYNC_SMTP_PASSWORD", SMTP_PASSWORD)
    login = f", security: none, username: {SMTP_USER}"
    sync_env.write_config(email_block(host="mail.example.com", more=login))
    for command in ("run", "check"):
        result = sync_env.cli(command)
        assert result.exit_code == 78, result.output
        assert "notify.email.security: `none` with a username" in result.messages
        assert "mail.example.com" in result.messages and SMTP_PASSWORD not in result.output
    # A loopback relay may take a login in clear: nothing leaves the host.
    smtp = smtp_server(auth=True)
    sync_env.write_config(
        email_block(more=login).replace("smtp_port: 25", f"smtp_port: {smtp.port}")
    )
    result = sync_env.cli("check")
    assert "alert email works" in result.stdout and smtp.logins == [SMTP_USER], result.output


def test_a_configured_mapping_file_that_is_missing_is_78(sync_env: SyncEnv) -> None:
    mapping = sync_env.folder / "mapping.yaml"
    mapping.unlink()
    for command in (("run",), ("check",), ("plan",), ("map", "validate")):
        result = sync_env.cli(*command)
        assert result.exit_code == 78, (command, result.output)
        assert f"mapping_file: {mapping} does not exist" in result.messages
    assert sync_env.sandbox.request_count() == 0 and sync_env.scim.writes == []
    # `map set` writes it: it may start from the default mapping.
    result = sync_env.cli("map", "set", "job_title", "work.title")
    assert result.exit_code == 0, result.output
    assert mapping.exists()


def test_the_metrics_file_is_written_through_a_private_temp_file(sync_env: SyncEnv) -> None:
    with_metrics(sync_env)
    metrics = sync_env.folder / METRICS
    old = os.umask(0)  # the umask no longer decides: private first, then the final mode
    try:
        assert sync_env.run().exit_code == 1
    finally:
        os.umask(old)
    assert stat.S_IMODE(metrics.stat().st_mode) == 0o644
    assert [p.name for p in metrics.parent.iterdir()] == [metrics.name]  # no temp left
    # A link where the file goes is replaced, never written through.
    target = sync_env.folder / "not-metrics.txt"
    target.write_text("keep\n", encoding="utf-8")
    metrics.unlink()
    metrics.symlink_to(target)
    assert sync_env.run().exit_code == 0
    assert target.read_text(encoding="utf-8") == "keep\n" and not metrics.is_symlink()


def test_the_max_changes_alert_carries_no_addresses() -> None:
    message = (
        "job_title would change for 30 of 40 managed users, more than sync.max_changes "
        "(25%, i.e. 10) allows (e.g. ada.lovelace@acme.example, bob@acme.example, "
        "carol@acme.example); nothing was written"
    )
    alert = alert_for(65, message, {"update": 30}, consecutive_failures=1, alert_after=3)
    assert alert is not None
    body = render(alert, host="sync-host").get_content()
    assert "job_title would change for 30 of 40 managed users" in body
    assert "@acme.example" not in body and "ada" not in body
    assert "no employee names, addresses or field values" in body


@pytest.mark.parametrize("code", [1, 65, 69, 70, 75, 77])
def test_no_alert_body_carries_an_address_from_the_message(code: int) -> None:
    alert = alert_for(
        code, "x user eve@corp.example: boom", {}, consecutive_failures=9, alert_after=1
    )
    assert alert is not None
    assert "eve@corp.example" not in render(alert, host="h").get_content()


def test_a_server_error_quoting_a_value_reaches_no_alert() -> None:
    message = (
        "HiThrive refused the write (HTTP 400): attribute 'title' value \"Chief Happiness "
        'Officer" is invalid'
    )
    alert = alert_for(69, message, {}, consecutive_failures=3, alert_after=3)
    assert alert is not None
    body = render(alert, host="h").get_content()
    assert "Chief Happiness" not in body and "HTTP 400" in body


@pytest.mark.skipif(
    importlib.util.find_spec("scim2_server") is None, reason="scim2-server needs Python 3.11+"
)
def test_the_demo_scim_server_gets_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hibob_sync.demo.scim_server import TOKEN_ENV, LocalScimServer

    secrets = {
        "HIBOB_SERVICE_USER_TOKEN": "hibob-token-do-not-pass",
        "HITHRIVE_SCIM_TOKEN": "scim-token-do-not-pass",
        "HIBOB_SYNC_SMTP_PASSWORD": "smtp-password-do-not-pass",
        "AWS_SECRET_ACCESS_KEY": "cloud-secret-do-not-pass",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    with LocalScimServer("demo-only-token", tmp_path) as server:
        assert server.proc is not None
        environ = Path(f"/proc/{server.proc.pid}/environ").read_bytes().split(b"\0")
    names = {item.split(b"=", 1)[0].decode() for item in environ if item}
    assert TOKEN_ENV in names and "PATH" in names
    assert not names & set(secrets)
    assert not any(value.encode() in b"\0".join(environ) for value in secrets.values())
