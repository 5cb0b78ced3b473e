"""The SCIM client against a real SCIM server (scim2-server) on loopback, through real HTTP."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest

from hibob_sync.errors import CredentialsError, PermissionMissingError, RemoteError
from hibob_sync.model import SCIM_FIELDS, Value
from hibob_sync.scim.attributes import HITHRIVE_USER, normalise_values
from hibob_sync.scim.batch import write_many
from hibob_sync.scim.client import ScimClient, ScimError
from hibob_sync.scim.writes import ScimWrite, ScimWriter
from tests.scim_fixtures import ScimServer, ScimServerFactory

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
# No maxResults announced, but pages capped at 30: the server returns fewer than asked.
CAPPED: dict[str, Any] = {
    "schemas": [SPC],
    "patch": {"supported": True},
    "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
    "filter": {"supported": True},
    "changePassword": {"supported": False},
    "sort": {"supported": False},
    "etag": {"supported": False},
    "pagination": {"cursor": False, "index": True, "maxPageSize": 30},
}
# Bulk with room for two operations per request, so batching shows.
SMALL_BULK: dict[str, Any] = {
    **CAPPED,
    "bulk": {"supported": True, "maxOperations": 2, "maxPayloadSize": 1048576},
    "filter": {"supported": True, "maxResults": 50},
}
del SMALL_BULK["pagination"]


def person(i: int, manager_id: str | None = None) -> dict[str, Value]:
    """Every field filled, in the loose shape a caller may hand in."""
    return {
        "email": f"  Person{i}@Example.COM ",
        "employee_id": f"E{i:04}",
        "job_title": "Engineer",
        "start_date": "2021-03-01",
        "birthday": "--07-14",
        "teams": ("Platform", "Core", "Platform"),
        "groups": ("Berlin",),
        "manager_id": manager_id,
    }


def unnamed(values: dict[str, Value]) -> dict[str, Value]:
    """What a user written with `values` (no optional name fields) reads back as."""
    return {"first_name": None, "last_name": None, "display_name": None, **normalise_values(values)}


def seed_people(server: ScimServer, count: int) -> None:
    server.seed(
        [
            {"userName": f"user{i:04}@example.com", "externalId": f"x{i}", "title": f"T{i}"}
            for i in range(count)
        ]
    )


# -- discovery -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "patch", "bulk", "max_results"),
    [("default", True, True, 1000), ("hithrive", True, False, 20), ("nopatch", False, False, 20)],
)
def test_discovery_reports_what_the_server_announces(
    scim_server_factory: ScimServerFactory,
    config: str,
    patch: bool,
    bulk: bool,
    max_results: int,
) -> None:
    server = scim_server_factory(config)
    client = server.client()
    features = client.discover()
    assert (features.patch, features.bulk, features.max_results) == (patch, bulk, max_results)
    assert features.filter
    assert f"{HITHRIVE_USER}:teams" in (features.schema_attributes or ())
    assert client.missing_attributes() == []
    assert client.discover() is features
    assert server.count("GET") == 3  # cached: discovery is read once per client


def test_missing_attributes_names_the_fields_a_server_lacks(
    scim_server_factory: ScimServerFactory,
) -> None:
    server = scim_server_factory("hithrive", schemas="rfc")
    missing = server.client().missing_attributes()
    assert missing == [
        ("start_date", f"{HITHRIVE_USER}:startDate"),
        ("birthday", f"{HITHRIVE_USER}:birthDate"),
        ("teams", f"{HITHRIVE_USER}:teams"),
        ("groups", f"{HITHRIVE_USER}:groups"),
    ]


def test_a_server_without_schemas_is_unknown_not_missing(scim_server: ScimServer) -> None:
    scim_server.respond(404, method="GET", path="/Schemas")
    scim_server.respond(404, method="GET", path="/ResourceTypes")
    client = scim_server.client()
    features = client.discover()
    assert features.schema_attributes is None and features.user_schemas is None
    assert client.missing_attributes() == []


# -- reading ---------------------------------------------------------------------------


def test_paging_reads_every_user_with_a_small_max_results(scim_server: ScimServer) -> None:
    seed_people(scim_server, 253)
    users = scim_server.client().list_users()
    assert len({u.id for u in users}) == 253
    assert {u.values["email"] for u in users} == {f"user{i:04}@example.com" for i in range(253)}
    assert scim_server.count("GET", "/Users") == 13  # ceil(253 / 20)
    starts = [c.query for c in scim_server.calls if c.path == "/Users"]
    assert starts[0] == "startIndex=1&count=20" and starts[1] == "startIndex=21&count=20"


def test_paging_follows_a_server_that_returns_fewer_than_asked(
    scim_server_factory: ScimServerFactory,
) -> None:
    server = scim_server_factory(CAPPED)
    seed_people(server, 251)
    users = server.client().list_users()
    assert len({u.id for u in users}) == 251
    assert server.count("GET", "/Users") == 9  # asked 100 each time, got 30
    assert all("count=100" in c.query for c in server.calls if c.path == "/Users")


def test_paging_stops_on_a_server_that_ignores_start_index(scim_server: ScimServer) -> None:
    page = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 5000,
        "Resources": [{"id": "a", "userName": "a@example.com"}, {"id": "b", "userName": "b@x"}],
    }
    scim_server.respond(200, page, method="GET", path="/Users", times=None)
    with pytest.raises(RemoteError, match="ignore index paging"):
        scim_server.client().list_users()
    assert scim_server.count("GET", "/Users") == 2


def test_a_resource_without_id_is_skipped_without_personal_data(
    scim_server: ScimServer, caplog: pytest.LogCaptureFixture
) -> None:
    page = {
        "totalResults": 2,
        "Resources": [{"userName": "secret.person@example.com"}, {"id": "u1", "userName": "a@b"}],
    }
    scim_server.respond(200, page, method="GET", path="/Users")
    with caplog.at_level(logging.WARNING):
        users = scim_server.client().list_users()
    assert [u.id for u in users] == ["u1"]
    assert "without an id" in caplog.text and "secret.person" not in caplog.text


# -- writing ---------------------------------------------------------------------------


def test_every_field_round_trips_equal(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    manager = writer.create(person(1), "emp-1")
    names = {"first_name": "Ada", "last_name": " Lovelace ", "display_name": "Ada Lovelace"}
    written = {**person(2, manager_id=manager.id), **names}
    created = writer.create(written, "emp-2")
    expected = normalise_values(written)
    assert set(expected) == set(SCIM_FIELDS)
    assert expected["teams"] == ("Core", "Platform") and expected["email"] == "person2@example.com"
    assert created.values == expected
    listed = {u.id: u for u in client.list_users()}
    assert listed[created.id].values == expected
    assert listed[created.id].external_id == "emp-2" and listed[created.id].active
    assert client.get(created.id).values == expected
    resource = client.get(created.id).resource  # a listing keeps no raw resource
    assert resource["emails"] == [{"value": "person2@example.com", "type": "work", "primary": True}]
    assert set(cast(list[str], resource["schemas"])) == {
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        HITHRIVE_USER,
    }


def test_create_lists_only_the_extensions_it_uses(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    writer.create({"email": "solo@example.com", "job_title": "CEO"}, "emp-9")
    body = next(c.body for c in scim_server.calls if c.method == "POST")
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User"]
    assert body["userName"] == "solo@example.com" and body["externalId"] == "emp-9"


def test_patch_sends_only_the_changes_and_clears_with_remove(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    user = writer.create(person(1), "emp-1")
    scim_server.reset_counts()
    updated = writer.update(user, {"job_title": "Staff Engineer", "teams": (), "birthday": None})
    assert scim_server.writes == [("PATCH", f"/Users/{user.id}")]
    [patch] = [call.body for call in scim_server.calls if call.method == "PATCH"]
    operations = patch["Operations"]
    assert operations == [
        {"op": "replace", "path": "title", "value": "Staff Engineer"},
        {"op": "remove", "path": f"{HITHRIVE_USER}:teams"},
        {"op": "remove", "path": f"{HITHRIVE_USER}:birthDate"},
    ]
    expected = {**user.values, "job_title": "Staff Engineer", "teams": (), "birthday": None}
    assert updated.values == expected
    assert client.get(user.id).values == expected


def test_nothing_to_change_sends_nothing(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    user = writer.create(person(1), "emp-1")
    scim_server.reset_counts()
    assert writer.update(user, {}) is user
    assert scim_server.requests == []


def test_email_change_updates_user_name_and_work_email(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    [seeded] = scim_server.seed(
        [
            {
                "userName": "old@example.com",
                "externalId": "emp-1",
                "emails": [
                    {"value": "old@example.com", "type": "work", "primary": True},
                    {"value": "me@home.example", "type": "home"},
                ],
            }
        ]
    )
    [user] = client.list_users()
    writer.update(user, {"email": "New@Example.com"})
    again = client.get(seeded["id"])
    assert again.user_name == "new@example.com" and again.values["email"] == "new@example.com"
    assert again.resource["emails"] == [
        {"value": "new@example.com", "type": "work", "primary": True},
        {"value": "me@home.example", "type": "home"},
    ]
    assert len(client.list_users()) == 1


def test_deactivate_and_reactivate(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    user = writer.create(person(1), "emp-1")
    assert writer.update(user, {}, active=False).active is False
    assert client.get(user.id).active is False
    assert writer.update(user, {}, active=True).active is True
    assert client.get(user.id).active is True
    assert [m for m, _ in scim_server.writes] == ["POST", "PATCH", "PATCH"]


def test_put_mode_keeps_attributes_the_tool_does_not_manage(
    scim_server_factory: ScimServerFactory,
) -> None:
    server = scim_server_factory("nopatch")
    server.seed(
        [
            {
                "userName": "hand@example.com",
                "displayName": "Set By Hand",
                "name": {"givenName": "Hand", "familyName": "Made"},
                "title": "Old",
            }
        ]
    )
    client = server.client()
    writer = ScimWriter(client)
    [user] = client.list_users()
    server.reset_counts()
    updated = writer.update(user, {"job_title": "New", "teams": ("A",)}, external_id="emp-7")
    assert server.writes == [("PUT", f"/Users/{user.id}")]
    again = client.get(user.id)
    assert again.resource["displayName"] == "Set By Hand"
    assert again.resource["name"] == {"givenName": "Hand", "familyName": "Made"}
    assert again.values == updated.values == {**user.values, "job_title": "New", "teams": ("A",)}
    assert again.external_id == "emp-7"
    writer.update(again, {"job_title": None})
    assert "title" not in client.get(user.id).resource


def test_a_refused_patch_falls_back_to_put(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    user = writer.create(person(1), "emp-1")
    scim_server.respond(501, {"status": "501", "detail": "no PATCH"}, method="PATCH")
    writer.update(user, {"job_title": "Lead"})
    writer.update(client.get(user.id), {"job_title": "Head"})
    assert [m for m, _ in scim_server.writes] == ["POST", "PATCH", "PUT", "PUT"]
    assert client.get(user.id).values["job_title"] == "Head"


def test_bulk_mode_batches_and_maps_each_outcome(
    scim_server_factory: ScimServerFactory,
) -> None:
    server = scim_server_factory(SMALL_BULK)
    client = server.client()
    writer = ScimWriter(client)
    taken = writer.create(person(9), "someone-else")
    writes = [ScimWrite.for_create(person(i), f"emp-{i}") for i in range(4)]
    writes.append(ScimWrite.for_create(person(9), "emp-9"))
    server.reset_counts()
    results = write_many(writer, writes)
    assert server.count("POST", "/Bulk") == 3 and server.count("POST", "/Users") == 0
    assert [r.write for r in results] == writes
    assert all(r.ok for r in results[:4])
    clash = results[4].error
    assert isinstance(clash, ScimError) and clash.status == 409 and "someone-else" in str(clash)
    listed = {u.id: u for u in client.list_users()}
    for i, result in enumerate(results[:4]):
        assert result.user is not None
        assert listed[result.user.id].values == unnamed(person(i))

    server.reset_counts()
    users = [r.user for r in results[:2] if r.user is not None]
    updates = [ScimWrite.for_update(u, {}, active=False) for u in users]
    updates.append(ScimWrite.for_update(taken, {"job_title": "X"}))
    outcome = write_many(writer, updates)
    assert all(r.ok for r in outcome) and server.writes == [("POST", "/Bulk")] * 2
    assert [client.get(u.id).active for u in users] == [False, False]
    assert client.get(taken.id).values["job_title"] == "X"


def test_write_many_per_request_isolates_failures(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    gone = writer.create(person(1), "emp-1")
    scim_server.delete(gone.id)  # behind the client's back: its update will get 404
    writes = [ScimWrite.for_create(person(i), f"emp-{i}") for i in range(2, 8)]
    writes.insert(3, ScimWrite.for_update(gone, {"job_title": "X"}))
    results = write_many(writer, writes, concurrency=4)
    assert [r.write for r in results] == writes
    failed = [r for r in results if not r.ok]
    assert [r.write for r in failed] == [writes[3]]
    assert isinstance(failed[0].error, ScimError) and failed[0].error.status == 404
    assert len(client.list_users()) == 6


# -- errors and conflicts ----------------------------------------------------------------


def test_a_rejected_token_is_a_credentials_error(scim_server: ScimServer) -> None:
    client = scim_server.client(token="wrong-token-value")
    with pytest.raises(CredentialsError) as caught:
        client.list_users()
    text = str(caught.value)
    assert "rejected the token" in text and "hibob-sync connect" in text
    assert "wrong-token-value" not in text and "wrong-token-value" not in repr(client)


def test_forbidden_is_a_permission_error(scim_server: ScimServer) -> None:
    scim_server.respond(
        403,
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "403"},
        method="POST",
        path="/Users",
    )
    with pytest.raises(PermissionMissingError, match="lacks the permission") as caught:
        ScimWriter(scim_server.client()).create(person(1), "emp-1")
    assert caught.value.exit_code == 77 and scim_server.token not in str(caught.value)


def test_scim_error_bodies_are_parsed(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    with pytest.raises(ScimError) as caught:
        client.get("no-such-id")
    assert caught.value.status == 404 and caught.value.detail and "HTTP 404" in str(caught.value)
    writer.create(person(1), "emp-1")
    scim_server.respond(
        400,
        {"status": "400", "scimType": "invalidValue", "detail": f"bad {scim_server.token}"},
        method="POST",
    )
    with pytest.raises(ScimError) as caught:
        writer.create(person(2), "emp-2")
    assert caught.value.scim_type == "invalidValue" and scim_server.token not in str(caught.value)


def test_a_retried_create_whose_answer_was_lost_does_not_duplicate(
    scim_server: ScimServer,
) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    client.discover()
    scim_server.reset_counts()
    scim_server.drop_response("POST", "/Users")
    user = writer.create(person(1), "emp-1")
    assert scim_server.count("POST", "/Users") == 2  # the retry met 409 uniqueness
    assert scim_server.writes == [("POST", "/Users")] * 2  # nothing differed: no PATCH
    assert [u.id for u in client.list_users()] == [user.id]
    assert user.values == unnamed(person(1)) and user.external_id == "emp-1"


def test_a_conflict_adopts_an_unowned_user(scim_server: ScimServer) -> None:
    [hand] = scim_server.seed([{"userName": "person1@example.com", "displayName": "By Hand"}])
    client = scim_server.client()
    writer = ScimWriter(client)
    user = writer.create(person(1), "emp-1")
    assert user.id == hand["id"] and user.external_id == "emp-1"
    again = client.get(hand["id"])
    assert again.values == {**unnamed(person(1)), "display_name": "By Hand"}
    assert again.external_id == "emp-1"
    assert again.resource["displayName"] == "By Hand"


def test_a_conflict_with_another_employee_is_a_clear_error(scim_server: ScimServer) -> None:
    client = scim_server.client()
    writer = ScimWriter(client)
    writer.create(person(1), "emp-1")
    with pytest.raises(ScimError, match="another HiBob employee") as caught:
        writer.create(person(1), "emp-2")
    assert caught.value.scim_type == "uniqueness" and "emp-1" in str(caught.value)


def test_conflict_resolution_lists_when_filter_is_not_offered(
    scim_server_factory: ScimServerFactory,
) -> None:
    server = scim_server_factory({**CAPPED, "filter": {"supported": False}})
    client = server.client()
    writer = ScimWriter(client)
    first = writer.create(person(1), "emp-1")
    assert writer.create(person(1), "emp-1").id == first.id
    assert not any("filter" in c.query for c in server.calls)


def test_field_placement_can_be_overridden(scim_server: ScimServer) -> None:
    department = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
    client = scim_server.client(attributes={"job_title": department})
    writer = ScimWriter(client)
    user = writer.create({"email": "a@example.com", "job_title": "Sales"}, "emp-1")
    resource = client.get(user.id).resource
    assert "title" not in resource
    assert resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == {
        "department": "Sales"
    }
    assert client.list_users()[0].values["job_title"] == "Sales"


def test_client_rejects_a_bad_override() -> None:
    from hibob_sync.errors import ConfigError
    from tests.scim_fixtures import fast_http

    with pytest.raises(ConfigError, match=r"hithrive\.attributes\.teams"):
        ScimClient("https://scim.example", "t", fast_http(), {"teams": "not a path"})
