"""Parallel paging of GET /Users against scim2-server (maxResults 20), through the test proxy:
pages fetched at once, short pages, and users added or deleted while the list is read."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.scim_fixtures import ScimServer

PAGE = 20  # maxResults of the HiThrive-like server


def seed(server: ScimServer, count: int, prefix: str = "user") -> list[str]:
    created = server.seed(
        [
            {"userName": f"{prefix}{i:04}@example.com", "externalId": f"{prefix}{i}"}
            for i in range(count)
        ]
    )
    return [resource["id"] for resource in created]


def list_queries(server: ScimServer) -> list[str]:
    return [c.query for c in server.calls if c.method == "GET" and c.path == "/Users"]


def test_no_extra_request_and_pages_overlap(scim_server: ScimServer) -> None:
    ids = seed(scim_server, 253)
    # Proof of concurrency: page 3's request waits at the proxy until page 4's has arrived,
    # which can only happen when they are in flight together.
    page4_arrived = threading.Event()
    scim_server.before(
        lambda _: page4_arrived.wait(10), method="GET", path="/Users", query="startIndex=41&"
    )
    scim_server.before(
        lambda _: page4_arrived.set(), method="GET", path="/Users", query="startIndex=61&"
    )
    users = scim_server.client().list_users()
    assert page4_arrived.is_set()
    assert sorted(u.id for u in users) == sorted(ids)  # each once
    queries = list_queries(scim_server)
    assert len(queries) == 13  # ceil(253 / 20): not one more
    assert sorted(queries) == sorted(f"startIndex={1 + n * PAGE}&count={PAGE}" for n in range(13))


def test_a_short_page_is_filled_from_where_it_ended(scim_server: ScimServer) -> None:
    ids = seed(scim_server, 100)

    def cut(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "Resources": body["Resources"][:15], "itemsPerPage": 15}

    scim_server.rewrite(cut, method="GET", path="/Users", query="startIndex=41&")
    users = scim_server.client().list_users()
    assert sorted(u.id for u in users) == sorted(ids)
    queries = list_queries(scim_server)
    assert "startIndex=56&count=5" in queries  # the gap, and only the gap
    assert len(queries) == 6


def test_a_short_first_page_sets_the_page_size(scim_server: ScimServer) -> None:
    ids = seed(scim_server, 45)

    def cut(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "Resources": body["Resources"][:10]}

    scim_server.rewrite(cut, method="GET", path="/Users", query="startIndex=1&")
    users = scim_server.client().list_users()
    assert sorted(u.id for u in users) == sorted(ids)
    assert sorted(list_queries(scim_server)) == sorted(
        f"startIndex={start}&count={PAGE}" for start in (1, 11, 21, 31, 41)
    )


Change = Callable[[ScimServer, list[str]], tuple[set[str], set[str]]]


def add_three(server: ScimServer, ids: list[str]) -> tuple[set[str], set[str]]:
    return set(seed(server, 3, prefix="late")), set()


def delete_three(server: ScimServer, ids: list[str]) -> tuple[set[str], set[str]]:
    gone = {ids[5], ids[50], ids[120]}
    for user_id in gone:
        server.delete(user_id)
    return set(), gone


def add_and_delete(server: ScimServer, ids: list[str]) -> tuple[set[str], set[str]]:
    added = set(seed(server, 4, prefix="late"))
    _, gone = delete_three(server, ids)
    return added, gone


@pytest.mark.parametrize("change", [add_three, delete_three, add_and_delete])
@pytest.mark.parametrize(
    "when",
    ["startIndex=21&", "startIndex=81&", "startIndex=141&"],  # 2nd page (read alone), later
)
def test_users_added_or_deleted_while_listing(
    scim_server: ScimServer, change: Change, when: str
) -> None:
    ids = seed(scim_server, 150)
    outcome: dict[str, tuple[set[str], set[str]]] = {}

    def act(_: Any) -> None:
        outcome["change"] = change(scim_server, ids)

    scim_server.before(act, method="GET", path="/Users", query=when)
    users = scim_server.client().list_users()
    added, gone = outcome["change"]
    listed = [u.id for u in users]
    assert len(listed) == len(set(listed))  # no duplicates
    assert set(listed) == (set(ids) - gone) | added  # no one missed, no one gone listed
    assert len(list_queries(scim_server)) > 8  # ceil(150 / 20): the list was read again
