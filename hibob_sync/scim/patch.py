"""PatchOp bodies (RFC 7644 §3.5.2), in the form a server takes for each complex attribute.

A sub-attribute path (``…:manager.value`` = id) is the default; "whole" writes the complex
attribute itself (``…:manager`` = ``{"value": id}``), for servers that refuse the first
(scim_dialect.py decides which).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hibob_sync.model import ScimUser, Value
from hibob_sync.scim.attributes import AttributePath, emails_with, wire

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _operation(name: str, value: Value, path: AttributePath, form: str) -> dict[str, Any]:
    parent = path.parent
    whole = parent is not None and form == "whole"
    target = parent.patch_path if whole and parent is not None else path.patch_path
    if value is None or value == ():
        return {"op": "remove", "path": target}
    sent = wire(name, value)
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
    for name, value in changes.items():
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
