"""Other SCIM servers' dialects (hithrive-scim.md "Interop rules"), imitated by the test proxy
in front of scim2-server: the per-user recovery ladder, what it remembers, and the lookups
that must not trust a case-insensitive filter.
"""

from __future__ import annotations

import pytest

from hibob_sync.errors import ScimError, ServiceUnavailableError
from hibob_sync.model import ScimUser
from hibob_sync.scim.batch import write_many
from hibob_sync.scim.dialect import Dialect
from hibob_sync.scim.writes import ScimWrite, ScimWriter
from tests.scim_fixtures import ScimServer, ScimServerFactory
from tests.sync_fixtures import ENTERPRISE
from tests.test_scim_client import SMALL_BULK

MANAGER = f"{ENTERPRISE}:manager".lower()


def two_users(server: ScimServer) -> tuple[ScimWriter, ScimUser, ScimUser]:
    writer = ScimWriter(server.client())
    boss = writer.create({"email": "boss@example.com"}, "emp-1")
    report = writer.create({"email": "report@example.com", "job_title": "Old"}, "emp-2")
    server.reset_counts()
    return writer, boss, report


def patches(server: ScimServer) -> list[list[str]]:
    """The op paths of each PATCH the proxy saw, in order."""
    return [
        [str(op.get("path")) for op in call.body["Operations"]]
        for call in server.calls
        if call.method == "PATCH"
    ]


def test_a_server_refusing_sub_attribute_paths_takes_the_whole_attribute(
    scim_server: ScimServer,
) -> None:
    writer, boss, report = two_users(scim_server)
    scim_server.dialect = "no-sub-path"
    writer.update(report, {"manager_id": boss.id, "job_title": "New"})
    # One extra request: the whole attribute, with the other change still in it.
    assert patches(scim_server) == [
        [f"{ENTERPRISE}:manager.value", "title"],
        [f"{ENTERPRISE}:manager", "title"],
    ]
    again = writer.client.get(report.id)
    assert again.values["manager_id"] == boss.id and again.values["job_title"] == "New"
    assert writer.dialect.forms == {MANAGER: "whole"} and writer.dialect.recoveries == 1

    # A writer that starts with what was learned (the next run) needs no recovery.
    scim_server.reset_counts()
    later = ScimWriter(writer.client, Dialect(writer.dialect.forms))
    later.update(again, {"manager_id": None})
    assert patches(scim_server) == [[f"{ENTERPRISE}:manager"]]
    assert later.dialect.recoveries == 0
    assert writer.client.get(report.id).values["manager_id"] is None


def test_a_server_crashing_on_whole_complex_values_takes_the_sub_path(
    scim_server: ScimServer,
) -> None:
    writer, boss, report = two_users(scim_server)
    scim_server.dialect = "no-whole-complex"
    writer.update(report, {"manager_id": boss.id})
    assert patches(scim_server) == [[f"{ENTERPRISE}:manager.value"]]  # the default form
    assert writer.dialect.forms == {MANAGER: "sub"}

    # Told the whole form (as another server took it), the 500 outlasts the retries of that
    # request (3 attempts in these tests), then the sub-attribute path works.
    scim_server.reset_counts()
    stale = ScimWriter(writer.client, Dialect({MANAGER: "whole"}))
    stale.update(report, {"manager_id": report.id})
    assert [len(p) for p in patches(scim_server)] == [1, 1, 1, 1]
    assert patches(scim_server)[-1] == [f"{ENTERPRISE}:manager.value"]
    assert stale.dialect.forms == {MANAGER: "sub"} and stale.dialect.recoveries == 1


