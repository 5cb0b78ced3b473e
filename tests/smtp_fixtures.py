"""A real SMTP server on loopback (aiosmtpd), with optional TLS and AUTH, for alert tests.

The TLS material is a throwaway CA and a server certificate for 127.0.0.1 made with the
``cryptography`` package, so clients verify the certificate exactly as in production,
only against a CA file the test trusts.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.tls_material import TlsFiles, make_tls_files

SMTP_USER = "alerts"
SMTP_PASSWORD = "s3cret-Pa55-do-not-leak"


def free_port() -> int:
    """A loopback port nobody listens on (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Recorder:
    """aiosmtpd handler that keeps every accepted message."""

    envelopes: list[Envelope] = field(default_factory=list)
    over_tls: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        transport = server.transport
        self.over_tls.append(bool(transport and transport.get_extra_info("ssl_object")))
        return "250 Message accepted"


@dataclass
class SmtpServer:
    """A running server: where it listens and what it received."""

    host: str
    port: int
    recorder: Recorder
    logins: list[str]

    @property
    def envelopes(self) -> list[Envelope]:
        return self.recorder.envelopes


def _authenticator(logins: list[str]) -> Callable[..., AuthResult]:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        if ok:
            logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    return check


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """Generate a CA and a server certificate for 127.0.0.1 once per test session."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


StartSmtp = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server() -> Iterator[StartSmtp]:
    """Start SMTP servers on loopback; each is stopped when the test ends.

    ``smtp_server()`` is a plain relay. Keywords: ``starttls=TlsFiles`` offers STARTTLS,
    ``implicit_tls=TlsFiles`` speaks TLS from the first byte (port 465 style),
    ``auth=True`` requires AUTH as SMTP_USER / SMTP_PASSWORD (also over plain text).
    """
    controllers: list[Controller] = []

    def start(
        *,
        starttls: TlsFiles | None = None,
        implicit_tls: TlsFiles | None = None,
        auth: bool = False,
    ) -> SmtpServer:
        recorder = Recorder()
        logins: list[str] = []
        options: dict[str, Any] = {}
        if starttls:
            options["tls_context"] = starttls.server_context()
        if implicit_tls:
            options["ssl_context"] = implicit_tls.server_context()
        if auth:
            options.update(
                authenticator=_authenticator(logins), auth_required=True, auth_require_tls=False
            )
        port = free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return SmtpServer("127.0.0.1", port, recorder, logins)

    yield start
    for controller in controllers:
        controller.stop()
