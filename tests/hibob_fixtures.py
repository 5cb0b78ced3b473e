"""HiBob sandbox fixtures (a pytest plugin: ``pytest_plugins = ["tests.hibob_fixtures"]``).

``hibob_sandbox``: a started ScriptedSandbox (``tests/hibob_faults.py``: faults and records)
per test: 40 seeded employees, a service user with every category and people scope "all" as
``.user_id`` / ``.token``, a rate limiter on ``hibob_clock``. ``hibob_clock``: a fake clock
whose ``sleep`` records the wait and moves time on instead of sleeping. ``hibob_http``:
HttpSettings on that clock. ``hibob_client``: a HibobClient for the sandbox's user;
``make_hibob_client(user_id=..., token=..., **http)`` builds others (different users, fewer
attempts...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from hibob_sync.hibob.client import HibobClient
from hibob_sync.http import HttpSettings
from hibob_sync.sandbox import generate_company
from tests.hibob_faults import ScriptedSandbox

HIBOB_USER_ID = "sandbox-service-user"
HIBOB_TOKEN = "sandbox-token-never-shown"
SANDBOX_EMPLOYEES = 40
SANDBOX_SEED = 7
SANDBOX_TODAY = date(2025, 6, 15)


class FakeClock:
    """Epoch-like time that only moves when code sleeps; every sleep is recorded."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def hibob_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hibob_sandbox(hibob_clock: FakeClock) -> Iterator[ScriptedSandbox]:
    company = generate_company(SANDBOX_EMPLOYEES, SANDBOX_SEED, today=SANDBOX_TODAY)
    sandbox = ScriptedSandbox(company, user_id=HIBOB_USER_ID, token=HIBOB_TOKEN, clock=hibob_clock)
    with sandbox:
        yield sandbox


@pytest.fixture
def hibob_http(hibob_clock: FakeClock) -> HttpSettings:
    """Short timeouts, four attempts, and waits recorded on the fake clock."""
    return HttpSettings(
        connect_timeout=5,
        read_timeout=30,
        max_attempts=4,
        sleep=hibob_clock.sleep,
        clock=hibob_clock,
    )


@pytest.fixture
def make_hibob_client(
    hibob_sandbox: ScriptedSandbox, hibob_http: HttpSettings
) -> Iterator[Callable[..., HibobClient]]:
    clients: list[HibobClient] = []

    def make(user_id: str = HIBOB_USER_ID, token: str = HIBOB_TOKEN, **http: Any) -> HibobClient:
        settings = dataclasses.replace(hibob_http, **http) if http else hibob_http
        client = HibobClient(hibob_sandbox.url, user_id, token, settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def hibob_client(make_hibob_client: Callable[..., HibobClient]) -> HibobClient:
    return make_hibob_client()
