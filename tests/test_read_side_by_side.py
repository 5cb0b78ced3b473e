"""HiBob and the SCIM listing are read side by side, and the run still decides in order."""

from __future__ import annotations

import threading

from tests.sync_fixtures import SyncEnv

HANG_GUARD = 20.0  # seconds; only reached when the two reads run one after the other


def test_the_scim_listing_runs_while_hibob_answers(sync_env: SyncEnv) -> None:
    sync_env.write_config()
    listing = threading.Event()
    sync_env.scim.before(lambda _: listing.set(), method="GET", path="/Users", query="")
    seen = sync_env.sandbox.hold_next_until(listing, HANG_GUARD, path="/v1/people/search")
    result = sync_env.run()
    assert result.exit_code in (0, 1), result.output  # 1: the company plants bad emails
    assert seen == [True]  # the listing had begun before HiBob's answer left
    assert sync_env.users()  # and the run went on to write from both answers


def test_hibob_errors_come_first_and_stop_the_listing(sync_env: SyncEnv) -> None:
    sync_env.write_config()
    sync_env.scim.seed(
        [{"userName": f"by-hand-{n}@example.com", "active": True} for n in range(60)]
    )
    sync_env.scim.reset_counts()
    sync_env.scim.respond(500, method="GET", path="/Users", times=None)  # SCIM down too
    sync_env.sandbox.fail_next(1, status=401, path="/v1/people/search")
    result = sync_env.run()
    assert result.exit_code == 77, result.output  # HiBob's refusal, not SCIM's outage (69)
    assert "HiBob" in result.stderr
    assert not sync_env.scim.writes


def test_a_scim_error_still_counts_once_hibob_is_read(sync_env: SyncEnv) -> None:
    sync_env.write_config()
    sync_env.scim.respond(401, method="GET", path="/Users", times=None)
    result = sync_env.run()
    assert result.exit_code == 77, result.output
    assert "SCIM" in result.stderr or "HiThrive" in result.stderr
    assert sync_env.sandbox.request_count("search") == 1  # HiBob was read all the same
