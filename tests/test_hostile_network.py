"""Against hostile or broken servers: redirects, proxies, ambiguous URLs, floods and trickles.

Each misbehaviour comes from a real server on loopback (tests/hostile_servers.py, the SCIM
proxy or the HiBob sandbox), through the real clients and the CLI.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hibob_sync.http import HttpSettings, make_session
from hibob_sync.sandbox.server import SEARCH_PATH
from tests.hostile_servers import (
    HostileFactory,
    endless_chunked,
    gzip_bomb,
    redirect,
    refuse,
    run_child,
    trickle,
)
from tests.reliability_helpers import assert_in_sync, scim_writes
from tests.sync_fixtures import SyncEnv
from tests.test_run import _active_employee
from tests.test_tls import tls_front, write_config  # noqa: F401 - tls_front is a fixture

REDIRECTS = [302, 303, 307, 308]
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


def new_failures(stdout: str) -> list[dict[str, Any]]:
    return [f for f in json.loads(stdout)["failures"] if f["new"]]


# -- redirects: never followed -----------------------------------------------------------------


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirected_create_is_a_failed_write_of_that_employee(
    sync_env: SyncEnv, hostile: HostileFactory, status: int
) -> None:
    assert sync_env.run().exit_code == 1  # the sandbox's planted bad records
    hire = sync_env.sandbox.company.add({"root.email": "new.hire@acme.example"})
    elsewhere = hostile(refuse)
    location = f"{elsewhere.url}/v2/Users"
    sync_env.scim.respond(status, method="POST", path="/Users", headers={"Location": location})

    result = sync_env.run("--json")
    assert result.exit_code == 1, result.output
    (failure,) = new_failures(result.stdout)
    assert failure["employee_id"] == hire
    assert f"HTTP {status}" in failure["reason"] and "never followed" in failure["reason"]
    assert hire not in sync_env.users_by_external_id()
    assert elsewhere.connections == 0  # neither followed nor the profile re-sent there

    # Nothing was counted as done: the next run creates that employee.
    assert sync_env.run().exit_code == 0
    assert_in_sync(sync_env)


def test_a_redirected_update_leaves_the_user_as_it_was(
    sync_env: SyncEnv, hostile: HostileFactory
) -> None:
    assert sync_env.run().exit_code == 1  # the sandbox's planted bad records
    employee_id = _active_employee(sync_env)
    before = sync_env.users_by_external_id()[employee_id]
    sync_env.sandbox.company.update(employee_id, {"work.title": "Chief Redirect Officer"})
    elsewhere = hostile(refuse)
    sync_env.scim.respond(
        307, method="PATCH", path="/Users", headers={"Location": f"{elsewhere.url}/x"}
    )

    result = sync_env.run("--json")
    assert result.exit_code == 1, result.output
    (failure,) = new_failures(result.stdout)
    assert failure["employee_id"] == employee_id and "HTTP 307" in failure["reason"]
    assert json.loads(result.stdout)["counts"]["update"] == 0
    assert sync_env.users_by_external_id()[employee_id]["title"] == before["title"]
    assert elsewhere.connections == 0


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirected_scim_read_is_a_wrong_url_naming_the_location(
    sync_env: SyncEnv, status: int
) -> None:
    location = "https://login.example/sso\x1b[2J"
    sync_env.scim.respond(
        status, method="GET", path="/Users", times=None, headers={"Location": location}
    )
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    assert "hithrive.scim_url" in result.stderr and f"HTTP {status}" in result.stderr
    assert "https://login.example/sso\\x1b[2J" in result.stderr  # named, escaped
    assert "\x1b" not in result.output and "Traceback" not in result.output
    assert scim_writes(sync_env) == []


def test_a_redirected_hibob_search_is_a_wrong_url(
    sync_env: SyncEnv, hostile: HostileFactory
) -> None:
    elsewhere = hostile(refuse)
    sync_env.sandbox.answer_next(
        301, b"", headers={"Location": f"{elsewhere.url}/login"}, path=SEARCH_PATH
    )
    result = sync_env.run()
    assert result.exit_code == 78, result.output
    assert "hibob.base_url" in result.stderr and f"{elsewhere.url}/login" in result.stderr
    assert elsewhere.connections == 0
    assert scim_writes(sync_env) == []


def test_a_healthcheck_redirect_is_not_followed(sync_env: SyncEnv, hostile: HostileFactory) -> None:
    elsewhere = hostile(refuse)
    monitor = hostile(redirect(302, f"{elsewhere.url}/ping"))
    sync_env.write_config(f"notify:\n  healthcheck_url: {monitor.url}/abc\n")
    result = sync_env.run()
    assert result.exit_code == 1, result.output  # the sandbox's bad records, as without pings
    assert len(monitor.requests) >= 2  # start and end of the run
    assert elsewhere.connections == 0


# -- proxies and URLs --------------------------------------------------------------------------


def test_loopback_never_goes_through_a_proxy(
    sync_env: SyncEnv, hostile: HostileFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = hostile(refuse)
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # The proxy set-up works: a host that is not loopback does go through it.
    with make_session(HttpSettings()) as session:
        assert session.get("http://proxy-check.example/", timeout=10).status_code == 502
    assert [seen.target for seen in proxy.requests] == ["http://proxy-check.example/"]

    assert sync_env.cli("check").exit_code == 0
    assert sync_env.run().exit_code == 1  # the sandbox's planted bad records
    assert len(proxy.requests) == 1  # neither credential went to the proxy
    assert sync_env.sandbox.request_count("search") >= 2


@pytest.mark.parametrize(
    ("key", "form", "words"),
    [
        ("hibob.base_url", "http://{other}\\@{good}", "backslash"),
        ("hithrive.scim_url", "http://{other}\\@{good}", "backslash"),
        ("hibob.base_url", "http://user:pa55word@{other}", "user name or password"),
        ("notify.healthcheck_url", "http://{other}\\@{good}", "backslash"),
    ],
)
def test_urls_read_differently_by_parsers_are_refused(
    sync_env: SyncEnv, hostile: HostileFactory, key: str, form: str, words: str
) -> None:
    other = hostile(refuse, host="127.0.0.2")  # where urllib3 would have connected
    good = {
        "hibob.base_url": sync_env.sandbox.url.removeprefix("http://"),
        "hithrive.scim_url": sync_env.scim.url.removeprefix("http://"),
        "notify.healthcheck_url": "127.0.0.1:9/ping",
    }[key]
    url = form.format(other=f"127.0.0.2:{other.port}", good=good)
    section, name = key.split(".")
    text = sync_env.config.read_text()
    if section == "notify":
        text += f"notify:\n  {name}: '{url}'\n"
    else:
        old = sync_env.sandbox.url if section == "hibob" else sync_env.scim.url
        text = text.replace(f"{name}: {old}", f"{name}: '{url}'")
    sync_env.config.write_text(text)

    for command in ("run", "check"):
        result = sync_env.cli(command)
        assert result.exit_code == 78, result.output
        assert key in result.stderr and words in result.stderr
        assert "pa55word" not in result.output
    assert other.connections == 0
    assert sync_env.sandbox.request_count() == 0 and sync_env.scim.requests == []


# -- sizes and deadlines -----------------------------------------------------------------------


def test_a_gzip_bomb_ends_named_with_bounded_memory(sync_env: SyncEnv) -> None:
    bomb = gzip_bomb()  # 1 MB that inflates to 1 GiB
    assert len(bomb) < 2 << 20
    sync_env.sandbox.answer_next(200, bomb, headers={"Content-Encoding": "gzip"}, path=SEARCH_PATH)
    child = run_child(sync_env.config, "run")
    assert child.exit_code == 69, child.stderr
    assert "HiBob (POST /v1/people/search)" in child.stderr
    assert "larger than 128 MiB after decoding" in child.stderr
    assert "Traceback" not in child.stderr
    assert child.peak_mb < 300, child.peak_mb  # reading it all would take over 1 GiB
    assert scim_writes(sync_env) == []


def test_an_endless_answer_ends_named_with_bounded_memory(
    sync_env: SyncEnv, hostile: HostileFactory
) -> None:
    endless = hostile(endless_chunked)
    text = sync_env.config.read_text().replace(sync_env.scim.url, f"{endless.url}/v2")
    sync_env.config.write_text(text)
    child = run_child(sync_env.config, "run")
    assert child.exit_code == 69, child.stderr
    assert "(GET /v2/ServiceProviderConfig)" in child.stderr
    assert "larger than 2 MiB after decoding" in child.stderr
    assert "Traceback" not in child.stderr
    assert child.peak_mb < 300, child.peak_mb
    assert len(endless.requests) == 1  # a flood is not retried


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_trickling_server_cannot_hold_a_request_past_sync_timeout(
    sync_env: SyncEnv, hostile: HostileFactory, where: str
) -> None:
    slow = hostile(trickle(where))  # a byte every 50 ms: no single read ever times out
    sync_env.write_config(timeout=1)
    text = sync_env.config.read_text().replace(sync_env.sandbox.url, f"{slow.url}/v1")
    sync_env.config.write_text(text)
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert "did not end within 1s (sync.timeout)" in result.stderr
    # Each attempt was cut at the deadline, then retried as a timeout is.
    assert len(slow.requests) == sync_env.http.max_attempts


def test_the_deadline_holds_over_tls(
    sync_env: SyncEnv,
    hostile: HostileFactory,
    tls_front: Any,  # noqa: F811 - the fixture imported above
) -> None:
    slow = hostile(trickle("body"))
    url, _ = tls_front(f"{slow.url}/v1")  # the front waits for the whole trickle
    write_config(
        sync_env,
        [f"  base_url: {url}", f"  ca_bundle: {tls_front.pki.ca}"],
        [f"  scim_url: {sync_env.scim.url}"],
    )
    with sync_env.config.open("a") as config:
        config.write("  timeout: 1\n")
    result = sync_env.run()
    assert result.exit_code == 69, result.output
    assert "did not end within 1s (sync.timeout)" in result.stderr
    assert len(slow.requests) == sync_env.http.max_attempts
