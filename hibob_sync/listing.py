"""The SCIM users, read while HiBob is read: the two services wait on different networks.

A night's two reads do not depend on each other: HiBob's people search (one large answer) and
the SCIM listing (many pages, where HiThrive gives 20 users a page). One after the other, a
quiet night waits for both; side by side, for the longer. The run still decides in the old
order: HiBob's errors and safeguards first, then the listing's. A run that HiBob stops stops
the listing too (the limiter refuses its next page), so no time is spent on pages nobody
will read.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager

from hibob_sync.interrupts import stop_pool
from hibob_sync.mapping import FieldMapping
from hibob_sync.model import ScimUser
from hibob_sync.safeguards import check_targets
from hibob_sync.scim import ScimClient


class Listing:
    """The users of a listing under way; `users()` waits for them (or raises its error)."""

    def __init__(self, future: Future[list[ScimUser]]) -> None:
        self._future = future

    def users(self) -> list[ScimUser]:
        return self._future.result()


def _list(scim: ScimClient, mapping: FieldMapping, keep_resources: bool) -> list[ScimUser]:
    if keep_resources:
        scim.keep_resources = True
    check_targets(mapping, scim.missing_attributes(scim.discover()))
    return scim.list_users()


@contextmanager
def listing_meanwhile(
    scim: ScimClient, mapping: FieldMapping, *, keep_resources: bool
) -> Iterator[Listing]:
    """Discover the server, check the mapped attributes exist and list the users, in a worker
    thread while the block runs (see module docstring)."""
    with stop_pool(1, "scim-listing", on_stop=scim.limiter.stop) as pool:
        future = pool.submit(_list, scim, mapping, keep_resources)
        try:
            yield Listing(future)
        except BaseException:
            if not future.done():
                scim.limiter.stop()  # the run ends here: no more pages for it
            raise
