"""Telling connection failures apart: no TLS at all (a wrong URL), an unverifiable
certificate, another handshake failure, or a host name DNS does not resolve."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NameResolutionError

from hibob_sync.config.urls import is_loopback
from hibob_sync.errors import ConfigError, HibobSyncError, ServiceUnavailableError


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


# OpenSSL's words for a plain-text answer where a TLS record should be: an https:// URL
# pointed at an http port (3.2+ says "record layer failure" where 3.0 said wrong version).
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The error and every error under it (causes, contexts, and those in args or reason)."""
    todo, seen = [exc], set()
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None))
        todo += [x for x in (*linked, *current.args) if isinstance(x, BaseException)]


def ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The ssl module's error under requests' and urllib3's wrappers, if there is one."""
    return next((c for c in _chain(exc) if isinstance(c, ssl.SSLError)), None)


def unresolved_host(exc: BaseException) -> str | None:
    """The host DNS could not resolve ("" when unnamed), or None if DNS was not the cause."""
    for cause in _chain(exc):
        if isinstance(cause, NameResolutionError):
            return str(getattr(cause.conn, "host", "") or "")
        if isinstance(cause, socket.gaierror):
            return ""
    return None


def speaks_no_tls(cause: ssl.SSLError | None) -> bool:
    """Whether a TLS handshake failed because the server answered in plain text."""
    if cause is None:
        return False
    words = f"{getattr(cause, 'reason', None) or ''} {cause}".upper().replace(" ", "_")
    return any(word in words for word in _NOT_TLS)


def tls_error(
    exc: requests.exceptions.SSLError, service: str, url: str, setting: str | None
) -> HibobSyncError:
    """A failed TLS handshake, told apart: no TLS at all (a wrong URL, 78), a certificate
    that could not be verified, or another handshake failure (69, as before)."""
    cause = ssl_cause(exc)
    parts = urlsplit(url)
    if speaks_no_tls(cause):
        port = parts.port or 443
        hint = (
            f"the URL should probably start http://{parts.netloc} (plain http is allowed "
            "for loopback hosts, such as a test server)"
            if is_loopback(parts.hostname or "")
            else "check the port in the URL (HTTPS is usually on 443); plain http:// is "
            "allowed for loopback hosts only"
        )
        return ConfigError(
            f"{setting or service}: https://{parts.netloc} does not speak TLS on port {port} "
            "(it answered the TLS handshake in plain text)",
            hint=hint,
        )
    if cause is None or isinstance(cause, ssl.SSLCertVerificationError):
        return ServiceUnavailableError(
            f"{service}: the TLS certificate of {_host(url)} could not be verified",
            hint="if a corporate proxy re-signs TLS, set its CA bundle as ca_bundle in the config",
        )
    why = getattr(cause, "reason", None) or cause
    return ServiceUnavailableError(
        f"{service}: the TLS handshake with {_host(url)} failed ({why})",
        hint="the next run will retry; if this persists, check the URL and the server's TLS set-up",
    )
