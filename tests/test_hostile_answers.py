"""Untrusted answers: nesting, broken records, paging that lies, ids and text from the server.

Every answer comes from a real server on loopback (the HiBob sandbox, scim2-server behind
the test proxy) made to misbehave, through the real clients and the CLI.
"""

from __future__ import annotations

import dataclasses
import json
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from hibob_sync.errors import RemoteError, ServiceUnavailableError
from hibob_sync.hibob.client import HibobClient
from hibob_sync.sandbox.server import SEARCH_PATH
from hibob_sync.scim.batch import write_many
from hibob_sync.scim.writes import ScimWrite, ScimWriter
from tests.hibob_faults import ScriptedSandbox
from tests.reliability_helpers import assert_in_sync, scim_writes
from tests.scim_fixtures import ERROR, ScimServer, ScimServerFactory
from tests.sync_fixtures import SyncEnv
from tests.test_run import _active_employee

DEEP = b'{"employees": [' + b"[" * 40_000 + b"]" * 40_000 + b"]}"  # 80 KB, 40,000 levels
MIB = 1 << 20


def new_failures(stdout: str) -> list[dict[str, Any]]:
    return [f for f in json.loads(stdout)["failures"] if f["new"]]


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of Python allocations inside the block, in bytes (tracemalloc)."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


# -- nesting -----------------------------------------------------------------------------------


def test_deep_json_from_hibob_is_a_broken_answer_in_bounded_memory(
    hibob_sandbox: ScriptedSandbox, make_hibob_client: Callable[..., HibobClient]
) -> None:
    client = make_hibob_client(max_attempts=2)
    for _ in range(2):
        hibob_sandbox.answer_next(200, DEEP, path=SEARCH_PATH)
    with peak_memory() as peak, pytest.raises(ServiceUnavailableError) as caught:
        client.search(["root.email"])
    assert "nested more than 64 levels deep" in str(caught.value)
    assert peak[0] < 20 * MIB  # a streaming parse of it took gigabytes


def test_deep_json_from_hibob_exits_69_named(sync_env: SyncEnv) -> None:
    for _ in range(sync_env.http.max_attempts):
        sync_env.sandbox.answer_next(200, DEEP, path=SEARCH_PATH)
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert "HiBob sent a broken answer: it is nested more than 64 levels deep" in result.stderr
    assert "Traceback" not in result.output and "RecursionError" not in result.output


@pytest.mark.parametrize("path", ["/Users", "/ServiceProviderConfig", "/Schemas"])
def test_deep_json_from_scim_exits_69_named(sync_env: SyncEnv, path: str) -> None:
    deep = b"[" * 40_000 + b"]" * 40_000
    sync_env.scim.respond(200, deep, method="GET", path=path, times=None)
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert "nested more than 64 levels deep" in result.stderr
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    assert scim_writes(sync_env) == []


# -- one broken HiBob record -------------------------------------------------------------------

BROKEN_TITLES = {
    "a byte that is not UTF-8": (b'"Eng\xffineer"', "work.title with bytes that are not UTF-8"),
    "a value nested too deep": (b"[" * 5000 + b"]" * 5000, "work.title nested more than"),
    "broken JSON": (b"tru", "record as broken JSON"),
}


@pytest.mark.parametrize("kind", list(BROKEN_TITLES))
def test_one_broken_hibob_record_sets_only_that_employee_aside(
    sync_env: SyncEnv, kind: str
) -> None:
    assert sync_env.run().exit_code == 1  # the sandbox's planted bad records
    employee_id = _active_employee(sync_env)
    before = sync_env.users_by_external_id()[employee_id]
    marker = "Title-4f1c-marker"
    sync_env.sandbox.company.update(employee_id, {"work.title": marker})
    broken, reason = BROKEN_TITLES[kind]
    quoted = json.dumps(marker).encode()
    sync_env.sandbox.rewrite_next(lambda body: body.replace(quoted, broken), path=SEARCH_PATH)

    sync_env.scim.reset_counts()
    result = sync_env.run("--json")
    assert result.exit_code == 1, result.output  # not 69: the night goes on
    (failure,) = new_failures(result.stdout)
    assert failure["employee_id"] == employee_id and reason in failure["reason"]
    assert scim_writes(sync_env) == []  # that user left alone, the others already in sync
    assert sync_env.users_by_external_id()[employee_id]["title"] == before["title"]
    assert "Traceback" not in result.output


# -- paging ------------------------------------------------------------------------------------


def seed_users(server: ScimServer, count: int) -> list[dict[str, Any]]:
    return server.seed(
        [{"userName": f"user{i:03}@acme.example", "externalId": f"e{i}"} for i in range(count)]
    )


