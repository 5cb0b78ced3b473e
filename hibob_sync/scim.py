"""The SCIM 2.0 client that reads and writes HiThrive's users (or any RFC 7644 server).

It follows the standard only: features come from the discovery documents, lists are paged by
index, updates are PatchOps (or PUTs where patch is not offered), and many writes go through
/Bulk only where the server announces it. Nothing here prints, exits or knows about click.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import requests

from hibob_sync.errors import (
    HibobSyncError,
    RemoteError,
)
from hibob_sync.http import HttpSettings, make_session, send
from hibob_sync.model import ScimUser, Value
from hibob_sync.scim_attributes import (
    AttributePath,
    apply_changes,
    from_resource,
    get_ci,
    new_resource,
    normalise_values,
    patch_body,
    placement,
    updated_user,
)
from hibob_sync.scim_discovery import (
    ServerFeatures,
    as_count,
    features_from_config,
    schema_attributes,
    user_schemas,
)
from hibob_sync.scim_discovery import missing_attributes as _missing_attributes
from hibob_sync.scim_errors import ScimError, http_error, scim_error
from hibob_sync.scim_writes import BulkWriter, ScimWrite, WriteResult

__all__ = ["ScimClient", "ScimError", "ScimWrite", "ServerFeatures", "WriteResult"]

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/scim+json"
DEFAULT_PAGE_SIZE = 100
MAX_PAGES = 10_000
# Answers meaning "this server does not offer that endpoint or method".
_NOT_OFFERED = frozenset({400, 404, 405, 406, 415, 501})


class ScimClient:
    """One SCIM service provider: discovery, paged listing and user writes."""

    def __init__(
        self,
        base_url: str,
        token: str,
        http: HttpSettings,
        attributes: Mapping[str, str] | None = None,
        *,
        page_size: int | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.placement: dict[str, AttributePath] = placement(attributes)
        self.service = f"SCIM server {urlsplit(self.base_url).netloc or self.base_url}"
        self._token = token
        self._http = http
        self._page_size = page_size
        self._max_pages = max_pages
        self._sessions: list[requests.Session] = []
        self._idle: list[requests.Session] = []
        self._lock = threading.Lock()
        self._features: ServerFeatures | None = None

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
        session.headers["Authorization"] = f"Bearer {self._token}"
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
    ) -> tuple[requests.Response, Any]:
        """Send one request under the shared retry policy; 401/403 raise, the rest return."""
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = dict(params)
        if body is not None:
            kwargs["data"] = json.dumps(body).encode()
            kwargs["headers"] = {"Content-Type": MEDIA_TYPE}
        session = self._checkout()
        try:
            url = self.base_url + path
            response, payload = send(session, self._http, self.service, method, url, **kwargs)
        finally:
            with self._lock:
                self._idle.append(session)
        if response.status_code in (401, 403):
            raise self.error(response, payload, what)
        return response, payload

    def _expect(
        self, method: str, path: str, *, what: str, **kwargs: Any
    ) -> tuple[requests.Response, Any]:
        response, payload = self.request(method, path, what=what, **kwargs)
        if not response.ok:
            raise self.error(response, payload, what)
        return response, payload

    def error(self, response: requests.Response, payload: Any, what: str) -> HibobSyncError:
        """Turn a refusal into the tool's error, keeping the server's SCIM error details."""
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
        config = self._optional("/ServiceProviderConfig")
        features = features_from_config(config if isinstance(config, Mapping) else None)
        if not features.announced:
            log.warning("%s: no /ServiceProviderConfig; assuming patch, no bulk", self.service)
        schemas = self._optional("/Schemas")
        attributes = schema_attributes(schemas) if schemas is not None else frozenset()
        types = self._optional("/ResourceTypes")
        features = replace(
            features,
            schema_attributes=attributes or None,
            user_schemas=user_schemas(types) if types is not None else None,
        )
        with self._lock:
            self._features = features
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
        """Every user, paged by index; bounded so a server that never ends cannot hang a run."""
        count = self._page_size or self.discover().max_results or DEFAULT_PAGE_SIZE
        users: dict[str, ScimUser] = {}
        start = 1
        for _ in range(self._max_pages):
            _, body = self._expect(
                "GET", "/Users", what="listing users", params={"startIndex": start, "count": count}
            )
            resources = get_ci(body, "Resources") if isinstance(body, Mapping) else None
            if not isinstance(resources, list) or not resources:
                return list(users.values())
            page = self._read_page(resources, start)
            if page and all(user.id in users for user in page):
                raise RemoteError(
                    f"{self.service} returned the same users again at startIndex={start}; "
                    "it seems to ignore index paging, so the user list would be incomplete"
                )
            for user in page:
                users.setdefault(user.id, user)
            start += len(resources)
            total = as_count(get_ci(body, "totalResults"))
            if total is not None and start > total:
                return list(users.values())
        raise RemoteError(
            f"{self.service}: listing users did not end after {self._max_pages} pages"
        )

    def _read_page(self, resources: list[Any], start: int) -> list[ScimUser]:
        # Raw resources are kept only where updates are PUTs of the whole resource.
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
        _, body = self._expect("GET", f"/Users/{user_id}", what=f"reading user {user_id}")
        user = from_resource(body, self.placement) if isinstance(body, Mapping) else None
        if user is None:
            raise RemoteError(f"{self.service} answered user {user_id} without an id")
        return user

    def find_by_user_name(self, user_name: str) -> ScimUser | None:
        """The user whose userName equals `user_name` (case-insensitive), by filter if offered."""
        wanted = user_name.strip().lower()
        if self.discover().filter:
            quoted = user_name.strip().replace("\\", "\\\\").replace('"', '\\"')
            response, body = self.request(
                "GET",
                "/Users",
                what="searching a user",
                params={"filter": f'userName eq "{quoted}"'},
            )
            if response.ok and isinstance(body, Mapping):
                found = get_ci(body, "Resources") or []
                for user in self._read_page(found if isinstance(found, list) else [], 1):
                    if user.user_name.strip().lower() == wanted:
                        return user
                return None
            log.info("%s: filter refused (HTTP %d); listing", self.service, response.status_code)
        return next((u for u in self.list_users() if u.user_name.strip().lower() == wanted), None)

    # -- writing ----------------------------------------------------------------------------

    def create(
        self, values: Mapping[str, Value], external_id: str, active: bool = True
    ) -> ScimUser:
        """POST a new user; a 409 on its userName adopts the user if it is ours or unowned."""
        clean = normalise_values(values)
        body = new_resource(clean, external_id, active, self.placement)
        response, payload = self.request("POST", "/Users", what="creating a user", body=body)
        if response.ok:
            return self.created(payload, response.headers.get("Location"), body)
        error = self.error(response, payload, "creating a user")
        if response.status_code == 409:
            return self.resolve_conflict(clean, external_id, active, error)
        raise error

    def created(self, payload: Any, location: str | None, body: Mapping[str, Any]) -> ScimUser:
        """The new user from the server's answer, or from what was sent plus its Location."""
        if isinstance(payload, Mapping) and payload.get("id"):
            user = from_resource(payload, self.placement)
        else:
            user_id = (location or "").rstrip("/").rsplit("/", 1)[-1]
            user = from_resource({**body, "id": user_id}, self.placement) if location else None
        if user is None:
            raise RemoteError(f"{self.service} created a user but did not say its id")
        return user

    def resolve_conflict(
        self, values: dict[str, Value], external_id: str, active: bool, error: HibobSyncError
    ) -> ScimUser:
        """After 409 (e.g. a retried POST whose first answer was lost), adopt, never duplicate."""
        existing = self.find_by_user_name(str(values.get("email") or ""))
        if existing is None:
            raise error
        if existing.external_id not in (None, external_id):
            raise ScimError(
                f"{self.service}: a user with this email already exists (SCIM id {existing.id}) "
                f"and belongs to another HiBob employee (externalId {existing.external_id})",
                status=409,
                scim_type="uniqueness",
                hint="fix the duplicate email in HiBob, or the externalId of that SCIM user",
            )
        log.info(
            "%s: the user already existed (SCIM id %s); updating it", self.service, existing.id
        )
        changes = {k: v for k, v in values.items() if existing.values.get(k) != v}
        return self.update(
            existing,
            changes,
            active=None if existing.active == active else active,
            external_id=None if existing.external_id == external_id else external_id,
        )

    def update(
        self,
        user: ScimUser,
        changes: Mapping[str, Value],
        *,
        active: bool | None = None,
        external_id: str | None = None,
    ) -> ScimUser:
        """PATCH only the changed attributes; PUT the whole resource where patch is not offered."""
        clean = normalise_values(changes)
        if not clean and active is None and external_id is None:
            return user
        what = f"updating user {user.id}"
        if "email" in clean and not user.resource:
            user = self.get(user.id)  # its other emails must survive the new work email
        if self.discover().patch:
            body = patch_body(user, clean, self.placement, active=active, external_id=external_id)
            response, payload = self.request("PATCH", f"/Users/{user.id}", what=what, body=body)
            if response.ok:
                return updated_user(user, payload, clean, self.placement, active, external_id)
            if response.status_code not in (405, 501):
                raise self.error(response, payload, what)
            log.warning("%s refused PATCH; using PUT from now on", self.service)
            features = replace(self.discover(), patch=False)
            with self._lock:
                self._features = features
        body = self.put_body(user, clean, active, external_id)
        _, payload = self._expect("PUT", f"/Users/{user.id}", what=what, body=body)
        return updated_user(user, payload, clean, self.placement, active, external_id)

    def put_body(
        self,
        user: ScimUser,
        changes: Mapping[str, Value],
        active: bool | None,
        external_id: str | None,
    ) -> dict[str, Any]:
        """The whole resource with the changes applied, keeping attributes the tool leaves alone."""
        base = user.resource if user.resource else self.get(user.id).resource
        body = apply_changes(base, changes, self.placement, active=active, external_id=external_id)
        body["id"] = user.id
        return body

    def deactivate(self, user: ScimUser) -> ScimUser:
        """A leaver: active=false, never DELETE (HiThrive keeps recognition history)."""
        return self.update(user, {}, active=False)

    def reactivate(self, user: ScimUser) -> ScimUser:
        """A rehire: active=true."""
        return self.update(user, {}, active=True)

    def write_one(self, write: ScimWrite) -> WriteResult:
        """Perform one write; a refusal of this user becomes a failed result, not an exception."""
        try:
            if write.kind == "create":
                user = self.create(write.values, write.external_id or "", write.active is not False)
            else:
                assert write.user is not None
                user = self.update(
                    write.user, write.values, active=write.active, external_id=write.external_id
                )
        except RemoteError as exc:
            return WriteResult(write, error=exc)
        return WriteResult(write, user=user)

    def write_many(self, writes: Sequence[ScimWrite], concurrency: int = 4) -> list[WriteResult]:
        """Every write, in order of `writes`: through /Bulk where offered, else a bounded pool.

        Refusals of one user are results; a rejected token, a missing permission or an
        unavailable server raise and stop the remaining writes.
        """
        if not writes:
            return []
        if self.discover().use_bulk and len(writes) > 1:
            return self.apply_bulk(writes)
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures: list[Future[WriteResult]] = [pool.submit(self.write_one, w) for w in writes]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def apply_bulk(self, writes: Sequence[ScimWrite]) -> list[WriteResult]:
        """Send the writes through POST /Bulk in batches the server accepts (needs bulk support)."""
        features = self.discover()
        if not features.bulk:
            raise ValueError(f"{self.service} does not announce bulk support")
        return BulkWriter(self, features).run(writes)
