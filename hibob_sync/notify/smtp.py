"""Sending one email through the configured SMTP server (also what `check` tries).

Apart from the alerts so each stays readable: every SMTP and TLS failure here becomes a
NotifyError saying what to fix, and no AUTH exchange travels on in one.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Iterator
from email.message import EmailMessage

from hibob_sync.config.settings import EmailSettings
from hibob_sync.credentials import SMTP_PASSWORD
from hibob_sync.errors import NotifyError

PASSWORD_HINT = (
    f"set {SMTP_PASSWORD.env}, or store it in the keyring "
    f"(`keyring set hibob-sync {SMTP_PASSWORD.key}`)"
)


def send_email(
    settings: EmailSettings,
    message: EmailMessage,
    password: str | None,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Send one email as configured; every failure is a NotifyError saying what to fix.

    ``ssl_context`` defaults to one that verifies certificates against the system CAs;
    tests pass their own to trust a throwaway CA. From/To are filled in when missing.
    """
    if "From" not in message:
        message["From"] = settings.sender
    if "To" not in message:
        message["To"] = ", ".join(settings.to)
    with smtp_session(settings, password, ssl_context=ssl_context) as client:
        client.send_message(message, from_addr=settings.sender, to_addrs=list(settings.to))


@contextlib.contextmanager
def smtp_session(
    settings: EmailSettings, password: str | None, *, ssl_context: ssl.SSLContext | None = None
) -> Iterator[smtplib.SMTP]:
    """A connected, TLS-wrapped and logged-in SMTP session as configured (`check` sends
    nothing through it); every failure inside is a NotifyError saying what to fix."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if settings.username and password is None:
        raise NotifyError(
            f"the SMTP server {where} needs a password for {settings.username}",
            hint=PASSWORD_HINT,
        )
    if settings.username and password is not None and not (settings.username + password).isascii():
        # smtplib would fail mid-AUTH with an error that quotes the password.
        raise NotifyError(
            f"the SMTP username or password for {where} has characters SMTP AUTH cannot send",
            hint="use an ASCII-only username and password",
        )
    context = ssl_context or ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout)
        with client:
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.username and password is not None:
                client.login(settings.username, password)
            yield client
    # Auth errors are re-raised "from None": nothing from the AUTH exchange travels on.
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(
            f"the SMTP server {where} rejected the login for {settings.username} "
            f"(SMTP {exc.smtp_code})",
            hint=f"check notify.email.username and the password; {PASSWORD_HINT}",
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise NotifyError(
            f"the SMTP server {where} lacks what the settings need ({str(exc).rstrip('.')})",
            hint="change notify.email.security or ask the mail admin",
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotifyError(
            f"the SMTP server {where} refused all {len(exc.recipients)} recipients",
            hint="check notify.email.to; the server may need a login to relay",
        ) from exc
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        reply = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        raise NotifyError(
            f"the SMTP server {where} answered {exc.smtp_code} {reply}".rstrip(),
            hint="check notify.email.from, .username and .security",
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise NotifyError(
            f"the TLS certificate of the SMTP server {where} could not be verified "
            f"({exc.verify_message})",
            hint="check notify.email.smtp_host matches the server's certificate",
        ) from exc
    except ssl.SSLError as exc:
        raise NotifyError(
            f"TLS with the SMTP server {where} failed ({exc.reason or type(exc).__name__})",
            hint="notify.email.security is `ssl` for port 465, `starttls` for 587",
        ) from exc
    except smtplib.SMTPException as exc:
        raise NotifyError(f"sending email through {where} failed ({exc})") from exc
    except OSError as exc:
        raise NotifyError(
            f"could not reach the SMTP server {where} ({exc.strerror or type(exc).__name__})",
            hint="check notify.email.smtp_host and smtp_port, and that the server is running",
        ) from exc
