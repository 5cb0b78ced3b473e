"""A real SMTP server on loopback (aiosmtpd), with optional TLS and AUTH, for alert tests.

The TLS material is a throwaway CA and a server certificate for 127.0.0.1 made with the
``cryptography`` package, so clients verify the certificate exactly as in production,
only against a CA file the test trusts.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

SMTP_USER = "alerts"
SMTP_PASSWORD = "s3cret-Pa55-do-not-leak"


def free_port() -> int:
    """A loopback port nobody listens on (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class TlsFiles:
    """A CA to trust and the server certificate and key it signed."""

    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Like ssl.create_default_context(), which production uses, but trusting our CA."""
        return ssl.create_default_context(cafile=str(self.ca))


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
    pytest.importorskip("cryptography", reason="generating a test certificate needs it")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hibob-sync test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


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
