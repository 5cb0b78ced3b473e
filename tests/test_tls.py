"""TLS is always verified: a self-signed HTTPS server on 127.0.0.1 is refused (exit 69, a
message about the certificate and ca_bundle) unless ca_bundle points at its CA, and no
config key turns verification off. Plain http stays allowed for loopback only.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.reliability_helpers import scim_writes
from tests.sync_fixtures import SyncEnv

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


@dataclass
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_pki(folder: Path) -> Pki:
    """A throwaway CA, and a server certificate it signed for 127.0.0.1."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hibob-sync test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
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
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


class _Forward(BaseHTTPRequestHandler):
    """Pass each request on to the plain-http server behind, and its answer back."""

    protocol_version = "HTTP/1.1"
    server: _TlsFront

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(self.command, self.path, body, headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in _HOP_BY_HOP and key.lower() not in ("date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _TlsFront(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int, pki: Pki) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream_port = upstream_port
        self.handshakes_failed = 0
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.cert_file, pki.key_file)
        self.socket = context.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A refused handshake is expected here; nothing to print."""

    def get_request(self) -> tuple[Any, Any]:
        try:
            return super().get_request()
        except ssl.SSLError:
            self.handshakes_failed += 1
            raise


@pytest.fixture
def tls_front(tmp_path: Path) -> Iterator[Any]:
    """Start an HTTPS front for a loopback URL: ``front(url) -> (https_url, server)``."""
    pki = make_pki(tmp_path)
    servers: list[_TlsFront] = []

    def start(url: str) -> tuple[str, _TlsFront]:
        parts = urlsplit(url)
        assert parts.port is not None
        server = _TlsFront(parts.port, pki)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        servers.append(server)
        return f"https://127.0.0.1:{server.server_address[1]}{parts.path}", server

    start.pki = pki  # type: ignore[attr-defined]
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def write_config(env: SyncEnv, hibob: list[str], hithrive: list[str]) -> None:
    lines = ["hibob:", *hibob, "hithrive:", *hithrive]
    lines += ["mapping_file: mapping.yaml", "sync:", "  state_path: state/state.db"]
    env.config.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("side", ["hibob", "hithrive"])
def test_self_signed_https_is_refused_unless_its_ca_is_given(
    sync_env: SyncEnv,
    tls_front: Any,
    side: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # requests reads these; point them at an unrelated CA, as a host's own set-up might.
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(make_pki(other).ca_file))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other / "ca.pem"))
    upstream = sync_env.sandbox.url if side == "hibob" else sync_env.scim.url
    https_url, front = tls_front(upstream)
    key = "base_url" if side == "hibob" else "scim_url"
    plain = {
        "hibob": [f"  base_url: {sync_env.sandbox.url}"],
        "hithrive": [f"  scim_url: {sync_env.scim.url}"],
    }
    secured = dict(plain, **{side: [f"  {key}: {https_url}"]})
    write_config(sync_env, secured["hibob"], secured["hithrive"])

    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert "Traceback" not in result.output
    assert "TLS certificate of 127.0.0.1" in result.stderr
    assert "could not be verified" in result.stderr and "ca_bundle" in result.stderr
    assert front.handshakes_failed >= 1
    assert len(sync_env.clock.sleeps) == 0  # a certificate problem is not retried
    assert scim_writes(sync_env) == []
    if side == "hibob":
        assert sync_env.sandbox.request_count() == 0  # nothing was sent before the check

    # With the CA named in the config, the same server is trusted (whatever the env says).
    ca_line = f"  ca_bundle: {tls_front.pki.ca_file}"
    secured[side] = [*secured[side], ca_line]
    write_config(sync_env, secured["hibob"], secured["hithrive"])
    result = sync_env.run()
    assert result.exit_code == 1, result.output  # the sandbox's planted bad records
    assert len(sync_env.users()) > 10


@pytest.mark.parametrize(
    "line",
    [
        "  verify: false",
        "  verify_tls: false",
        "  insecure: true",
        "  ca_bundle: false",
    ],
)
def test_no_config_key_turns_verification_off(sync_env: SyncEnv, line: str) -> None:
    write_config(sync_env, [f"  base_url: {sync_env.sandbox.url}", line], [])
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    assert "hibob." in result.stderr and str(sync_env.config) in result.stderr
    assert sync_env.sandbox.request_count() == 0


def test_plain_http_only_for_loopback(sync_env: SyncEnv) -> None:
    write_config(sync_env, ["  base_url: http://hibob.example.com/v1"], [])
    result = sync_env.run()
    assert result.exit_code == 78
    assert "hibob.base_url" in result.stderr and "must use https://" in result.stderr
