"""Writes as plain data, and the writer that performs them one request at a time.

A planner builds ScimWrite items; ScimWriter (which takes a ScimClient) creates and updates
users and returns one WriteResult per item. Many writes at once (/Bulk or a bounded pool)
are scim_batch's job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import requests

from hibob_sync.errors import HibobSyncError, RemoteError, ScimError, ServiceUnavailableError
from hibob_sync.http import TransientHTTPError
from hibob_sync.model import ScimUser, Value
from hibob_sync.safe_text import shown
from hibob_sync.scim.attributes import (
    apply_changes,
    from_resource,
    get_ci,
    new_resource,
    normalise_values,
    updated_user,
)
from hibob_sync.scim.client import ScimClient, user_path
from hibob_sync.scim.dialect import NOT_IMPLEMENTED, Dialect, Step, ladder_worthy
from hibob_sync.scim.patch import patch_body
from hibob_sync.scim.values import filler_hint, typed_values, unfilled_required

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScimWrite:
    """One user write. `values` are SCIM_FIELDS-keyed: all fields (create) or the changes."""

    kind: Literal["create", "update"]
    values: Mapping[str, Value] = field(default_factory=dict)
    user: ScimUser | None = None
    external_id: str | None = None
    active: bool | None = None

    @classmethod
    def for_create(
        cls, values: Mapping[str, Value], external_id: str, active: bool = True
    ) -> ScimWrite:
        """A new user owned by HiBob employee `external_id`."""
        return cls("create", dict(values), None, external_id, active)

    @classmethod
    def for_update(
        cls,
        user: ScimUser,
        changes: Mapping[str, Value],
        *,
        active: bool | None = None,
        external_id: str | None = None,
    ) -> ScimWrite:
        """Changes to an existing user; `active`/`external_id` only when they change."""
        return cls("update", dict(changes), user, external_id, active)

    @property
    def empty(self) -> bool:
        """An update that changes nothing: no request is sent for it."""
        nothing = not self.values and self.active is None and self.external_id is None
        return self.kind == "update" and nothing


@dataclass
class WriteResult:
    """The outcome of one ScimWrite: the user as written, or the error that refused it."""

    write: ScimWrite
    user: ScimUser | None = None
    error: HibobSyncError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ScimWriter:
    """Creates and updates users on one SCIM server, through its client."""

    def __init__(self, client: ScimClient, dialect: Dialect | None = None) -> None:
        self.client = client
        self.dialect = dialect or Dialect()

    def typed(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """Values as this server types them (scim_values): dates into dateTime attributes."""
        return typed_values(values, self.client.placement, self.client.discover())

    def create(
        self, values: Mapping[str, Value], external_id: str, active: bool = True
    ) -> ScimUser:
        """POST a new user; a 409 on its userName adopts the user if it is ours or unowned."""
        client = self.client
        clean = normalise_values(values)
        body = new_resource(self.typed(clean), external_id, active, client.placement)
        response, payload = client.request("POST", "/Users", what="creating a user", body=body)
        if succeeded(response):
            return self.created(payload, response.headers.get("Location"), body)
        error = client.error(response, payload, "creating a user")
        if response.status_code == 409:
            return self.resolve_conflict(clean, external_id, active, error)
        raise self.name_required(error, clean)

    def name_required(self, error: HibobSyncError, values: Mapping[str, Value]) -> HibobSyncError:
        """A refused create that lacks an attribute /Schemas requires says which, and how to
        fill it (a refusal rarely names it, and an admin cannot guess)."""
        present = [
            "manager_email" if name == "manager_id" else name
            for name, value in values.items()
            if value not in (None, ())
        ]
        placement = self.client.placement
        missing = unfilled_required(self.client.discover(), placement, present)
        if not missing or not isinstance(error, ScimError) or error.status != 400:
            return error
        fix = filler_hint(missing[0], placement)
        return ScimError(
            f"{error.message}; the server requires {', '.join(missing)}, "
            f"which this user has no value for: {fix}",
            status=error.status,
            scim_type=error.scim_type,
            detail=error.detail,
            hint=fix,
        )

    def created(self, payload: Any, location: str | None, body: Mapping[str, Any]) -> ScimUser:
        """The new user from the server's answer, or from what was sent plus its Location."""
        placement = self.client.placement
        if isinstance(payload, Mapping) and payload.get("id"):
            user = from_resource(payload, placement)
        else:
            path = urlsplit(location or "").path.rstrip("/")
            user_id = unquote(path.rsplit("/", 1)[-1])
            user = from_resource({**body, "id": user_id}, placement) if user_id else None
        if user is None:
            raise RemoteError(f"{self.client.service} created a user but did not say its id")
        return user

    def resolve_conflict(
        self, values: dict[str, Value], external_id: str, active: bool, error: HibobSyncError
    ) -> ScimUser:
        """After 409 (e.g. a retried POST whose first answer was lost), adopt, never duplicate."""
        service = self.client.service
        existing = self.client.find_by_user_name(str(values.get("email") or ""))
        if existing is None:
            raise error
        if existing.external_id not in (None, external_id):
            raise ScimError(
                f"{service}: a user with this email already exists (SCIM id "
                f"{shown(existing.id)}) and belongs to another HiBob employee (externalId "
                f"{shown(existing.external_id)})",
                status=409,
                scim_type="uniqueness",
                hint="fix the duplicate email in HiBob, or the externalId of that SCIM user",
            )
        log.info(
            "%s: the user already existed (SCIM id %s); updating it", service, shown(existing.id)
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
        refused: int | None = None,
    ) -> ScimUser:
        """PATCH only the changed attributes in the form the server takes, else PUT the user.

        A refusal that another form may avoid climbs the ladder of scim_dialect for this
        user: at most two more requests, every change carried by each. ``refused``: the
        first form was already refused with this status (in a /Bulk request).
        """
        client = self.client
        clean = normalise_values(changes)
        if not clean and active is None and external_id is None:
            return user
        what = f"updating user {shown(user.id)}"
        if "email" in clean and not user.resource:
            user = client.get(user.id)  # its other emails must survive the new work email
        steps = self.dialect.steps(clean, client.placement, patch=client.discover().patch)
        refusals: list[int] = [] if refused is None else [refused]
        path = user_path(user.id)
        for index, step in enumerate(steps):
            if index == 0 and refused is not None:
                continue
            last = index == len(steps) - 1
            if refusals and refusals[-1] in NOT_IMPLEMENTED and step.method == "PATCH":
                continue  # another PATCH form will not help where PATCH itself is refused
            body = self._body(step, user, self.typed(clean), active, external_id)
            try:
                response, payload = client.request(step.method, path, what=what, body=body)
            except ServiceUnavailableError as exc:
                if last or not _persistent_500(exc):
                    raise
                refusals.append(500)
                log.info(
                    "%s: %s kept failing (HTTP 500); trying another form", client.service, what
                )
                continue
            if succeeded(response):
                self.dialect.accepted(step, refusals, clean)
                check_answer(client.service, user, payload, what)
                return updated_user(user, payload, clean, client.placement, active, external_id)
            error = client.error(response, payload, what)
            scim_type = error.scim_type if isinstance(error, ScimError) else None
            if last or not ladder_worthy(response.status_code, scim_type):
                raise error
            log.info(
                "%s refused %s (HTTP %d, %s); trying another form",
                client.service,
                what,
                response.status_code,
                scim_type or "no scimType",
            )
            refusals.append(response.status_code)
        raise AssertionError("the ladder ends with a PUT")  # pragma: no cover

    def _body(
        self,
        step: Step,
        user: ScimUser,
        changes: Mapping[str, Value],
        active: bool | None,
        external_id: str | None,
    ) -> dict[str, Any]:
        if step.method == "PUT":
            return self.put_body(user, changes, active, external_id)
        where = self.client.placement
        return patch_body(
            user, changes, where, active=active, external_id=external_id, forms=step.forms
        )

    def put_body(
        self,
        user: ScimUser,
        changes: Mapping[str, Value],
        active: bool | None,
        external_id: str | None,
    ) -> dict[str, Any]:
        """The whole resource with the changes applied, keeping attributes the tool leaves alone."""
        placement = self.client.placement
        base = user.resource if user.resource else self.client.get(user.id).resource
        body = apply_changes(base, changes, placement, active=active, external_id=external_id)
        body["id"] = user.id
        return body

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


def succeeded(response: requests.Response) -> bool:
    """A write counts only when the server answered it with 2xx (a 3xx is never followed)."""
    return 200 <= response.status_code < 300


def check_answer(service: str, user: ScimUser, payload: Any, what: str) -> None:
    """Where a 2xx answer to a write carries a resource, it must be the user written."""
    answered = get_ci(payload, "id") if isinstance(payload, Mapping) else None
    if answered is not None and str(answered) != user.id:
        raise RemoteError(
            f"{service}: {what}: the server answered with another user "
            f"({shown(str(answered))}); the write is not confirmed"
        )


def _persistent_500(exc: ServiceUnavailableError) -> bool:
    """A 500 that outlasted the retries of one request: maybe this request, not the server."""
    cause = exc.__cause__
    return isinstance(cause, TransientHTTPError) and cause.status == 500
