"""Shared checks for the fault, bad-input and secrets tests: "in sync", no duplicates, no leak."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.sync_fixtures import SyncEnv
from tests.test_run import actual, expected_users, is_active_in_hibob

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def scim_writes(env: SyncEnv) -> list[tuple[str, str]]:
    """The SCIM requests that could change data, as the proxy saw them."""
    return [(m, p) for m, p in env.scim.requests if m in WRITES]


def assert_no_duplicates(users: list[dict[str, Any]]) -> None:
    """No two SCIM users share a userName (case-insensitive) or an externalId."""
    names = Counter(u["userName"].strip().lower() for u in users)
    assert [n for n, c in names.items() if c > 1] == []
    externals = Counter(u["externalId"] for u in users if u.get("externalId"))
    assert [e for e, c in externals.items() if c > 1] == []


def assert_in_sync(env: SyncEnv) -> None:
    """SCIM holds exactly what HiBob says, once each, and one more run writes nothing."""
    users = env.users()
    assert_no_duplicates(users)
    email_of = {u["id"]: u["userName"].lower() for u in users}
    by_external = {u["externalId"]: u for u in users if u.get("externalId")}
    expected = expected_users(env)
    assert set(by_external) == set(expected)
    for employee_id, want in expected.items():
        got = actual(by_external[employee_id], email_of)
        manager, got_manager = want.pop("manager_email"), got.pop("manager_email")
        assert got == want, employee_id
        if manager and manager.strip().lower() in email_of.values():
            assert got_manager == manager.strip().lower(), employee_id
        assert by_external[employee_id]["active"] is is_active_in_hibob(env, employee_id)

    env.scim.reset_counts()
    result = env.run("--json")
    # The seeded sandbox always holds bad records (no email, a duplicate); the run before
    # had them too, so they are still named but exit 0 (spec.md, exit codes).
    assert result.exit_code == 0, result.output
    assert scim_writes(env) == []
    summary = json.loads(result.stdout)
    assert summary["counts"]["unchanged"] == len(expected)
    assert summary["failures"] and not any(f["new"] for f in summary["failures"])


def leaks(secrets: Iterable[str], **texts: str | bytes) -> list[str]:
    """Which named texts contain which secret: ``["stderr: <secret>", ...]``."""
    found = []
    for where, text in texts.items():
        raw = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
        for secret in secrets:
            if secret and secret.encode() in raw:
                found.append(f"{where}: {secret}")
    return found


def state_bytes(path: Path) -> bytes:
    """The state store's bytes, with any SQLite journal or WAL next to it."""
    data = b""
    for suffix in ("", "-journal", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            data += part.read_bytes()
    return data


@contextmanager
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every record of the tool's loggers (and urllib3's) at DEBUG in ``caplog``.

    The CLI stops ``hibob_sync`` records from propagating to the root logger (and resets that
    logger's handlers), so caplog's handler is put on each of its child loggers instead;
    urllib3's records reach caplog through the root logger.
    """
    import hibob_sync.sync.checks
    import hibob_sync.sync.run  # noqa: F401 - make sure every module logger exists

    names = [n for n in list(logging.Logger.manager.loggerDict) if n.startswith("hibob_sync.")]
    loggers = [logging.getLogger(name) for name in names]
    for logger in loggers:
        logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    # An earlier invocation without -vv in this process quietened urllib3; a fresh -vv
    # process would have it at debug level, logging every request line.
    urllib3 = logging.getLogger("urllib3")
    level = urllib3.level
    urllib3.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        urllib3.setLevel(level)
        for logger in loggers:
            logger.removeHandler(caplog.handler)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record, formatted with its arguments and any exception text."""
    handler = caplog.handler
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in handler.records)
