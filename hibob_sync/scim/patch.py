"""PatchOp bodies (RFC 7644 §3.5.2), in the form a server takes for each complex attribute.

A sub-attribute path (``…:manager.value`` = id) is the default; "whole" writes the complex
attribute itself (``…:manager`` = ``{"value": id}``), for servers that refuse the first
(scim_dialect.py decides which). One item of a multi-valued attribute
(``addresses[type eq "work"].country``) is written as the whole attribute with that item
changed and the others kept: a filtered PATCH path that matches nothing is an error on many
servers (RFC 7644 §3.5.2.3, noTarget).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hibob_sync.model import ScimUser, Value
from hibob_sync.scim.attributes import (
    AttributePath,
    apply_changes,
    emails_with,
    read_path,
    wire,
)

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _operation(name: str, value: Value, path: AttributePath, form: str) -> dict[str, Any]:
    parent = path.parent
    whole = parent is not None and form == "whole"
    target = parent.patch_path if whole and parent is not None else path.patch_path
    if value is None or value == ():
        return {"op": "remove", "path": target}
    sent = wire(name, value, path)
    return {"op": "replace", "path": target, "value": {path.sub: sent} if whole else sent}


def patch_body(
    user: ScimUser,
    changes: Mapping[str, Value],
    where: Mapping[str, AttributePath],
    *,
    active: bool | None = None,
    external_id: str | None = None,
    forms: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A PatchOp carrying only the changed attributes: replace, or remove when cleared.

    ``forms`` maps a complex attribute's full path (lower case) to "sub" or "whole".
    """
    forms = forms or {}
    operations: list[dict[str, Any]] = []
    items = {n: v for n, v in changes.items() if where[n].type_filter is not None}
    if items:
        operations += _whole_items(user, items, where)
    for name, value in changes.items():
        if name in items:
            continue
        if name == "email":
            if not value:
                raise ValueError("the email of a SCIM user cannot be cleared")
            emails = emails_with(user.resource, str(value))
            operations.append({"op": "replace", "path": "userName", "value": value})
            operations.append({"op": "replace", "path": "emails", "value": emails})
            continue
        path = where[name]
        form = forms.get(path.parent.full.lower(), "sub") if path.parent else "sub"
        operations.append(_operation(name, value, path, form))
    if external_id:
        operations.append({"op": "replace", "path": "externalId", "value": external_id})
    if active is not None:
        operations.append({"op": "replace", "path": "active", "value": active})
    return {"schemas": [PATCH_OP], "Operations": operations}


def _whole_items(
    user: ScimUser, changes: Mapping[str, Value], where: Mapping[str, AttributePath]
) -> list[dict[str, Any]]:
    """One replace (or remove) per multi-valued attribute that filtered paths change."""
    after = apply_changes(user.resource, changes, where)
    operations: list[dict[str, Any]] = []
    done: set[str] = set()
    for name in changes:
        whole = where[name].whole
        if whole.full.lower() in done:
            continue
        done.add(whole.full.lower())
        value = read_path(after, whole)
        if value:
            operations.append({"op": "replace", "path": whole.patch_path, "value": value})
        else:
            operations.append({"op": "remove", "path": whole.patch_path})
    return operations
