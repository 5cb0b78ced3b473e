"""How SCIM refusals become the tool's errors (RFC 7644 §3.12), without leaking the token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hibob_sync.credentials import SCIM_TOKEN, replace_hint
from hibob_sync.errors import (
    CredentialsError,
    HibobSyncError,
    PermissionMissingError,
    ScimError,
)
from hibob_sync.safe_text import shown
from hibob_sync.scim.attributes import get_ci
from hibob_sync.scim.discovery import as_status

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_DETAIL = 300


def http_error(
    service: str, secret: str, status: int, payload: Any, what: str, reason: str | None = None
) -> HibobSyncError:
    """401 and 403 mean re-connect or grant access (exit 77); anything else is a ScimError."""
    if status == 401:
        return CredentialsError(
            f"the SCIM server rejected the token ({service}, {what})",
            hint=replace_hint(SCIM_TOKEN, "a valid HiThrive SCIM token"),
        )
    if status == 403:
        return PermissionMissingError(
            f"the SCIM server refused {what}: the token lacks the permission ({service})",
            hint="ask the HiThrive admin for a SCIM token that may read and write users",
        )
    return scim_error(service, secret, status, payload, what, fallback=reason)


def login_wall(status: int, headers: Mapping[str, str]) -> str | None:
    """How a 401/403 shows it came from something other than a SCIM endpoint, or None.

    A SCIM server refuses a bad bearer token with a SCIM error (or nothing); a web app's
    login page or an API wanting Basic or Negotiate is another server at the configured
    URL, and a new token would not help.
    """
    if status not in (401, 403):
        return None
    challenge = headers.get("WWW-Authenticate", "").strip()
    if challenge and "bearer" not in challenge.lower():
        scheme = challenge.split(None, 1)[0].rstrip(",")
        return f"asks for {scheme} authentication, not a SCIM bearer token"
    media = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media in ("text/html", "application/xhtml+xml"):
        return "with a web page (a login page?), not a SCIM error"
    return None


def scim_error(
    service: str,
    secret: str,
    status: int | None,
    payload: Any,
    what: str,
    *,
    fallback: str | None = None,
) -> ScimError:
    """A ScimError from an Error body (a whole answer, or one /Bulk operation's response)."""
    scim_type = detail = None
    if isinstance(payload, Mapping):
        scim_type = scrub(_text(get_ci(payload, "scimType")), secret)
        detail = _text(get_ci(payload, "detail"))
        status = as_status(get_ci(payload, "status")) or status
    detail = scrub(detail or fallback, secret)
    message = f"{service}: {what} failed (HTTP {status}"
    message += f", {scim_type})" if scim_type else ")"
    if detail:
        message += f": {detail}"
    return ScimError(message, status=status, scim_type=scim_type, detail=detail)


def scrub(text: str | None, secret: str) -> str | None:
    """Never echo the token, keep a server's long answer short, and on one line: its text is
    untrusted like HR text (a line break in it would forge a log line)."""
    if not text:
        return None
    if secret:
        text = text.replace(secret, "<hidden>")
    text = text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "…"
    return shown(text)


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
