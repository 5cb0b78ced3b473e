"""TLS is always verified: a self-signed HTTPS server on 127.0.0.1 is refused (exit 69, a
message about the certificate and ca_bundle) unless ca_bundle points at its CA, and no
config key turns verification off. Plain http stays allowed for loopback only.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hibob_sync.http import speaks_no_tls
from tests.reliability_helpers import scim_writes
from tests.sync_fixtures import SyncEnv
from tests.tls_material import TlsFiles, make_tls_files

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


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

    def __init__(self, upstream_port: int, pki: TlsFiles) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream_port = upstream_port
        self.handshakes_failed = 0
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.cert, pki.key)
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
    pki = make_tls_files(tmp_path)
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
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(make_tls_files(other).ca))
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
    ca_line = f"  ca_bundle: {tls_front.pki.ca}"
    secured[side] = [*secured[side], ca_line]
    write_config(sync_env, secured["hibob"], secured["hithrive"])
    result = sync_env.run()
    assert result.exit_code == 1, result.output  # the sandbox's planted bad records
    assert len(sync_env.users()) > 10


@pytest.mark.parametrize("side", ["hibob", "hithrive"])
def test_https_to_a_plain_http_port_says_the_server_does_not_speak_tls(
    sync_env: SyncEnv, side: str
) -> None:
    # https:// in front of a plain-http loopback server: OpenSSL sees an HTTP answer where
    # a TLS record should be (WRONG_VERSION_NUMBER; "record layer failure" in OpenSSL 3.2+).
    # That is a wrong URL, not a certificate problem and not an outage: 78, no retries.
    upstream = urlsplit(sync_env.sandbox.url if side == "hibob" else sync_env.scim.url)
    wrong = f"https://{upstream.netloc}{upstream.path}"
    key = "hibob.base_url" if side == "hibob" else "hithrive.scim_url"
    urls = {
        "hibob": f"  base_url: {sync_env.sandbox.url}",
        "hithrive": f"  scim_url: {sync_env.scim.url}",
    }
    urls[side] = f"  {key.split('.')[1]}: {wrong}"
    write_config(sync_env, [urls["hibob"]], [urls["hithrive"]])

    for command in ("run", "check"):
        result = sync_env.cli(command)
        assert result.exit_code == 78, result.output
        assert "Traceback" not in result.output
        output = result.messages + result.stdout
        assert f"{key}: https://{upstream.netloc} does not speak TLS on port {upstream.port}" in (
            output
        )
        assert f"http://{upstream.netloc}" in output  # the URL it probably should be
        assert "certificate" not in output
    assert len(sync_env.clock.sleeps) == 0  # not retried: the next attempt cannot differ
    assert scim_writes(sync_env) == []


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


@pytest.mark.parametrize(
    ("text", "no_tls"),
    [
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", True),  # OpenSSL 3.0
        ("[SSL: RECORD_LAYER_FAILURE] record layer failure (_ssl.c:1000)", True),  # 3.2+
        ("[SSL] record layer failure (_ssl.c:1000)", True),  # 3.2+, reason code not mapped
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", False),
        ("[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version", False),
        ("[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol", False),
    ],
)
def test_which_handshake_failures_mean_no_tls(text: str, no_tls: bool) -> None:
    # The words differ by OpenSSL version; only this machine's one is met end to end above.
    assert speaks_no_tls(ssl.SSLError(1, text)) is no_tls
