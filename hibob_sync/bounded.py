"""Limits on what a server may send: an answer's size after decoding, its nesting, its time.

The tool reads answers from servers it does not control. A 1 MB gzip body can inflate to
1 GiB, a chunked answer can go on for ever, and JSON nested thousands of levels deep makes
``json`` raise RecursionError and a streaming parser use memory growing with the square of
the depth. So every answer is read in chunks, counting decoded bytes against a limit set
for its endpoint (generous for HiBob's one big answer, tight for SCIM discovery), and its
nesting is measured on a stripped copy before any parser sees it. The whole exchange, from
sending to the last byte, runs within a deadline (hibob_sync.deadline).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests

from hibob_sync.deadline import DeadlinePassed, deadline
from hibob_sync.errors import RemoteError

KIB = 1024
MIB = 1024 * KIB

# Decoded bytes allowed per answer, by endpoint.
HIBOB_SEARCH = 128 * MIB  # every employee in one answer (no paging): about 50,000 or more
HIBOB_CATALOGUE = 16 * MIB  # the field catalogue: a few thousand fields
SCIM_LIST = 32 * MIB  # a page of users, a filtered search, a /Bulk answer
SCIM_DISCOVERY = 2 * MIB  # /ServiceProviderConfig, /Schemas, /ResourceTypes
SCIM_RESOURCE = 1 * MIB  # one user, the answer to one write
SMALL = 64 * KIB  # a healthcheck ping's answer
DEFAULT = 1 * MIB

# Never accepted deeper (HiBob employees and SCIM schemas nest about 6): shallow enough that
# nothing recursing over a value can run out of stack. Anything up to half of it is accepted.
MAX_DEPTH = 64

CHUNK = 32 * KIB  # compressed bytes read at a time: what one read may inflate is bounded

# Stripping strings keeps quotes, brackets and every character that may follow a backslash
# in a JSON string, so each escape is still a pair that can be dropped; then only quotes
# and brackets; then only the brackets outside strings.
_ESCAPABLE = bytes(c for c in range(256) if c not in b'\\"/bfnrtu[]{}')
_QUOTES_AND_BRACKETS = bytes(c for c in range(256) if c not in b'"[]{}')
_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


class AnswerTooLarge(RemoteError):
    """An answer past its endpoint's limit: not read further, and not retried (a retry would
    read the same flood again)."""


class BrokenAnswer(ValueError):
    """A 2xx answer that cannot be what it claims (truncated, malformed, nested too deep):
    retried like a cut-off answer, then reported as the service being unavailable."""


class TooDeep(BrokenAnswer):
    """JSON nested deeper than any answer the tool reads."""


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB else f"{limit // KIB} KiB"


def read_body(response: requests.Response, limit: int, what: str) -> bytes:
    """The decoded body of a streamed response, or AnswerTooLarge once past ``limit``."""
    declared = response.headers.get("Content-Length", "")
    too_large = AnswerTooLarge(
        f"{what}: the answer is larger than {_size(limit)} after decoding; it was not read further",
        status=response.status_code,
        hint="an answer this large is not one the tool expects: check the URL and the server",
    )
    if declared.strip().isdigit() and int(declared) > limit:
        response.close()
        raise too_large
    buffer = bytearray()
    try:
        for chunk in response.iter_content(CHUNK):
            buffer += chunk
            if len(buffer) > limit:
                raise too_large
    finally:
        response.close()
    return bytes(buffer)


def exchange(
    session: requests.Session,
    method: str,
    url: str,
    seconds: float,
    limit: int,
    service: str,
    **kwargs: Any,
) -> requests.Response:
    """Send one request and read its whole answer within ``seconds`` and ``limit`` bytes.

    The response comes back read (``.content`` holds the body) and its connection released.
    Raises DeadlinePassed when the deadline cut it short, AnswerTooLarge past the limit.
    """
    what = f"{service} ({method} {urlsplit(url).path})"
    with deadline(seconds) as watch:
        try:
            response = session.request(method, url, stream=True, **kwargs)
            content = read_body(response, limit, what)
        except AnswerTooLarge:
            raise
        except Exception as exc:
            if watch.expired:  # whatever the cut looked like to requests (EOF, TLS, reset)
                raise DeadlinePassed(seconds) from exc
            raise
        if watch.expired:  # cut while reading headers, http.client may see a short answer
            raise DeadlinePassed(seconds)
    response._content = content
    response._content_consumed = True  # type: ignore[attr-defined]
    return response


def structure(content: bytes) -> bytes:
    """Only the brackets of a JSON text that are outside strings (a sketch of its nesting)."""
    kept = content.translate(None, _ESCAPABLE)
    if b"\\" in kept:
        kept = kept.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Two quotes side by side end one string and start the next, or make an empty one:
    # dropping them keeps every bracket on its side. What is left alternates in and out.
    kept = kept.translate(None, _QUOTES_AND_BRACKETS).replace(b'""', b"")
    if b'"' in kept:
        kept = b"".join(kept.split(b'"')[::2])
    return kept.translate(None, _BRACKETS)


def too_deep(content: bytes, limit: int = MAX_DEPTH) -> bool:
    """True for every JSON text nested deeper than ``limit``, False for every one at most half
    as deep. Raises BrokenAnswer when its brackets do not pair up (cut off or malformed).

    Each pass drops the innermost pairs, one or two levels (``[]`` then ``{}``): quick at
    the few levels real answers have, and bounded for a hostile one.
    """
    brackets = structure(content)
    for _ in range(limit // 2):
        if not brackets:
            return False
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(brackets):
            raise BrokenAnswer("its brackets do not pair up, as if cut off")
        brackets = shorter
    return bool(brackets)


def load_json(content: bytes, cap: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted bytes: BrokenAnswer (never RecursionError) when nested
    deeper than ``cap`` or not JSON at all."""
    if too_deep(content, cap):
        raise TooDeep(f"it is nested more than {cap} levels deep")
    try:
        return json.loads(content)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise TooDeep(f"it is nested more than {cap} levels deep") from None
    except ValueError:  # UnicodeDecodeError included
        raise BrokenAnswer("it is not valid JSON") from None
