r"""The URLs of config.yaml, read the way the connection will read them.

urlsplit and urllib3 disagree on some URLs: in ``http://127.0.0.2:1\@127.0.0.1/`` urlsplit
sees the loopback host 127.0.0.1 while urllib3 connects to 127.0.0.2, so a check on one and a
connection by the other lets a plain-http URL to any host pass as loopback. A URL is parsed
with urllib3's ``parse_url`` (what requests connects to), and the forms on which parsers
differ (a backslash, userinfo) are refused outright.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: the only hosts allowed plain http."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def masked(value: str) -> str:
    """A URL as an error may quote it: any user name and password before an @ hidden."""
    head, sep, rest = value.partition("//")
    authority = rest.split("/", 1)[0]
    if not sep or "@" not in authority:
        return value
    return f"{head}//***@{rest.split('@', 1)[1]}"


def url_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable service URL, or None when it is."""
    if "\\" in value:
        return "holds a backslash, which HTTP libraries read in different ways"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return "holds a space or a control character"
    try:
        parsed = parse_url(value)
        split = urlsplit(value)
    except (LocationParseError, ValueError):
        return "is not a URL"
    if parsed.scheme not in ("https", "http") or not parsed.host:
        return "is not an https:// URL"
    if parsed.auth is not None or "@" in split.netloc:
        return "holds a user name or password (user@host); credentials go in the keyring"
    host = parsed.host.strip("[]").lower()
    if host != (split.hostname or "").lower():
        return "names its host in a way HTTP libraries read differently"
    if parsed.scheme == "http" and not is_loopback(host):
        return "must use https:// (plain http is allowed only for loopback hosts)"
    return None
