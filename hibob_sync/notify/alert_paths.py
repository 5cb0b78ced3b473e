"""Alert paths known to work: `check` tries each configured one without sending anything.

An alert that fails on the night it is needed is found out only by its absence. So `check`
connects to the SMTP server as a real alert would (TLS, login) and stops before MAIL FROM,
and reaches the healthcheck URL's host over TLS without requesting the URL (a request
would count as a ping). `check --send-test-email` sends one real message on request.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from hibob_sync.config.settings import EmailSettings, Settings
from hibob_sync.credentials import SMTP_PASSWORD, lookup
from hibob_sync.errors import ConfigError, NotifyError
from hibob_sync.http import speaks_no_tls
from hibob_sync.notify.smtp import send_email, smtp_session

_TIMEOUT = 10.0


def _password(settings: EmailSettings) -> str | None:
    return lookup(SMTP_PASSWORD) if settings.username else None


def probe_email(settings: EmailSettings) -> str:
    """Connect, TLS and log in as an alert would, then quit; what worked. Sends nothing."""
    with smtp_session(settings, _password(settings)) as client:
        client.noop()
    steps = [f"SMTP {settings.smtp_host}:{settings.smtp_port}"]
    if settings.security != "none":
        steps.append("TLS" if settings.security == "ssl" else "STARTTLS")
    if settings.username:
        steps.append(f"login as {settings.username}")
    return ", ".join(steps)


def send_test_email(settings: EmailSettings, *, host: str | None = None) -> str:
    """Send one test message to notify.email.to; who got it."""
    message = EmailMessage()
    message["Subject"] = "hibob-sync: test message"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "This is a test from `hibob-sync check --send-test-email` on "
        f"{host or socket.gethostname()} at {datetime.now().astimezone().isoformat()}.\n"
        "Alerts from hibob-sync reach this address. Nothing else is needed.\n"
    )
    send_email(settings, message, _password(settings))
    return ", ".join(settings.to)


def probe_healthcheck(url: str) -> str:
    """Reach the healthcheck URL's host (over TLS for https) without requesting the URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=_TIMEOUT) as sock:
            if parts.scheme == "https":
                context = ssl.create_default_context()
                with context.wrap_socket(sock, server_hostname=host):
                    return f"{host}:{port} reachable over TLS (certificate verified)"
            return f"{host}:{port} reachable"
    except ssl.SSLCertVerificationError as exc:
        raise NotifyError(
            f"the TLS certificate of the healthcheck host {host} could not be verified "
            f"({exc.verify_message})",
            hint="check notify.healthcheck_url",
        ) from None
    except ssl.SSLError as exc:
        if not speaks_no_tls(exc):
            raise _unreachable(host, port, exc) from None
        raise NotifyError(
            f"the healthcheck host {host}:{port} does not speak TLS (it answered the TLS "
            "handshake in plain text)",
            hint="check notify.healthcheck_url: http:// for a plain-http host (loopback only), "
            "or the port",
        ) from None
    except OSError as exc:
        raise _unreachable(host, port, exc) from None


def _unreachable(host: str, port: int, exc: OSError) -> NotifyError:
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return NotifyError(
        f"could not reach the healthcheck host {host}:{port} ({reason})",
        hint="check notify.healthcheck_url and this host's network access to it",
    )


def probe_metrics_folder(path: Path) -> str:
    """Make and remove a temp file beside notify.metrics_file, as a run's atomic write does.

    Never the metrics file itself: monitoring would read it as a run that never happened.
    """
    folder = path.parent
    if path.is_dir():
        raise ConfigError(f"notify.metrics_file: {path} is a folder; name a file in it")
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ConfigError(
            f"notify.metrics_file: the folder {folder} {what}",
            hint="create it (the textfile collector's folder), or point the key elsewhere",
        )
    try:
        fd, temp = tempfile.mkstemp(prefix=".hibob-sync-check.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ConfigError(
            f"notify.metrics_file: cannot write in {folder} ({exc.strerror})",
            hint="give the user that runs hibob-sync write access to the folder",
        ) from None
    os.close(fd)
    os.unlink(temp)
    return f"{folder} is writable (tried with a temp file, no metrics written)"


def configured(settings: Settings) -> bool:
    """Whether any alert path is set up at all."""
    return settings.email is not None or bool(settings.healthcheck_url)