def test_a_server_without_patch_remove_gets_a_put_and_only_for_clearing(
    scim_server: ScimServer,
) -> None:
    writer, _, report = two_users(scim_server)
    scim_server.dialect = "no-add-remove"
    writer.update(report, {"job_title": None, "teams": ("A",)})
    assert [m for m, _ in scim_server.writes] == ["PATCH", "PUT"]
    assert writer.dialect.forms == {"remove": "put"}
    scim_server.reset_counts()
    current = writer.client.get(report.id)
    assert current.values["job_title"] is None and current.values["teams"] == ("A",)
    writer.update(current, {"teams": ("B",)})  # nothing cleared: PATCH still works
    writer.update(writer.client.get(report.id), {"teams": ()})  # cleared: straight to PUT
    assert [m for m, _ in scim_server.writes] == ["PATCH", "PUT"]


def test_uniqueness_and_mutability_are_real_refusals(scim_server: ScimServer) -> None:
    writer, boss, report = two_users(scim_server)
    for scim_type in ("uniqueness", "mutability"):
        scim_server.reset_counts()
        error = {"status": "400", "scimType": scim_type, "detail": "no"}
        scim_server.respond(400, error, method="PATCH")
        with pytest.raises(ScimError) as caught:
            writer.update(report, {"manager_id": boss.id})
        assert caught.value.scim_type == scim_type and len(scim_server.writes) == 1
    assert writer.dialect.forms == {}


def test_the_ladder_never_sends_more_than_two_extra_requests(scim_server: ScimServer) -> None:
    writer, boss, report = two_users(scim_server)
    refusal = {"status": "400", "scimType": "invalidValue", "detail": "no"}
    scim_server.respond(400, refusal, method="PATCH", times=None)
    scim_server.respond(400, refusal, method="PUT", times=None)
    with pytest.raises(ScimError):
        writer.update(report, {"manager_id": boss.id, "job_title": "X"})
    assert [m for m, _ in scim_server.writes] == ["PATCH", "PATCH", "PUT"]
    assert writer.dialect.forms == {}


def test_a_server_down_for_every_form_stops_the_run(scim_server: ScimServer) -> None:
    writer, _, report = two_users(scim_server)
    scim_server.respond(500, None, method="PATCH", times=None)
    scim_server.respond(500, None, method="PUT", times=None)
    with pytest.raises(ServiceUnavailableError):
        writer.update(report, {"job_title": "X"})
    assert [m for m, _ in scim_server.writes] == ["PATCH"] * 3 + ["PUT"] * 3


def test_a_conflict_finds_the_user_where_the_filter_is_case_sensitive(
    scim_server: ScimServer,
) -> None:
    [seeded] = scim_server.seed([{"userName": "Person.One@Example.com"}])
    scim_server.dialect = "case-sensitive-filter"
    writer = ScimWriter(scim_server.client())
    user = writer.create({"email": "person.one@example.com", "job_title": "T"}, "emp-1")
    assert user.id == seeded["id"] and user.external_id == "emp-1"
    assert any("filter" in call.query for call in scim_server.calls)
    assert len(writer.client.list_users()) == 1


def test_a_bulk_patch_refused_for_its_form_climbs_the_ladder_alone(
    scim_server_factory: ScimServerFactory,
) -> None:
    server = scim_server_factory(SMALL_BULK)
    writer, boss, report = two_users(server)
    other = writer.create({"email": "other@example.com"}, "emp-3")
    server.reset_counts()
    refused = {"status": "400", "scimType": "noTarget", "detail": "no target"}
    answer = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],
        "Operations": [
            {"method": "PATCH", "bulkId": "w0", "status": "400", "response": refused},
            {"method": "PATCH", "bulkId": "w1", "status": "204"},
        ],
    }
    server.respond(200, answer, method="POST", path="/Bulk")
    writes = [
        ScimWrite.for_update(report, {"manager_id": boss.id}),
        ScimWrite.for_update(other, {"job_title": "X"}),
    ]
    results = write_many(writer, writes)
    assert all(r.ok for r in results)
    # The refused one alone, in the other form; the first form is not sent again.
    assert server.writes == [("POST", "/Bulk"), ("PATCH", f"/Users/{report.id}")]
    assert patches(server) == [[f"{ENTERPRISE}:manager"]]
    assert writer.client.get(report.id).values["manager_id"] == boss.id
    assert writer.dialect.forms == {MANAGER: "whole"}
