"""Listing every SCIM user: the first pages in turn, then the rest at once, under the limiter.

Index paging (RFC 7644 section 3.4.2.4) tells, on the first page, how many users there are
(`totalResults`) and, by what it returns, the page size the server really uses (it may cap
`count` below what it announced). From then on every page's startIndex is known, so the
remaining pages are fetched concurrently, as many at a time as the client's limiter allows:
with HiThrive-like pages of 20, a quiet night's listing is otherwise one round trip per 20
users, one after another.

The second page is read on its own first: a server that ignores startIndex (and returns the
first page again) is caught after one extra call, not after hundreds sent at once.

Robustness, with no extra request when nothing moved (ceil(total / page) calls):
- a short page (fewer users than the page size, before the end) leaves a gap: the listing
  re-fetches from where that page ended; an empty page where its totalResults says users
  remain is a broken answer (retried, then 69), never the end of the list;
- the number of pages is checked against max_pages before any is planned, so a
  totalResults of a hundred million costs nothing;
- users added or removed while listing shift every later index: a page whose totalResults
  differs from the first page's, a gap that cannot be filled, or a final count that is not
  totalResults mean the list moved under us; the listing then starts again sequentially,
  page after page, as a listing always did.
Counts cannot see everything: while exactly as many users are added as removed, a user whose
index moves across a page boundary can be missed, as with sequential paging. The next night
lists it; meanwhile its employee's create meets 409 and adopts the user, never duplicates it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from hibob_sync.bounded import BrokenAnswer, load_json
from hibob_sync.errors import HibobSyncError, RemoteError
from hibob_sync.interrupts import stop_pool
from hibob_sync.limiter import Limiter
from hibob_sync.model import ScimUser
from hibob_sync.scim.attributes import get_ci
from hibob_sync.scim.discovery import as_count, wrong_scim_url


class PagedClient(Protocol):
    """What listing needs of the SCIM client (scim.ScimClient), so the two import one way."""

    base_url: str
    service: str
    limiter: Limiter

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
        expect_json: bool = True,
        parse: Callable[[bytes], Any] | None = None,
    ) -> tuple[requests.Response, Any]: ...

    def error(self, response: requests.Response, payload: Any, what: str) -> HibobSyncError: ...

    def read_page(self, resources: list[Any], start: int) -> list[ScimUser]: ...


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One list answer: where it started, how many resources came, its users and total."""

    start: int
    size: int
    users: list[ScimUser]
    total: int | None


def read_page(client: PagedClient, start: int, count: int) -> Page:
    """GET /Users?startIndex=start&count=count."""
    response, body = client.request(
        "GET",
        "/Users",
        what="listing users",
        params={"startIndex": start, "count": count},
        parse=lambda content: _checked_page(content, start),
    )
    if response.status_code == 404:
        raise wrong_scim_url(client.base_url, "/Users is not there (HTTP 404)")
    if not response.ok:
        raise client.error(response, body, "listing users")
    resources = get_ci(body, "Resources") if isinstance(body, Mapping) else None
    if not isinstance(resources, list):
        resources = []
    total = as_count(get_ci(body, "totalResults")) if isinstance(body, Mapping) else None
    return Page(start, len(resources), client.read_page(resources, start), total)


def _checked_page(content: bytes, start: int) -> Any:
    """A list answer, refused (BrokenAnswer: retried, then 69) when it is empty where its own
    totalResults says users remain: read as the end, it would make every employee a create."""
    body = load_json(content)
    if isinstance(body, Mapping):
        resources = get_ci(body, "Resources")
        total = as_count(get_ci(body, "totalResults"))
        if not resources and total is not None and start <= total:
            raise BrokenAnswer(
                f"no users at startIndex={start} although its totalResults is {total}"
            )
    return body


def _ignores_paging(client: PagedClient, page: Page) -> RemoteError:
    return RemoteError(
        f"{client.service} returned the same users again at startIndex={page.start}; "
        "it seems to ignore index paging, so the user list would be incomplete"
    )


def _pages_limit(client: PagedClient, max_pages: int) -> RemoteError:
    return RemoteError(f"{client.service}: listing users did not end after {max_pages} pages")


def list_users(client: PagedClient, count: int, max_pages: int) -> list[ScimUser]:
    """Every user (see module docstring); bounded so a server that never ends cannot hang."""
    first = read_page(client, 1, count)
    users = {user.id: user for user in first.users}
    total, size = first.total, first.size
    if size == 0 or (total is not None and total <= size):
        return list(users.values())
    second = read_page(client, 1 + size, count)
    if total is None:  # no count to plan by: on from here, as a listing always went
        return _sequential(client, count, max_pages, first, second)
    if second.total != total or second.size == 0:
        return _moved(client, count, max_pages)
    if second.users and all(user.id in users for user in second.users):
        raise _ignores_paging(client, second)
    pages = [second]
    starts = range(1 + 2 * size, total + 1, size)  # a range: a huge total is never listed out
    if 2 + len(starts) > max_pages:
        raise _pages_limit(client, max_pages)
    if starts:
        workers = min(len(starts), client.limiter.ceiling)
        with stop_pool(workers, "scim-list", on_stop=client.limiter.stop) as pool:
            pages += list(pool.map(lambda start: read_page(client, start, count), starts))
    for page in pages:
        if page.total != total:
            return _moved(client, count, max_pages)
        for user in page.users:
            users.setdefault(user.id, user)
        wanted = min(size, total - page.start + 1)
        if page.size < wanted and not _fill_gap(client, page, wanted, count, users, total):
            return _moved(client, count, max_pages)
    if len(users) != total:
        return _moved(client, count, max_pages)
    return list(users.values())


def _moved(client: PagedClient, count: int, max_pages: int) -> list[ScimUser]:
    """The counts disagree: users came or went while listing. Read it all again, in turn."""
    log.info("%s: the user list changed while it was read; listing again", client.service)
    return _sequential(client, count, max_pages)


def _fill_gap(
    client: PagedClient,
    page: Page,
    wanted: int,
    count: int,
    users: dict[str, ScimUser],
    total: int,
) -> bool:
    """Read what a short page left out; False when the list moved or the gap stays open."""
    start, end = page.start + page.size, page.start + wanted
    while start < end:
        more = read_page(client, start, min(count, end - start))
        if more.size == 0 or more.total != total:
            return False
        for user in more.users:
            users.setdefault(user.id, user)
        start += more.size
    return True


def _sequential(client: PagedClient, count: int, max_pages: int, *read: Page) -> list[ScimUser]:
    """Page after page from where `read` left off (from the start when nothing was read)."""
    users: dict[str, ScimUser] = {}
    start = 1
    pages = list(read)
    for _ in range(max_pages):
        page = pages.pop(0) if pages else read_page(client, start, count)
        if page.size == 0:
            return list(users.values())
        if page.users and all(user.id in users for user in page.users):
            raise _ignores_paging(client, page)
        for user in page.users:
            users.setdefault(user.id, user)
        start = page.start + page.size
        if page.total is not None and start > page.total:
            return list(users.values())
    raise _pages_limit(client, max_pages)
