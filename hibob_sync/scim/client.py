"""The SCIM 2.0 client: transport, discovery and reading of HiThrive's users (any RFC 7644
server).

It follows the standard only: features come from the discovery documents and lists are paged
by index. Writes go through scim_writes.ScimWriter, which takes this client. Nothing here
prints, exits or knows about click.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from hibob_sync import bounded
from hibob_sync.errors import (
    HibobSyncError,
    RemoteError,
    ScimError,
)
from hibob_sync.http import BearerAuth, HttpSettings, make_session, redirect_target, send
from hibob_sync.limiter import DEFAULT_CEILING, Limiter, LimiterSettings
from hibob_sync.model import ScimUser
from hibob_sync.safe_text import shown
from hibob_sync.scim.attributes import AttributePath, from_resource, get_ci, placement
from hibob_sync.scim.discovery import (
    ServerFeatures,
    features_from_config,
    required_extensions,
    schema_attributes,
    schema_details,
    service_provider_config,
    user_schemas,
    wrong_scim_url,
)
from hibob_sync.scim.discovery import missing_attributes as _missing_attributes
from hibob_sync.scim.errors import http_error, login_wall, scim_error
from hibob_sync.scim.paging import list_users

__all__ = ["ScimClient", "ScimError", "ServerFeatures", "user_path"]

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/scim+json"
DEFAULT_PAGE_SIZE = 100
MAX_PAGES = 10_000
# Answers meaning "this server does not offer that endpoint or method".
_NOT_OFFERED = frozenset({400, 404, 405, 406, 415, 501})


class ScimClient:
    """One SCIM service provider: transport, discovery and paged listing."""

    def __init__(
        self,
        base_url: str,
        token: str,
        http: HttpSettings,
        attributes: Mapping[str, str] | None = None,
        *,
        extra: tuple[str, ...] = (),
        page_size: int | None = None,
        max_pages: int = MAX_PAGES,
        concurrency: int = DEFAULT_CEILING,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # HiThrive field (SCIM_FIELDS key) or extra attribute -> where it lives.
        self.placement: dict[str, AttributePath] = placement(attributes, extra)
        self.extra = extra
        self.service = f"SCIM server {urlsplit(self.base_url).netloc or self.base_url}"
        self._token = token
        self._http = http
        self._page_size = page_size
        self._max_pages = max_pages
        self._sessions: list[requests.Session] = []
        self._idle: list[requests.Session] = []
        self._lock = threading.Lock()
        self._features: ServerFeatures | None = None
        # Every request waits its turn here; `concurrency` is only the ceiling (see limiter).
        self.limiter = Limiter(LimiterSettings(ceiling=concurrency))
        # A listing keeps each raw resource only where updates are PUTs of the whole resource.
        self.keep_resources: bool | None = None
        self.listed: list[ScimUser] | None = None  # this client's last listing of every user

    def __repr__(self) -> str:
        return f"ScimClient({self.base_url!r}, token=<hidden>)"

    def __enter__(self) -> ScimClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every session this client opened (one per concurrent request at most)."""
        with self._lock:
            sessions, self._sessions, self._idle = self._sessions, [], []
        for session in sessions:
            session.close()

    # -- transport --------------------------------------------------------------------------

    def _checkout(self) -> requests.Session:
        """A session no other thread is using: requests does not promise thread safety."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
        session = make_session(self._http)
        session.auth = BearerAuth(self._token)
        session.headers["Accept"] = MEDIA_TYPE
        with self._lock:
            self._sessions.append(session)
        return session

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
        expect_json: bool = True,
        parse: Callable[[bytes], Any] | None = None,
    ) -> tuple[requests.Response, Any]:
        """Send one request under the shared retry policy; 401/403 and 3xx raise, the rest
        return. A redirect is never followed: for a read it means a wrong URL (78), for a
        write a write that did not happen (a ScimError, that user's failure)."""
        kwargs: dict[str, Any] = {"expect_json": expect_json, "parse": parse}
        if params:
            kwargs["params"] = dict(params)
        if body is not None:
            kwargs["data"] = json.dumps(body).encode()
            kwargs["headers"] = {"Content-Type": MEDIA_TYPE}
        session = self._checkout()
        gate = self.limiter.call(f"{method} {_kind(path, params)}")
        try:
            url = self.base_url + path
            response, payload = send(
                session,
                self._http,
                self.service,
                method,
                url,
                gate=gate,
                setting="hithrive.scim_url",
                limit=_limit(method, path),
                **kwargs,
            )
        finally:
            gate.end()
            with self._lock:
                self._idle.append(session)
        if response.status_code in (401, 403):
            raise self.error(response, payload, what)
        if 300 <= response.status_code < 400:
            raise self.redirected(response, method, path, what)
        return response, payload

    def redirected(
        self, response: requests.Response, method: str, path: str, what: str
    ) -> HibobSyncError:
        """A 3xx answer, never followed (see request)."""
        status = response.status_code
        where = f"a redirect to {redirect_target(response)}, which is never followed"
        if method == "GET":
            return wrong_scim_url(
                self.base_url, f"{what} (GET {path}) answered HTTP {status}, {where}"
            )
        return ScimError(
            f"{self.service}: {what} failed: HTTP {status}, {where}; the write is not done",
            status=status,
            hint="check hithrive.scim_url: a SCIM server answers writes itself",
        )

    def expect(
        self, method: str, path: str, *, what: str, **kwargs: Any
    ) -> tuple[requests.Response, Any]:
        """A request whose refusal raises the tool's error."""
        response, payload = self.request(method, path, what=what, **kwargs)
        if not response.ok:
            raise self.error(response, payload, what)
        return response, payload

    def error(self, response: requests.Response, payload: Any, what: str) -> HibobSyncError:
        """Turn a refusal into the tool's error, keeping the server's SCIM error details.

        A login wall (another app's sign-in page, a Basic challenge) is a wrong
        hithrive.scim_url (78), not a rejected token (77): re-connecting would not help.
        """
        wall = login_wall(response.status_code, response.headers)
        if wall is not None:
            return wrong_scim_url(
                self.base_url,
                f"{what} answered HTTP {response.status_code} and {wall}: the URL may not be "
                "a SCIM endpoint (if it is, its token was refused: `hibob-sync connect`)",
            )
        return http_error(
            self.service, self._token, response.status_code, payload, what, response.reason
        )

    def scim_error(self, status: int | None, payload: Any, what: str) -> ScimError:
        """A ScimError from one /Bulk operation's outcome."""
        return scim_error(self.service, self._token, status, payload, what)

    # -- discovery --------------------------------------------------------------------------

    def discover(self) -> ServerFeatures:
        """What the server supports, read once per client from its discovery endpoints."""
        with self._lock:
            if self._features is not None:
                return self._features
        what = "reading /ServiceProviderConfig"
        response, _ = self.request("GET", "/ServiceProviderConfig", what=what, expect_json=False)
        config: Mapping[str, Any] | None = None
        if response.ok:
            config = service_provider_config(response.content, self.base_url)
        elif response.status_code not in _NOT_OFFERED:
            raise self.error(response, None, what)
        features = features_from_config(config)
        if not features.announced:
            log.warning("%s: no /ServiceProviderConfig; assuming patch, no bulk", self.service)
        schemas = self._optional("/Schemas")
        attributes = schema_attributes(schemas) if schemas is not None else frozenset()
        types = self._optional("/ResourceTypes")
        features = replace(
            features,
            schema_attributes=attributes or None,
            user_schemas=user_schemas(types) if types is not None else None,
            attribute_info=schema_details(schemas) if attributes else None,
            required_extensions=required_extensions(types) if types is not None else frozenset(),
        )
        with self._lock:
            self._features = features
            for key in self.extra:  # extras are written in the type /Schemas declares
                path = self.placement[key]
                info = (features.attribute_info or {}).get(path.full.lower())
                if info is not None:
                    self.placement[key] = replace(
                        path, scim_type=info.type, multi=info.multi_valued
                    )
        return features

    def _optional(self, path: str) -> Any:
        """A discovery document, or None where the server does not offer it."""
        response, payload = self.request("GET", path, what=f"reading {path}")
        if response.ok and payload is not None:
            return payload
        if response.status_code in _NOT_OFFERED or response.ok:
            log.info("%s: %s not offered (HTTP %d)", self.service, path, response.status_code)
            return None
        raise self.error(response, payload, f"reading {path}")

    def missing_attributes(self, features: ServerFeatures | None = None) -> list[tuple[str, str]]:
        """(HiThrive field, SCIM path) for each target attribute the server does not announce."""
        return _missing_attributes(features or self.discover(), self.placement)

    # -- reading ----------------------------------------------------------------------------

    def list_users(self) -> list[ScimUser]:
        """Every user, paged by index, the pages after the first fetched concurrently."""
        count = self._page_size or self.discover().max_results or DEFAULT_PAGE_SIZE
        self.listed = list_users(self, count, self._max_pages)
        return self.listed

    def read_page(self, resources: list[Any], start: int) -> list[ScimUser]:
        """The users of one list answer's resources (starting at index `start`)."""
        keep = self.keep_resources
        if keep is None:
            keep = not self.discover().patch
        users = []
        for offset, resource in enumerate(resources):
            user = (
                from_resource(resource, self.placement, keep=keep)
                if isinstance(resource, Mapping)
                else None
            )
            if user is None:
                log.warning(
                    "%s: skipped a user resource without an id (position %d of the list)",
                    self.service,
                    start + offset,
                )
            else:
                users.append(user)
        return users

    def get(self, user_id: str) -> ScimUser:
        """One user by SCIM id, as the server holds it now."""
        what = f"reading user {shown(user_id)}"
        _, body = self.expect("GET", user_path(user_id), what=what)
        user = from_resource(body, self.placement) if isinstance(body, Mapping) else None
        if user is None:
            raise RemoteError(f"{self.service} answered user {shown(user_id)} without an id")
        if user.id != user_id:
            raise RemoteError(
                f"{self.service} answered user {shown(user_id)} with another user "
                f"({shown(user.id)})"
            )
        return user

    def search_users(self, terms: Sequence[tuple[str, str]]) -> list[ScimUser] | None:
        """The users matching any of (attribute, value) by one filtered request; None where
        the server offers no filter or refuses this one (the caller decides what then)."""
        if not terms or not self.discover().filter:
            return None if terms else []
        wanted = " or ".join(f'{name} eq "{_quoted(value)}"' for name, value in terms)
        response, body = self.request(
            "GET", "/Users", what="searching users", params={"filter": wanted}
        )
        if not response.ok or not isinstance(body, Mapping):
            log.info("%s: filter refused (HTTP %d)", self.service, response.status_code)
            return None
        found = get_ci(body, "Resources") or []
        return self.read_page(found if isinstance(found, list) else [], 1)

    def find_by_user_name(self, user_name: str) -> ScimUser | None:
        """The user whose userName equals `user_name` (case-insensitive): one filtered search,
        then one for the lowercase form, then the listing this client already read.

        RFC 7643 makes userName case-insensitive, but some servers filter case-sensitively.
        Every request counts against a rate limit: a conflict costs these searches, not a
        new listing of every user (one is read only where the server offers no filter and
        none was read yet).
        """
        wanted = user_name.strip().lower()
        if self.discover().filter:
            for value in dict.fromkeys((user_name.strip(), wanted)):
                found = self._search_user_name(value)
                if found is None:
                    break  # the filter was refused: the listing decides
                match = next((u for u in found if u.user_name.strip().lower() == wanted), None)
                if match is not None:
                    return match
            else:
                log.info("%s: the userName filter found nobody; checking the listing", self.service)
        users = self.listed if self.listed is not None else self.list_users()
        return next((u for u in users if u.user_name.strip().lower() == wanted), None)

    def _search_user_name(self, value: str) -> list[ScimUser] | None:
        """The users a `userName eq` filter finds (None: the server refused the filter)."""
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        response, body = self.request(
            "GET", "/Users", what="searching a user", params={"filter": f'userName eq "{quoted}"'}
        )
        if not (response.ok and isinstance(body, Mapping)):
            log.info("%s: filter refused (HTTP %d); listing", self.service, response.status_code)
            return None
        found = get_ci(body, "Resources") or []
        return self.read_page(found if isinstance(found, list) else [], 1)


def _quoted(value: str) -> str:
    return value.strip().replace("\\", "\\\\").replace('"', '\\"')


def user_path(user_id: str) -> str:
    """/Users/{id} with the id URL-encoded: an id is the server's text (``abc#1`` must not
    address /Users/abc)."""
    return "/Users/" + quote(user_id, safe="")


_DISCOVERY = frozenset({"serviceproviderconfig", "schemas", "resourcetypes"})


def _limit(method: str, path: str) -> int:
    """How many decoded bytes an answer may hold (bounded): a list page or a /Bulk answer,
    a discovery document, or one resource."""
    parts = path.strip("/").split("/")
    if parts[0].lower() in _DISCOVERY:
        return bounded.SCIM_DISCOVERY
    if parts[0] == "Bulk" or (parts == ["Users"] and method == "GET"):
        return bounded.SCIM_LIST
    return bounded.SCIM_RESOURCE


def _kind(path: str, params: Mapping[str, str | int] | None) -> str:
    """What a request's latency is compared with: every /Users/{id} alike, a list page, a
    filtered search (one user, much cheaper than a page), /Bulk..."""
    parts = path.strip("/").split("/")
    kind = "/" + parts[0] + ("/{id}" if len(parts) > 1 else "")
    return kind + ("?filter" if params and "filter" in params else "")