def test_a_huge_total_is_refused_before_any_page_is_planned(scim_server: ScimServer) -> None:
    seed_users(scim_server, 25)
    scim_server.rewrite(
        lambda body: {**body, "totalResults": 100_000_000},
        method="GET",
        path="/Users",
        query="startIndex",
        times=10,
    )
    client = scim_server.client(page_size=20)
    with peak_memory() as peak, pytest.raises(RemoteError, match="did not end after 10000 pages"):
        client.list_users()
    assert peak[0] < 10 * MIB  # the list of 5,000,000 page starts was never built
    assert scim_server.count("GET", "/Users") == 2


def test_an_empty_page_with_more_announced_is_a_broken_answer(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1  # everyone created (and the planted bad records)
    total = len(sync_env.users())

    def empty(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "Resources": [], "itemsPerPage": 0}

    attempts = sync_env.http.max_attempts
    sync_env.scim.rewrite(empty, method="GET", path="/Users", query="startIndex=1&", times=attempts)
    sync_env.scim.reset_counts()
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert f"no users at startIndex=1 although its totalResults is {total}" in result.stderr
    assert scim_writes(sync_env) == []  # not read as "nobody there": no creates

    sync_env.scim.rewrite(empty, method="GET", path="/Users", query="startIndex=1&", times=1)
    sync_env.scim.reset_counts()
    assert sync_env.run().exit_code == 0  # once is retried like any broken answer
    assert scim_writes(sync_env) == []
    assert_in_sync(sync_env)


# -- ids and text from the server --------------------------------------------------------------


def test_a_scim_id_is_url_encoded_in_paths(scim_server: ScimServer) -> None:
    (seeded,) = seed_users(scim_server, 1)
    client = scim_server.client()
    (listed,) = client.list_users()
    tricky = dataclasses.replace(listed, id=f"{seeded['id']}#1")

    result = ScimWriter(client).write_one(ScimWrite.for_update(tricky, {"job_title": "Hacked"}))
    assert not result.ok and isinstance(result.error, RemoteError)
    assert ("PATCH", f"/Users/{seeded['id']}%231") in scim_server.writes
    assert ("PATCH", f"/Users/{seeded['id']}") not in scim_server.writes
    assert "title" not in direct_get(scim_server, seeded["id"])


def direct_get(server: ScimServer, user_id: str) -> dict[str, Any]:
    answer = requests.get(
        f"{server.direct_url}/Users/{user_id}",
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def test_a_bulk_email_change_keeps_the_other_addresses(
    scim_server_factory: ScimServerFactory,
) -> None:
    server = scim_server_factory(config="default")  # announces /Bulk
    seeded = server.seed(
        [
            {
                "userName": f"u{i}@acme.example",
                "externalId": f"e{i}",
                "emails": [
                    {"value": f"u{i}@acme.example", "type": "work", "primary": True},
                    {"value": f"u{i}@home.example", "type": "home"},
                ],
            }
            for i in range(2)
        ]
    )
    client = server.client()
    writes = [
        ScimWrite.for_update(user, {"email": user.user_name.replace("@", ".new@")})
        for user in client.list_users()
    ]
    results = write_many(ScimWriter(client), writes)
    assert all(result.ok for result in results), [r.error for r in results]
    assert server.count("POST", "/Bulk") == 1
    for i, user in enumerate(seeded):
        emails = {e["value"]: e.get("type") for e in direct_get(server, user["id"])["emails"]}
        assert emails == {f"u{i}.new@acme.example": "work", f"u{i}@home.example": "home"}


def test_a_scim_error_detail_is_shown_on_one_line(sync_env: SyncEnv) -> None:
    assert sync_env.run().exit_code == 1  # the sandbox's planted bad records
    hire = sync_env.sandbox.company.add({"root.email": "new.hire@acme.example"})
    refusal = {
        "schemas": [ERROR],
        "status": "400",
        "scimType": "invalid\x1b[2JValue",
        "detail": "refused\r\nVerdict: all good",
    }
    sync_env.scim.respond(400, refusal, method="POST", path="/Users")
    result = sync_env.run("--json")
    assert result.exit_code == 1, result.output
    (failure,) = new_failures(result.stdout)
    assert failure["employee_id"] == hire
    assert "invalid\\x1b[2JValue" in failure["reason"]
    assert "refused\\r\\nVerdict: all good" in failure["reason"]
    assert "\x1b" not in result.output and "\r" not in result.output
    assert not any(line.startswith("Verdict") for line in result.output.splitlines())
