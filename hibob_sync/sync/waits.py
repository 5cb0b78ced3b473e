"""The run's dealings with the SCIM server's limits: where the limiter settled, one wait
budget for every 429 (sync.max_wait), the server's rate limit as remembered from earlier runs
and learnt tonight, and the verdict when it refused every write past the budget (69), where
refusing some is only exit 1."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta

from hibob_sync.config.settings import Settings
from hibob_sync.errors import RateLimitedError
from hibob_sync.http import HttpSettings
from hibob_sync.limiter import LimiterReport
from hibob_sync.pace import Learnt
from hibob_sync.retry_policy import WaitBudget
from hibob_sync.scim.client import ScimClient
from hibob_sync.sync.apply import Applied

log = logging.getLogger(__name__)

REMEMBER_PACE = timedelta(days=7)  # then learnt afresh: the provider may have raised the limit
CONNECT_MAX_WAIT = 60.0  # `connect`'s budget for 429s: no config, someone at the terminal


def budgeted(
    seconds: float, http: HttpSettings | None, name: str = "sync.max_wait"
) -> tuple[WaitBudget, HttpSettings]:
    """One wait budget for 429s of ``seconds``, and HTTP settings whose every request draws
    on it: a command's requests share it, as a run's do, instead of each having its own."""
    budget = WaitBudget(seconds, http.clock if http else time.monotonic, name)
    return budget, replace(http or HttpSettings(), wait_budget=budget)


def connect_http(http: HttpSettings | None = None) -> HttpSettings:
    """`connect`'s HTTP settings: one short budget (CONNECT_MAX_WAIT) over both checks."""
    return budgeted(CONNECT_MAX_WAIT, http, "connect's own budget")[1]


class RunWaits:
    """The wait budget every request of one run shares, and the limit learnt."""

    def __init__(self, settings: Settings, http: HttpSettings | None) -> None:
        self.budget, self.http = budgeted(settings.max_wait.total_seconds(), http)
        self.limit: str | None = None  # the SCIM server's rate limit, as learnt (pace.py)

    def learnt(self, scim: ScimClient) -> Learnt | None:
        """What the server's limit allowed, so the next run starts at that pace (recorded
        with the run), and named in the summary."""
        learnt = scim.limiter.report().learnt
        if learnt is not None:
            self.limit = learnt.describe()
        return learnt

    def judge(self, scim: ScimClient, applied: Applied) -> None:
        """69 when the server refused every write past the budget: not one employee's case."""
        if applied.failures and not any(applied.done.values()) and self.budget.refused:
            raise RateLimitedError(
                f"{scim.service} refused every write with 429 (rate limited) past the "
                f"run's wait budget (sync.max_wait {self.budget.total:.0f}s)",
                status=429,
                hint="the next run goes on; raise sync.max_wait, or ask the provider for a "
                "higher rate limit",
            )

    def summary(self) -> dict[str, float | str] | None:
        """The budget and the server's limit for the run summary, when a 429 was met."""
        spent: dict[str, float | str] = dict(self.budget.report())
        if not (spent["waited"] or spent["gave_up"] or self.limit):
            return None
        return {**spent, **({"limit": self.limit} if self.limit else {})}


def settled(report: LimiterReport) -> dict[str, float]:
    """The SCIM limiter's outcome, logged (-v) and kept for the summary."""
    log.debug(  # -v shows it once, in the summary; -vv here too
        "SCIM: concurrency settled at %d (at most %d in flight; ceiling %d) after %.1fs%s",
        report.settled,
        report.peak,
        report.ceiling,
        report.elapsed,
        f"; paced at {report.pace:.1f} requests/s after 429 answers" if report.pace else "",
    )
    settled: dict[str, float] = {
        "settled": report.settled,
        "peak": report.peak,
        "ceiling": report.ceiling,
    }
    if report.pace is not None:
        settled["pace"] = round(report.pace, 1)
    return settled
