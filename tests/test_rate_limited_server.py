"""A first sync against a rate-limited SCIM server completes in one run with nothing failed.

scim2-server behind the counting proxy, with a fixed-window limiter in front
(tests/rate_limit_fixtures.py): a burst of the quota answered, then 429 until the window ends,
the wait announced in X-Retry-After, in RateLimit-Reset, or not at all; and a per-second cap.
Scaled down to keep the suite fast (20 requests per 3 s window, the sandbox's 40 employees:
about three windows); benchmarks/ runs 500 employees against 100 per 10 s. The clock is real:
the client really waits out the windows.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from hibob_sync.http import HttpSettings
from hibob_sync.state import StateStore
from tests.rate_limit_fixtures import FixedWindow
from tests.reliability_helpers import assert_in_sync
from tests.sync_fixtures import SyncEnv


def real_time(env: SyncEnv, concurrency: int = 8) -> None:
    """Real sleeps and clock (the windows are real), and room for a burst."""
    env.http = HttpSettings(connect_timeout=5, read_timeout=30, max_attempts=4)
    env.config.write_text(
        env.config.read_text().replace("concurrency: 2", f"concurrency: {concurrency}")
    )


def first_sync(env: SyncEnv, limiter: FixedWindow) -> dict[str, Any]:
    real_time(env)
    env.scim.gate = limiter
    result = env.cli("-v", "run", "--json")
    assert result.exit_code in (0, 1), result.output  # 1: the sandbox's few bad records
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary["counts"]["failed"] == 0
    assert not [f for f in summary["failures"] if "429" in f["reason"]]
    assert summary["counts"]["create"] == len(env.users())
    assert_in_sync(env)
    assert limiter.refused > 0  # the limit was met, and waited out
    summary["stderr"] = result.messages
    return summary


@pytest.mark.parametrize("announce", ["X-Retry-After", "RateLimit-Reset", None])
def test_a_fixed_window_server_gets_a_whole_first_sync_in_one_run(
    sync_env: SyncEnv, announce: str | None
) -> None:
    limiter = FixedWindow(quota=20, seconds=3.0, announce=announce)
    summary = first_sync(sync_env, limiter)
    assert summary["rate_limit"]["gave_up"] == 0
    assert summary["rate_limit"]["waited"] > 0
    assert "fixed window" in summary["rate_limit"]["limit"]
    assert "rate limit learnt from 429 answers: a fixed window" in summary["stderr"]  # -v
    learnt = StateStore(sync_env.state).pace(sync_env.scim.url)
    assert learnt is not None and learnt.kind == "window"
    assert learnt.pace <= 20 / 3.0

    # The next night starts at that pace, and a quiet night reads the list in as few pages
    # as the server allows.
    sync_env.scim.reset_counts()
    limiter.refused = 0
    again = sync_env.cli("-v", "run", "--json")
    assert again.exit_code in (0, 1), again.output
    assert "as remembered: a fixed window" in again.messages
    assert limiter.refused == 0
    users = len(sync_env.users())
    pages = [c for c in sync_env.scim.calls if c.method == "GET" and c.path == "/Users"]
    assert len(pages) == max(1, math.ceil(users / 20))  # maxResults 20: ceil(users / page)
    assert json.loads(again.stdout)["counts"].get("create", 0) == 0


def test_a_per_second_cap_is_learnt_as_a_rate(sync_env: SyncEnv) -> None:
    limiter = FixedWindow(quota=15, seconds=1.0, announce="Retry-After")
    summary = first_sync(sync_env, limiter)
    assert "requests/s" in summary["rate_limit"]["limit"]
    assert "fixed window" not in summary["rate_limit"]["limit"]
