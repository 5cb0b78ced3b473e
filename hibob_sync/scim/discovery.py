"""What a SCIM server says it supports, read from its discovery documents (RFC 7643 §5-7).

Kept apart from the HTTP client so `check` and the tests can reason about the documents alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as field_of
from typing import Any

from hibob_sync.bounded import TooDeep, load_json
from hibob_sync.errors import ConfigError, RemoteError
from hibob_sync.model import ALL_FIELDS, scim_field
from hibob_sync.scim.attributes import CORE_USER, AttributePath

_SCHEMA_OF_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
_SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
_SCIM_URL_HINT = (
    "set hithrive.scim_url to the SCIM base URL from the HiThrive admin (it usually ends in "
    "/scim/v2); /ServiceProviderConfig and /Users are read below it"
)


def wrong_scim_url(base_url: str, problem: str) -> ConfigError:
    """hithrive.scim_url points at something that is not a SCIM server: fix the config (78)."""
    return ConfigError(f"hithrive.scim_url {base_url}: {problem}", hint=_SCIM_URL_HINT)


def service_provider_config(content: bytes, base_url: str) -> Mapping[str, Any]:
    """A 2xx /ServiceProviderConfig answer, which must be a SCIM document (RFC 7643 §5).

    A login page or another API answering there means the URL is wrong, not that the
    server is down, so it is a configuration error rather than something to retry.
    """
    try:
        document = load_json(content) if content else None
    except TooDeep as exc:
        raise RemoteError(
            f"the SCIM server at {base_url} sent a broken /ServiceProviderConfig ({exc})"
        ) from None
    except ValueError:
        document = None
    if isinstance(document, Mapping):
        schemas = document.get("schemas")
        named = isinstance(schemas, list) and any(
            isinstance(s, str) and s.lower() == _SPC_SCHEMA.lower() for s in schemas
        )
        if named or any(isinstance(document.get(k), Mapping) for k in ("patch", "bulk")):
            return document
    got = "no JSON" if document is None else "JSON that is not a ServiceProviderConfig"
    raise wrong_scim_url(base_url, f"/ServiceProviderConfig is not a SCIM document ({got})")


@dataclass(frozen=True)
class AttributeInfo:
    """What /Schemas says of one attribute (RFC 7643 §7): enough to write and compare it."""

    type: str = "string"  # lower case: string, datetime, boolean, complex, reference...
    multi_valued: bool = False
    case_exact: bool = False
    required: bool = False
    read_only: bool = False
    immutable: bool = False  # written once at creation, never changed (RFC 7643 §7)
    name: str = ""  # the full path as announced, for messages


@dataclass(frozen=True)
class ServerFeatures:
    """The capabilities the client relies on; unknown schema data is None, never "missing"."""

    patch: bool = True
    bulk: bool = False
    bulk_max_operations: int = 0
    bulk_max_payload: int = 0
    filter: bool = False
    max_results: int | None = None
    etag: bool = False
    schema_attributes: frozenset[str] | None = None
    user_schemas: frozenset[str] | None = None
    announced: bool = True
    # Full path (lower case, `urn:…:name[.sub]`) -> what /Schemas says of it; None: no /Schemas.
    attribute_info: Mapping[str, AttributeInfo] | None = field_of(default=None, compare=False)
    required_extensions: frozenset[str] = frozenset()  # lower-case URNs a User must carry

    @property
    def use_bulk(self) -> bool:
        """Bulk is used only when announced with room for more than one operation."""
        return self.bulk and self.bulk_max_operations > 1


def _supported(config: Mapping[str, Any], name: str) -> tuple[bool, Mapping[str, Any]]:
    section = config.get(name)
    if not isinstance(section, Mapping):
        return False, {}
    return section.get("supported") is True, section


def as_count(value: object) -> int | None:
    """A non-negative integer, also when a server sends it as a string."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def as_status(value: object) -> int | None:
    """An HTTP status: SCIM sends it as a string ("409"), sometimes with its phrase."""
    text = str(value).strip()[:3] if value is not None and not isinstance(value, bool) else ""
    return as_count(text) if text else None


def _positive_int(value: object) -> int | None:
    number = as_count(value)
    return number if number else None


