"""Many writes at once: through POST /Bulk where the server offers it, else a bounded pool.

Either way every ScimWrite gets one WriteResult, in order; a refusal of one user is a result,
while a rejected token, a missing permission or an unavailable server raise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from queue import Empty, SimpleQueue
from typing import Any

from hibob_sync.errors import RemoteError, ScimError
from hibob_sync.interrupts import finished, stop_pool
from hibob_sync.safe_text import shown
from hibob_sync.scim.attributes import (
    get_ci,
    new_resource,
    normalise_values,
    updated_user,
)
from hibob_sync.scim.client import user_path
from hibob_sync.scim.dialect import ladder_worthy
from hibob_sync.scim.discovery import ServerFeatures, as_status
from hibob_sync.scim.patch import patch_body
from hibob_sync.scim.values import typed_values
from hibob_sync.scim.writes import (
    ScimWrite,
    ScimWriter,
    WriteResult,
    check_answer,
    succeeded,
)

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
DEFAULT_BULK_OPERATIONS = 100
BULK_ROUND = 500  # writes handed to BulkWriter at once (it splits them by maxOperations)
FED_PER_WORKER = 4  # writes queued per pool thread: enough that none waits for work


def write_many(
    writer: ScimWriter, writes: Sequence[ScimWrite], concurrency: int = 4
) -> list[WriteResult]:
    """Every write's result, in order of `writes` (see write_each)."""
    results: list[WriteResult | None] = [None] * len(writes)
    write_each(writer, writes, concurrency, results.__setitem__)
    return [result for result in results if result is not None]


def write_each(
    writer: ScimWriter,
    writes: Sequence[ScimWrite],
    concurrency: int,
    on_result: Callable[[int, WriteResult], None],
) -> None:
    """Every write: through /Bulk where offered, else a bounded pool.

    `on_result(index, result)` is called in the caller's thread as each write ends (for
    /Bulk, as each round ends), so what was done is known even if a later write raises, and
    no result is kept here: a first sync of 50,000 holds only a few hundred at a time. The
    pool is fed as writes end, never drained between chunks to wait for a chunk's slowest.
    """
    if not writes:
        return
    features = writer.client.discover()
    if features.use_bulk and len(writes) > 1:
        bulk = BulkWriter(writer, features)
        for start in range(0, len(writes), BULK_ROUND):
            for offset, result in enumerate(bulk.run(writes[start : start + BULK_ROUND])):
                on_result(start + offset, result)
        return
    workers = max(1, concurrency)
    ended: SimpleQueue[Future[WriteResult]] = SimpleQueue()
    waiting = iter(range(len(writes)))
    pending: dict[Future[WriteResult], int] = {}
    with stop_pool(workers, "scim-write", on_stop=writer.client.limiter.stop) as pool:

        def feed() -> None:
            while len(pending) < FED_PER_WORKER * workers:
                index = next(waiting, None)
                if index is None:
                    return
                future = pool.submit(writer.write_one, writes[index])
                pending[future] = index
                future.add_done_callback(ended.put)

        try:
            feed()
            while pending:
                try:
                    future = ended.get(timeout=1.0)  # a timeout: Ctrl-C reaches this thread
                except Empty:
                    continue
                index = pending.pop(future)
                on_result(index, future.result())
                feed()
        except BaseException as exc:  # stopped: what the server took still counts
            stopped = isinstance(exc, KeyboardInterrupt)
            limiter = writer.client.limiter
            for index, result in finished(pool, pending, interrupted=stopped, on_stop=limiter.stop):
                on_result(index, result)
            raise


