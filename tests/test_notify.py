"""Alert emails and healthcheck pings, against a real SMTP server and HTTP server on loopback."""

from __future__ import annotations

import difflib
import email
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hibob_sync import credentials
from hibob_sync.config.settings import EmailSettings, Settings
from hibob_sync.errors import NotifyError
from hibob_sync.http import HttpSettings
from hibob_sync.notify.alerts import Alert, alert_for, notify, ping, render, send_email
from tests.smtp_fixtures import SMTP_PASSWORD, SMTP_USER, SmtpServer, StartSmtp, TlsFiles, free_port

HOST = "sync-host.test"
NOW = datetime(2024, 5, 6, 2, 30, tzinfo=timezone(timedelta(hours=2)))
# aiosmtpd warns about AUTH without TLS; the tests use it on purpose, on loopback.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

MESSAGE = "65 deactivations planned; sync.max_deactivations allows 10"
COUNTS = {"managed": 650, "to_deactivate": 65, "failed": 0}


def email_settings(server: SmtpServer, **overrides: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "to": ("it@example.com", "ops@example.com"),
        "sender": "hibob-sync@example.com",
        "smtp_host": server.host,
        "smtp_port": server.port,
        "timeout": 5.0,
    }
    values.update(overrides)
    return EmailSettings(**values)


def safeguard_alert() -> Alert:
    alert = alert_for(65, MESSAGE, COUNTS, consecutive_failures=1, alert_after=3)
    assert alert is not None
    return alert


def received(server: SmtpServer) -> EmailMessage:
    assert len(server.envelopes) == 1
    content = server.envelopes[0].content
    assert isinstance(content, bytes)
    parsed = email.message_from_bytes(content, _class=EmailMessage, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# --- policy and content ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "failures", "after", "alerts"),
    [
        (65, 1, 3, True),
        (77, 1, 3, True),
        (69, 1, 3, False),
        (69, 2, 3, False),
        (69, 3, 3, True),
        (69, 4, 3, True),
        (69, 1, 1, True),
        (0, 5, 3, False),
        (1, 5, 3, True),  # exit 1 is new problems only: a repeat exits 0
        (75, 2, 3, False),  # a night whose lock was held, in a row with 69 and 70
        (75, 3, 3, True),
        (70, 2, 3, False),  # a defect: like 69
        (70, 3, 3, True),
        (78, 5, 3, False),
    ],
)
def test_alert_policy(code: int, failures: int, after: int, alerts: bool) -> None:
    alert = alert_for(code, "boom", {}, consecutive_failures=failures, alert_after=after)
    assert (alert is not None) is alerts
    if alert:
        assert alert.exit_code == code
        assert alert.subject.startswith("hibob-sync: ")