def features_from_config(config: Mapping[str, Any] | None) -> ServerFeatures:
    """Read /ServiceProviderConfig; without one, assume a plain server (patch, no bulk)."""
    if not config:
        return ServerFeatures(announced=False)
    patch, _ = _supported(config, "patch")
    bulk, bulk_section = _supported(config, "bulk")
    filtering, filter_section = _supported(config, "filter")
    etag, _ = _supported(config, "etag")
    return ServerFeatures(
        patch=patch,
        bulk=bulk,
        bulk_max_operations=_positive_int(bulk_section.get("maxOperations")) or 0,
        bulk_max_payload=_positive_int(bulk_section.get("maxPayloadSize")) or 0,
        filter=filtering,
        max_results=_positive_int(filter_section.get("maxResults")),
        etag=etag,
    )


def _resources(body: Any) -> list[Mapping[str, Any]]:
    """Discovery lists come as a ListResponse or, on some servers, as a bare JSON array."""
    items = body.get("Resources") if isinstance(body, Mapping) else body
    if isinstance(body, Mapping) and items is None and "id" in body:
        items = [body]
    return [item for item in items or [] if isinstance(item, Mapping)]


def schema_attributes(body: Any) -> frozenset[str]:
    """Full paths (`urn:…:name` and `urn:…:name.sub`) of every attribute /Schemas announces."""
    paths: set[str] = set()
    for schema in _resources(body):
        urn = schema.get("id")
        if not isinstance(urn, str) or urn == _SCHEMA_OF_SCHEMA:
            continue
        for attribute in _attributes(schema.get("attributes")):
            name = attribute["name"]
            paths.add(f"{urn}:{name}")
            for sub in _attributes(attribute.get("subAttributes")):
                paths.add(f"{urn}:{name}.{sub['name']}")
    return frozenset(paths)


def schema_details(body: Any) -> dict[str, AttributeInfo]:
    """Type, multiValued, caseExact, required and mutability of every announced attribute."""
    details: dict[str, AttributeInfo] = {}
    for schema in _resources(body):
        urn = schema.get("id")
        if not isinstance(urn, str) or urn == _SCHEMA_OF_SCHEMA:
            continue
        for attribute in _attributes(schema.get("attributes")):
            path = f"{urn}:{attribute['name']}"
            details[path.lower()] = _info(attribute, path)
            for sub in _attributes(attribute.get("subAttributes")):
                full = f"{path}.{sub['name']}"
                details[full.lower()] = _info(sub, full)
    return details


def _info(attribute: Mapping[str, Any], name: str) -> AttributeInfo:
    return AttributeInfo(
        name=name,
        type=str(attribute.get("type") or "string").lower(),
        multi_valued=attribute.get("multiValued") is True,
        case_exact=attribute.get("caseExact") is True,
        required=attribute.get("required") is True,
        read_only=str(attribute.get("mutability") or "").lower() == "readonly",
        immutable=str(attribute.get("mutability") or "").lower() == "immutable",
    )


def required_extensions(body: Any) -> frozenset[str]:
    """The schema extensions the User resource type marks required (lower case)."""
    for resource_type in _resources(body):
        if resource_type.get("name") == "User" or resource_type.get("endpoint") == "/Users":
            return frozenset(
                str(extension["schema"]).lower()
                for extension in resource_type.get("schemaExtensions") or []
                if isinstance(extension, Mapping)
                and extension.get("schema")
                and extension.get("required") is True
            )
    return frozenset()


def _attributes(items: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(items, list):
        return []
    return [a for a in items if isinstance(a, Mapping) and isinstance(a.get("name"), str)]


def user_schemas(body: Any) -> frozenset[str] | None:
    """The core schema and extensions of the User resource type, or None when not announced."""
    for resource_type in _resources(body):
        if resource_type.get("name") == "User" or resource_type.get("endpoint") == "/Users":
            found = {str(resource_type.get("schema") or CORE_USER)}
            for extension in resource_type.get("schemaExtensions") or []:
                if isinstance(extension, Mapping) and extension.get("schema"):
                    found.add(str(extension["schema"]))
            return frozenset(found)
    return None


def missing_attributes(
    features: ServerFeatures, where: Mapping[str, AttributePath]
) -> list[tuple[str, str]]:
    """(HiThrive field, SCIM path) for each target attribute the server does not announce.

    Only what the server positively describes can be missing: no /Schemas, no verdict.
    """
    announced = {path.lower() for path in features.schema_attributes or ()}
    schemas = {urn.lower() for urn in features.user_schemas or ()}
    missing = []
    for field in ALL_FIELDS:
        path = where[scim_field(field)]
        no_schema = features.user_schemas is not None and path.schema.lower() not in schemas
        no_attribute = features.schema_attributes is not None and path.full.lower() not in announced
        if no_schema or no_attribute:
            missing.append((field, path.full))
    return missing