class BulkWriter:
    """POST /Bulk in batches within maxOperations and maxPayloadSize; map each outcome back."""

    def __init__(self, writer: ScimWriter, features: ServerFeatures) -> None:
        if not features.bulk:
            raise ValueError(f"{writer.client.service} does not announce bulk support")
        self.writer = writer
        self.client = writer.client
        self.features = features

    def run(self, writes: Sequence[ScimWrite]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(writes)
        pending: list[tuple[int, dict[str, Any]]] = []
        for index, write in enumerate(writes):
            if write.empty:
                results[index] = WriteResult(write, user=write.user)
                continue
            try:
                pending.append((index, self.operation(write, f"w{index}")))
            except RemoteError as exc:
                results[index] = WriteResult(write, error=exc)
        for batch in self.batches(pending):
            self.send(batch, writes, results)
        for index, result in enumerate(results):
            assert result is not None
            results[index] = self.settle(result)
        return [result for result in results if result is not None]

    def operation(self, write: ScimWrite, bulk_id: str) -> dict[str, Any]:
        """One BulkRequest operation: POST a new user, PATCH (or PUT) an existing one."""
        client = self.client
        values = typed_values(normalise_values(write.values), client.placement, self.features)
        if write.kind == "create":
            data = new_resource(
                values, write.external_id or "", write.active is not False, client.placement
            )
            return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data}
        assert write.user is not None
        user = write.user
        if "email" in values and not user.resource:
            user = client.get(user.id)  # its other addresses must survive the new work email
        step = self.writer.dialect.steps(values, client.placement, patch=self.features.patch)[0]
        if step.method == "PATCH":
            method = "PATCH"
            data = patch_body(
                user,
                values,
                client.placement,
                active=write.active,
                external_id=write.external_id,
                forms=step.forms,
            )
        else:
            method = "PUT"
            data = self.writer.put_body(user, values, write.active, write.external_id)
        return {
            "method": method,
            "path": user_path(user.id),
            "bulkId": bulk_id,
            "data": data,
        }

    def batches(
        self, pending: list[tuple[int, dict[str, Any]]]
    ) -> list[list[tuple[int, dict[str, Any]]]]:
        """Split so no request exceeds maxOperations or (when announced) maxPayloadSize."""
        max_operations = self.features.bulk_max_operations or DEFAULT_BULK_OPERATIONS
        max_payload = self.features.bulk_max_payload or None
        envelope = len(json.dumps({"schemas": [BULK_REQUEST], "Operations": []}))
        batches: list[list[tuple[int, dict[str, Any]]]] = []
        current: list[tuple[int, dict[str, Any]]] = []
        size = envelope
        for item in pending:
            item_size = len(json.dumps(item[1]).encode()) + 2
            full = len(current) >= max_operations
            too_big = max_payload is not None and size + item_size > max_payload
            if current and (full or too_big):
                batches.append(current)
                current, size = [], envelope
            current.append(item)
            size += item_size
        if current:
            batches.append(current)
        return batches

    def send(
        self,
        batch: list[tuple[int, dict[str, Any]]],
        writes: Sequence[ScimWrite],
        results: list[WriteResult | None],
    ) -> None:
        client = self.client
        body = {"schemas": [BULK_REQUEST], "Operations": [op for _, op in batch]}
        what = f"a bulk request of {len(batch)} writes"
        try:
            response, payload = client.request("POST", "/Bulk", what=what, body=body)
        except ScimError as exc:  # a redirect: not followed, so none of these was written
            if exc.status is None or not 300 <= exc.status < 400:
                raise
            for index, _ in batch:
                results[index] = WriteResult(writes[index], error=exc)
            return
        if not succeeded(response):
            error = client.error(response, payload, what)
            for index, _ in batch:
                results[index] = WriteResult(writes[index], error=error)
            return
        outcomes = get_ci(payload, "Operations") if isinstance(payload, Mapping) else None
        waiting = {op["bulkId"]: (index, op) for index, op in batch}
        for position, outcome in enumerate(outcomes if isinstance(outcomes, list) else []):
            if not isinstance(outcome, Mapping):
                continue
            # Match by bulkId; servers that echo it only for POST answer in request order.
            bulk_id = get_ci(outcome, "bulkId")
            if bulk_id not in waiting and position < len(batch):
                bulk_id = batch[position][1]["bulkId"]
            entry = waiting.pop(bulk_id, None)
            if entry is not None:
                index, op = entry
                results[index] = self.outcome(writes[index], op, outcome)
        for index, _ in waiting.values():
            results[index] = WriteResult(
                writes[index],
                error=RemoteError(
                    f"{client.service} did not report the outcome of this write in its bulk "
                    "answer; the next run will check it again"
                ),
            )

    def outcome(
        self, write: ScimWrite, op: Mapping[str, Any], outcome: Mapping[str, Any]
    ) -> WriteResult:
        """One per-operation outcome of a BulkResponse as a WriteResult."""
        client = self.client
        raw_status = get_ci(outcome, "status")
        if isinstance(raw_status, Mapping):  # draft servers: {"code": 201}
            raw_status = get_ci(raw_status, "code")
        status = as_status(raw_status)
        response = get_ci(outcome, "response")
        what = "creating a user" if write.user is None else f"updating user {shown(write.user.id)}"
        if status is None or not 200 <= status < 300:
            return WriteResult(write, error=client.scim_error(status, response, what))
        try:
            if write.kind == "create":
                user = self.writer.created(response, get_ci(outcome, "location"), op["data"])
            else:
                assert write.user is not None
                changes = normalise_values(write.values)
                check_answer(client.service, write.user, response, what)
                user = updated_user(
                    write.user, response, changes, client.placement, write.active, write.external_id
                )
        except RemoteError as exc:
            return WriteResult(write, error=exc)
        return WriteResult(write, user=user)

    def settle(self, result: WriteResult) -> WriteResult:
        """A refusal is settled one by one, as for a single request: a create's 409 adopts,
        its missing required attribute is named; a PATCH climbs the ladder (scim_dialect)."""
        write, error = result.write, result.error
        if not isinstance(error, RemoteError) or error.status is None:
            return result
        values = normalise_values(write.values)
        try:
            if write.kind == "create" and error.status == 409:
                user = self.writer.resolve_conflict(
                    values, write.external_id or "", write.active is not False, error
                )
            elif write.kind == "create":
                return WriteResult(write, error=self.writer.name_required(error, values))
            elif self._recoverable(write, error):
                assert write.user is not None
                user = self.writer.update(
                    write.user,
                    values,
                    active=write.active,
                    external_id=write.external_id,
                    refused=error.status,
                )
            else:
                return result
        except RemoteError as exc:
            return WriteResult(write, error=exc)
        return WriteResult(write, user=user)

    def _recoverable(self, write: ScimWrite, error: RemoteError) -> bool:
        """A bulk PATCH refused in a way another form of it may avoid."""
        scim_type = error.scim_type if isinstance(error, ScimError) else None
        if error.status is None or not ladder_worthy(error.status, scim_type):
            return False
        values = normalise_values(write.values)
        steps = self.writer.dialect.steps(values, self.client.placement, patch=self.features.patch)
        return steps[0].method == "PATCH"
