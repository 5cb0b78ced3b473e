"""Field placement, override validation and the reading of odd but valid SCIM documents."""

from __future__ import annotations

from typing import Any

import pytest

from hibob_sync.errors import ConfigError
from hibob_sync.model import ScimUser
from hibob_sync.scim.attributes import (
    CORE_USER,
    DEFAULT_ATTRIBUTES,
    ENTERPRISE_USER,
    HITHRIVE_USER,
    AttributePath,
    apply_changes,
    from_resource,
    parse_path,
    placement,
    validate_attributes,
)
from hibob_sync.scim.batch import BulkWriter
from hibob_sync.scim.client import ScimClient
from hibob_sync.scim.discovery import (
    ServerFeatures,
    features_from_config,
    missing_attributes,
    schema_attributes,
)
from hibob_sync.scim.patch import patch_body
from hibob_sync.scim.writes import ScimWrite, ScimWriter
from tests.scim_fixtures import fast_http

WHERE = placement()


def test_paths_parse_into_schema_name_and_sub_attribute() -> None:
    assert parse_path("title") == AttributePath(CORE_USER, "title")
    manager = parse_path(f"{ENTERPRISE_USER}:manager.value")
    assert manager == AttributePath(ENTERPRISE_USER, "manager", "value")
    assert manager.patch_path == manager.full == f"{ENTERPRISE_USER}:manager.value"
    assert parse_path("name.givenName").patch_path == "name.givenName"
    assert parse_path("name.givenName").full == f"{CORE_USER}:name.givenName"


@pytest.mark.parametrize(
    "text", ["", 'emails[type eq "work"].value', "a..b", "urn:x", "urn:a:b:c d", "1title"]
)
def test_malformed_paths_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_path(text)


def test_valid_overrides_merge_over_the_defaults() -> None:
    merged = validate_attributes(
        {"start_date": f"{ENTERPRISE_USER}:startDate", "email": "userName"}
    )
    assert merged == {**DEFAULT_ATTRIBUTES, "start_date": f"{ENTERPRISE_USER}:startDate"}
    assert validate_attributes(None) == dict(DEFAULT_ATTRIBUTES)


@pytest.mark.parametrize(
    ("overrides", "key", "reason"),
    [
        ({"nickname": "nickName"}, "nickname", "unknown HiThrive field"),
        ({"teams": "urn:bad"}, "teams", "not a URN-qualified"),
        ({"teams": "teams[value eq 1]"}, "teams", "not a SCIM attribute path"),
        ({"birthday": 19}, "birthday", "expected a SCIM attribute path"),
        ({"email": "emails.value"}, "email", "cannot be moved"),
        ({"job_title": "active"}, "job_title", "managed by hibob-sync"),
        ({"groups": f"{HITHRIVE_USER}:teams"}, "groups", "already where teams goes"),
        ({"start_date": f"{HITHRIVE_USER}:teams"}, "start_date", "already where teams goes"),
    ],
)
def test_bad_overrides_name_their_config_key(
    overrides: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_attributes(overrides)
    assert str(caught.value).startswith(f"hithrive.attributes.{key}: ")
    assert reason in str(caught.value)


def test_reading_tolerates_the_shapes_servers_send() -> None:
    resource = {
        "id": "u1",
        "USERNAME": "Someone@Example.com",
        "Active": "False",
        "externalId": "",
        "Title": "  ",
        ENTERPRISE_USER.lower(): {"Manager": "m-9"},  # schema keys and names are caseless
        HITHRIVE_USER: {"teams": [{"value": "b"}, {"value": "a"}, "a"], "groups": "solo"},
    }
    user = from_resource(resource, WHERE)
    assert user is not None
    assert (user.user_name, user.external_id, user.active) == ("Someone@Example.com", None, False)
    assert user.values["email"] == "someone@example.com"
    assert user.values["job_title"] is None
    assert user.values["manager_id"] == "m-9"
    assert (user.values["teams"], user.values["groups"]) == (("a", "b"), ("solo",))


def test_email_falls_back_to_the_primary_address_and_no_id_is_no_user() -> None:
    emails = [{"value": "home@x.org"}, {"value": "Work@x.org", "type": "work", "primary": True}]
    user = from_resource({"id": "u", "emails": emails}, WHERE)
    assert user is not None and user.values["email"] == "work@x.org"
    assert from_resource({"userName": "a@b"}, WHERE) is None


def test_changes_applied_locally_keep_what_the_tool_does_not_manage() -> None:
    resource = {
        "schemas": [CORE_USER, HITHRIVE_USER],
        "id": "u1",
        "meta": {"version": "W/1"},
        "userName": "a@x.org",
        "displayName": "Kept",
        HITHRIVE_USER: {"teams": ["t"]},
    }
    body = apply_changes(resource, {"teams": (), "employee_id": "7"}, WHERE, active=False)
    assert "meta" not in body and HITHRIVE_USER not in body
    assert body["schemas"] == [CORE_USER, ENTERPRISE_USER]
    assert body[ENTERPRISE_USER] == {"employeeNumber": "7"}
    assert (body["displayName"], body["active"]) == ("Kept", False)


def test_a_patch_replaces_both_user_name_and_work_email() -> None:
    user = ScimUser("u1", "a@x.org", "e1", True, resource={"emails": [{"value": "a@x.org"}]})
    operations = patch_body(user, {"email": "b@x.org"}, WHERE, external_id="e2")["Operations"]
    assert operations == [
        {"op": "replace", "path": "userName", "value": "b@x.org"},
        {
            "op": "replace",
            "path": "emails",
            "value": [{"value": "b@x.org", "type": "work", "primary": True}, {"value": "a@x.org"}],
        },
        {"op": "replace", "path": "externalId", "value": "e2"},
    ]
    with pytest.raises(ValueError, match="cannot be cleared"):
        patch_body(user, {"email": None}, WHERE)


def test_features_from_documents() -> None:
    assert features_from_config(None) == ServerFeatures(announced=False)
    features = features_from_config(
        {
            "patch": {"supported": False},
            "bulk": {"supported": True, "maxOperations": "1", "maxPayloadSize": 10},
            "filter": {"supported": True, "maxResults": "0"},
        }
    )
    assert not features.patch and features.bulk and not features.use_bulk
    assert features.filter and features.max_results is None
    bare_list = [{"id": HITHRIVE_USER, "attributes": [{"name": "teams"}]}]
    assert schema_attributes(bare_list) == {f"{HITHRIVE_USER}:teams"}


def test_missing_attributes_needs_a_positive_description() -> None:
    assert missing_attributes(ServerFeatures(), WHERE) == []
    only_core = ServerFeatures(user_schemas=frozenset({CORE_USER, ENTERPRISE_USER}))
    assert [field for field, _ in missing_attributes(only_core, WHERE)] == [
        "start_date",
        "birthday",
        "teams",
        "groups",
    ]


def test_bulk_batches_respect_operations_and_payload_limits() -> None:
    client = ScimClient("http://127.0.0.1:9/v2", "t", fast_http())
    features = ServerFeatures(bulk=True, bulk_max_operations=3, bulk_max_payload=1200)
    writer = BulkWriter(ScimWriter(client), features)
    writes = [
        ScimWrite.for_create({"email": f"p{i}@x.org", "job_title": "x" * 150}, f"e{i}")
        for i in range(7)
    ]
    operations = [(i, writer.operation(w, f"w{i}")) for i, w in enumerate(writes)]
    sizes = [len(batch) for batch in writer.batches(operations)]
    assert sum(sizes) == 7 and max(sizes) <= 3 and len(sizes) > 3  # the payload limit bites
