"""Retries budgeted by time: a 429 waits what the server asks within the run's one wait budget
(sync.max_wait), a 5xx keeps a bounded number of attempts, a request out of budget fails its
employee (exit 1), and only a server refusing every write ends the night (69).

Against scim2-server behind the counting proxy (tests/scim_fixtures.py), which answers the
429s itself; every wait lands on the fake clock, never in real time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from hibob_sync.core.report import rate_limit_text
from hibob_sync.errors import RateLimitedError, ServiceUnavailableError
from hibob_sync.http import HttpSettings
from hibob_sync.retry_policy import WaitBudget
from hibob_sync.scim.client import ScimClient
from hibob_sync.scim.writes import ScimWriter
from tests.hibob_fixtures import FakeClock
from tests.scim_fixtures import ScimServer
from tests.sync_fixtures import SyncEnv
from tests.test_run_dialects import one_at_a_time

ERROR = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "429"}
PLAIN = {"Content-Type": "text/plain"}  # some limiters answer in plain text


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(scim_server: ScimServer, clock: FakeClock) -> Iterator[Callable[..., ScimClient]]:
    clients: list[ScimClient] = []

    def make(budget: float = 900.0) -> ScimClient:
        http = HttpSettings(
            max_attempts=3,
            sleep=clock.sleep,
            clock=clock,
            wait_budget=WaitBudget(budget, clock),
        )
        client = ScimClient(scim_server.url, scim_server.token, http)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_a_429_waits_as_asked_however_many_times_while_the_budget_lasts(
    scim_server: ScimServer, make_client: Callable[..., ScimClient], clock: FakeClock
) -> None:
    client = make_client()
    client.discover()
    scim_server.respond(
        429, "slow down", path="/Users", times=10, headers={**PLAIN, "X-Retry-After": "5"}
    )
    assert client.list_users() == []  # ten 429s, more than max_attempts: still read
    assert clock.sleeps == [5.0] * 10


def test_out_of_budget_a_request_gives_up_as_rate_limited_not_unavailable(
    scim_server: ScimServer, make_client: Callable[..., ScimClient], clock: FakeClock
) -> None:
    client = make_client(budget=12.0)
    client.discover()
    scim_server.respond(429, ERROR, path="/Users", times=None, headers={"RateLimit-Reset": "5"})
    with pytest.raises(RateLimitedError, match=r"429.*sync\.max_wait 12s"):
        client.list_users()
    assert clock.sleeps == [5.0, 5.0]  # a third wait would pass the 12 s budget
    assert client._http.wait_budget is not None
    assert client._http.wait_budget.report() == {"max_wait": 12.0, "waited": 10.0, "gave_up": 1}


def test_a_5xx_keeps_its_bounded_attempts(
    scim_server: ScimServer, make_client: Callable[..., ScimClient], clock: FakeClock
) -> None:
    client = make_client()
    client.discover()
    scim_server.respond(503, None, path="/Users", times=None, headers={"Retry-After": "2"})
    with pytest.raises(ServiceUnavailableError, match="after 3 attempts"):
        client.list_users()
    assert clock.sleeps == [2.0, 2.0]


def test_no_request_left_in_the_window_holds_the_next_until_it_resets(
    scim_server: ScimServer, make_client: Callable[..., ScimClient], clock: FakeClock
) -> None:
    client = make_client()
    client.discover()
    reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock.now) + 4)}
    scim_server.respond(200, {"Resources": [], "totalResults": 0}, path="/Users", headers=reset)
    client.list_users()
    assert clock.sleeps == []  # that answer came through
    client.list_users()  # the next waits for the window's reset before it is sent
    assert clock.sleeps == [4.0]
    assert scim_server.count("GET", "/Users") == 2  # and no 429 was needed to learn it


def test_a_wait_budget_counts_waits_side_by_side_once(clock: FakeClock) -> None:
    budget = WaitBudget(30.0, clock)
    assert budget.take(10.0) and budget.take(10.0) and budget.take(4.0)  # 32 writers, one window
    assert budget.spent == 10.0
    clock.advance(10.0)
    assert budget.take(15.0) and budget.spent == 25.0
    assert not budget.take(21.0)  # 6 s past the waits under way: would pass 30
    assert budget.spent == 25.0  # nothing spent by a wait that did not fit
    assert budget.take(20.0) and budget.spent == 30.0


# -- a whole run ----------------------------------------------------------------------------


def test_a_request_out_of_budget_fails_its_employee_not_the_night(sync_env: SyncEnv) -> None:
    one_at_a_time(sync_env)  # so the two 429s meet the same request
    sync_env.config.write_text(sync_env.config.read_text() + "  max_wait: 30s\n")
    sync_env.scim.respond(
        429, ERROR, method="POST", path="/Users", times=2, headers={"Retry-After": "20"}
    )
    result = sync_env.run("--json")
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    [failure] = [f for f in summary["failures"] if "429" in f["reason"]]
    assert failure["employee_id"] and failure["new"]
    assert "sync.max_wait 30s" in failure["reason"]
    assert summary["counts"]["create"] == len(sync_env.users()) > 30
    assert summary["rate_limit"] == {"max_wait": 30.0, "waited": 20.0, "gave_up": 1}
    assert sync_env.clock.sleeps == [20.0]
    again = sync_env.run()  # the next night finishes the job
    assert again.exit_code == 0, again.output


def test_a_server_refusing_every_write_past_the_budget_ends_the_night_69(
    sync_env: SyncEnv,
) -> None:
    sync_env.config.write_text(sync_env.config.read_text() + "  max_wait: 1m\n")
    sync_env.scim.respond(
        429,
        "Too Many Requests",
        method="POST",
        path="/Users",
        times=None,
        headers={**PLAIN, "Retry-After": "45"},
    )
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert "refused every write with 429" in result.stderr
    assert sync_env.users() == []


def test_the_summary_says_what_was_waited_and_the_limit_learnt() -> None:
    text = rate_limit_text(
        {"max_wait": 900.0, "waited": 41.5, "gave_up": 2, "limit": "a fixed window of about 100"}
    )
    assert text == (
        "Rate limited (HTTP 429): waited 41.5s of sync.max_wait 900s; 2 request(s) gave up "
        "when it ran out; the server's limit: a fixed window of about 100."
    )


def test_a_conflict_looks_up_that_one_user_never_the_whole_list(scim_server: ScimServer) -> None:
    """Every request counts against a rate limit: a 409 costs a search or two, no listing."""
    seeded = scim_server.seed(
        [{"userName": "Person.One@Example.com"}, {"userName": "person.two@example.com"}]
    )
    scim_server.dialect = "case-sensitive-filter"
    writer = ScimWriter(scim_server.client())
    writer.client.list_users()  # the run's listing, read before any write
    scim_server.reset_counts()
    one = writer.create({"email": "person.one@example.com"}, "emp-1")  # only the listing has it
    two = writer.create({"email": "Person.Two@Example.com"}, "emp-2")  # the search has it
    assert (one.id, two.id) == (seeded[0]["id"], seeded[1]["id"])
    reads = [c.query for c in scim_server.calls if c.method == "GET"]
    assert len(reads) == 2 and all("filter=" in query for query in reads)


# -- commands beside the run ----------------------------------------------------------------


def test_check_waits_for_429s_within_sync_max_wait_across_its_requests(
    sync_env: SyncEnv,
) -> None:
    sync_env.config.write_text(sync_env.config.read_text() + "  max_wait: 30s\n")
    sync_env.scim.respond(
        429, ERROR, method="GET", path="/Users", times=None, headers={"Retry-After": "20"}
    )
    result = sync_env.cli("check")
    assert result.exit_code == 69, result.output
    assert "sync.max_wait 30s" in result.stdout
    # One 20 s wait fits the 30 s budget, a second does not: not 15 minutes per request.
    assert sync_env.clock.sleeps == [20.0]

    result = sync_env.cli("explain", "nobody@nowhere.example")  # explain: the same budget
    assert result.exit_code == 69 and "sync.max_wait 30s" in result.stderr, result.output
    assert sync_env.clock.sleeps == [20.0, 20.0]


def test_connect_has_its_own_short_budget_for_429s(sync_env: SyncEnv) -> None:
    sync_env.scim.respond(
        429, ERROR, method="GET", path="/Users", times=None, headers={"Retry-After": "25"}
    )
    result = sync_env.cli("connect", "--from-env")
    assert result.exit_code == 69, result.output
    assert "connect's own budget 60s" in result.stderr
    assert "sync.max_wait" not in result.output
    assert sync_env.clock.sleeps == [25.0, 25.0]  # a third would pass its 60 s


def test_the_retry_line_counts_only_the_bounded_attempts(sync_env: SyncEnv) -> None:
    sync_env.scim.respond(429, ERROR, method="GET", path="/Users", times=3)
    sync_env.scim.respond(503, None, method="GET", path="/Users", times=1)
    result = sync_env.cli("plan")
    assert "retrying in" in result.stderr, result.output
    assert "(attempt 2 of " in result.stderr and "(attempt 5 of " not in result.stderr


def test_check_help_names_every_exit_it_can_end_with(sync_env: SyncEnv) -> None:
    """69 above (a 429 past the budget); the help and README must not leave it out."""
    text = " ".join(sync_env.cli("check", "--help").stdout.split())
    assert "69 when HiBob or HiThrive stayed unavailable" in text
    assert all(f"{code} for" in text for code in (77, 78)) and "65" not in text
    explain = " ".join(sync_env.cli("explain", "--help").stdout.split())
    assert "69 when a service stayed unavailable" in explain  # it ends 69 above too


def test_scope_values_waits_within_sync_max_wait_not_per_request(sync_env: SyncEnv) -> None:
    sync_env.config.write_text(sync_env.config.read_text() + "  max_wait: 30s\n")
    sync_env.sandbox.fail_next(20, 429, headers={"Retry-After": "20"})
    result = sync_env.cli("scope", "values", "work.site")
    assert result.exit_code == 69, result.output
    assert "sync.max_wait 30s" in result.stderr
    assert sync_env.clock.sleeps == [20.0]  # the catalogue's wait; the search has none left


def test_map_extra_shares_one_budget_across_hibob_and_the_scim_server(sync_env: SyncEnv) -> None:
    sync_env.config.write_text(sync_env.config.read_text() + "  max_wait: 30s\n")
    sync_env.scim.respond(
        429, ERROR, method="GET", path="/Users", times=None, headers={"Retry-After": "20"}
    )
    sync_env.scim.respond(
        429, ERROR, method="GET", path="/Schemas", times=None, headers={"Retry-After": "20"}
    )
    sync_env.sandbox.fail_next(1, 429, headers={"Retry-After": "20"})
    result = sync_env.cli("map", "extra", "timezone", "work.site")
    # HiBob's one 20 s wait spends most of the 30 s: the SCIM server's 429s are not waited.
    assert sync_env.clock.sleeps == [20.0], result.output