@pytest.mark.parametrize(
    ("code", "subject_part", "advice"),
    [
        (
            65,
            "safeguard stopped the sync (action needed)",
            ["hibob-sync plan -o plan.json", "hibob-sync apply plan.json", "fix the data in HiBob"],
        ),
        (
            77,
            "credentials rejected or permission missing",
            ["hibob-sync connect", "grant the HiBob service user the category named above"],
        ),
        (69, "unavailable for 3 runs in a row", ["status pages", "hibob-sync check"]),
    ],
)
def test_each_alert_says_what_to_do(code: int, subject_part: str, advice: list[str]) -> None:
    alert = alert_for(code, "details", {}, consecutive_failures=3, alert_after=3)
    assert alert is not None
    message = render(alert, host=HOST, now=NOW)
    assert subject_part in message["Subject"]
    body = message.get_content()
    words = " ".join(body.split())
    for text in advice:
        assert text in words
    assert "details" in body
    assert f"Exit code: {code}" in body
    assert f"Host: {HOST}" in body
    assert "Time: 2024-05-06T02:30:00+02:00" in body
    assert message["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize("code", [65, 69, 77])
def test_body_is_template_plus_what_the_caller_passed(code: int) -> None:
    """Everything in the body beyond the bare template comes from the message and counts.

    So no personal data can appear unless a caller passes it in.
    """
    kwargs: dict[str, Any] = {"consecutive_failures": 3, "alert_after": 3}
    bare_alert = alert_for(code, "", {}, **kwargs)
    full_alert = alert_for(code, MESSAGE, COUNTS, **kwargs)
    assert bare_alert is not None and full_alert is not None
    bare = render(bare_alert, host=HOST, now=NOW).get_content()
    full = render(full_alert, host=HOST, now=NOW).get_content()

    assert "@" not in bare
    diff = list(difflib.ndiff(bare.splitlines(), full.splitlines()))
    added = {line[2:] for line in diff if line.startswith("+ ") and line[2:].strip()}
    removed = [line[2:] for line in diff if line.startswith("- ")]
    assert added == {MESSAGE, *(f"  {name}: {value}" for name, value in COUNTS.items())}
    assert removed == ["  (none)"]


def test_counts_must_be_numbers() -> None:
    alert = Alert("s", "w", "t", 65, {"names": "Ada Lovelace"})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        render(alert)


# --- SMTP -----------------------------------------------------------------------------------


def test_plain_relay(smtp_server: StartSmtp) -> None:
    server = smtp_server()
    send_email(email_settings(server), render(safeguard_alert()), None)

    envelope = server.envelopes[0]
    assert envelope.mail_from == "hibob-sync@example.com"
    assert envelope.rcpt_tos == ["it@example.com", "ops@example.com"]
    message = received(server)
    assert message["From"] == "hibob-sync@example.com"
    assert message["To"] == "it@example.com, ops@example.com"
    assert message["Subject"] == "hibob-sync: safeguard stopped the sync (action needed)"
    assert MESSAGE in message.get_content()
    assert server.recorder.over_tls == [False]


def test_starttls_verifies_the_certificate(smtp_server: StartSmtp, tls_files: TlsFiles) -> None:
    server = smtp_server(starttls=tls_files)
    settings = email_settings(server, security="starttls")
    send_email(settings, render(safeguard_alert()), None, ssl_context=tls_files.client_context())
    assert server.recorder.over_tls == [True]

    # The default context does not trust the test CA: the same server is refused.
    with pytest.raises(NotifyError, match=r"certificate .* could not be verified"):
        send_email(settings, render(safeguard_alert()), None)
    assert len(server.envelopes) == 1


def test_implicit_tls(smtp_server: StartSmtp, tls_files: TlsFiles) -> None:
    server = smtp_server(implicit_tls=tls_files)
    settings = email_settings(server, security="ssl")
    send_email(settings, render(safeguard_alert()), None, ssl_context=tls_files.client_context())
    assert server.recorder.over_tls == [True]


def test_starttls_not_offered(smtp_server: StartSmtp) -> None:
    server = smtp_server()
    with pytest.raises(NotifyError, match="STARTTLS extension not supported"):
        send_email(email_settings(server, security="starttls"), render(safeguard_alert()), None)
    assert server.envelopes == []


def test_login_with_password_from_env(
    smtp_server: StartSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server(auth=True)
    monkeypatch.setenv("HIBOB_SYNC_SMTP_PASSWORD", SMTP_PASSWORD)
    settings = Settings(path=None, email=email_settings(server, username=SMTP_USER))
    assert notify(settings, safeguard_alert()) is True
    assert server.logins == [SMTP_USER]
    assert len(server.envelopes) == 1


def test_login_with_password_from_keyring(smtp_server: StartSmtp) -> None:
    server = smtp_server(auth=True)
    credentials.store({credentials.SMTP_PASSWORD: SMTP_PASSWORD})
    settings = Settings(path=None, email=email_settings(server, username=SMTP_USER))
    assert notify(settings, safeguard_alert()) is True
    assert server.logins == [SMTP_USER]


@pytest.mark.parametrize("password", ["wrong-Pa55word", "pässwörd-ünicode"])
def test_wrong_password_never_shows(
    smtp_server: StartSmtp,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    password: str,
) -> None:
    server = smtp_server(auth=True)
    settings = email_settings(server, username=SMTP_USER)
    with pytest.raises(NotifyError) as caught:
        send_email(settings, render(safeguard_alert()), password)
    assert password not in str(caught.value)
    # Nothing from the AUTH exchange travels on as a cause or context.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__

    monkeypatch.setenv("HIBOB_SYNC_SMTP_PASSWORD", password)
    with caplog.at_level(logging.WARNING):
        assert notify(Settings(path=None, email=settings), safeguard_alert()) is False
    assert "alert email not sent" in caplog.text
    assert password not in caplog.text
    assert server.envelopes == []


def test_login_rejected_names_the_user(smtp_server: StartSmtp) -> None:
    server = smtp_server(auth=True)
    with pytest.raises(NotifyError, match=f"rejected the login for {SMTP_USER}"):
        send_email(email_settings(server, username=SMTP_USER), render(safeguard_alert()), "x")


def test_missing_password_says_where_to_put_it(
    smtp_server: StartSmtp, caplog: pytest.LogCaptureFixture
) -> None:
    server = smtp_server(auth=True)
    settings = Settings(path=None, email=email_settings(server, username=SMTP_USER))
    with caplog.at_level(logging.WARNING):
        assert notify(settings, safeguard_alert()) is False
    assert "HIBOB_SYNC_SMTP_PASSWORD" in caplog.text
    assert "keyring" in caplog.text


def test_server_down_is_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    settings = EmailSettings(
        to=("it@example.com",), sender="s@example.com", smtp_host="127.0.0.1", smtp_port=port
    )
    with caplog.at_level(logging.WARNING, logger="hibob_sync.notify.alerts"):
        assert notify(Settings(path=None, email=settings), safeguard_alert()) is False
    assert f"could not reach the SMTP server 127.0.0.1:{port}" in caplog.text


def test_no_email_configured() -> None:
    assert notify(Settings(path=None), safeguard_alert()) is False


# --- healthcheck pings ----------------------------------------------------------------------


@dataclass
class PingServer:
    url: str
    hits: list[tuple[str, str, bytes]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def ping_server() -> Iterator[PingServer]:
    """A tiny HTTP server on loopback that records each ping."""
    state = PingServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.hits.append((self.command, self.path, self.rfile.read(length)))
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = do_POST = handle_one

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/ping/0f1e2d3c-uuid"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def quick_http(sleeps: list[float] | None = None) -> HttpSettings:
    """The run's HttpSettings, with retry waits recorded instead of slept."""
    waits = sleeps if sleeps is not None else []
    return HttpSettings(sleep=waits.append)


def test_pings_hit_the_right_paths(ping_server: PingServer) -> None:
    http = quick_http()
    ping(ping_server.url, "start", http)
    ping(ping_server.url, "success", http)
    ping(ping_server.url + "/", "fail", http, message="exit 65")
    assert ping_server.hits == [
        ("GET", "/ping/0f1e2d3c-uuid/start", b""),
        ("GET", "/ping/0f1e2d3c-uuid", b""),
        ("POST", "/ping/0f1e2d3c-uuid/fail", b"exit 65"),
    ]


def test_no_url_no_ping(ping_server: PingServer) -> None:
    ping(None, "start", quick_http())
    ping("", "fail", quick_http())
    assert ping_server.hits == []


def test_ping_answered_with_an_error_is_a_warning(
    ping_server: PingServer, caplog: pytest.LogCaptureFixture
) -> None:
    ping_server.status = 404
    with caplog.at_level(logging.WARNING):
        ping(ping_server.url, "success", quick_http())
    assert "answered HTTP 404" in caplog.text
    assert "0f1e2d3c" not in caplog.text


def test_ping_server_down_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    sleeps: list[float] = []
    url = f"http://127.0.0.1:{free_port()}/ping/0f1e2d3c-uuid"
    with caplog.at_level(logging.WARNING):
        ping(url, "fail", quick_http(sleeps), message="exit 69")
    assert len(sleeps) == 1  # two attempts, then give up
    assert "healthcheck fail ping to 127.0.0.1 failed" in caplog.text
    assert "0f1e2d3c" not in caplog.text


def test_ping_retried_once_on_a_server_error(
    ping_server: PingServer, caplog: pytest.LogCaptureFixture
) -> None:
    ping_server.status = 503
    sleeps: list[float] = []
    with caplog.at_level(logging.WARNING):
        ping(ping_server.url, "start", quick_http(sleeps))
    assert [path for _, path, _ in ping_server.hits] == ["/ping/0f1e2d3c-uuid/start"] * 2
    assert len(sleeps) == 1 and sleeps[0] <= 2.0
    assert "healthcheck start ping to 127.0.0.1 failed" in caplog.text
    assert "0f1e2d3c" not in caplog.text
