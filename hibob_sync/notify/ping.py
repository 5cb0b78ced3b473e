"""Healthcheck pings (healthchecks.io style): an outside monitor told a run started, worked
or failed, apart from the alert emails since it shares nothing with them but the settings."""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal
from urllib.parse import urlsplit

from hibob_sync import bounded
from hibob_sync.errors import HibobSyncError
from hibob_sync.http import HttpSettings, make_session, send

log = logging.getLogger("hibob_sync.notify.alerts")  # the logger name admins filter on

PingEvent = Literal["start", "success", "fail"]
_PING_SUFFIX: dict[str, str] = {"start": "/start", "success": "", "fail": "/fail"}
_PING_BODY_LIMIT = 1000


def ping(url: str | None, event: PingEvent, http: HttpSettings, message: str = "") -> None:
    """Tell an outside monitor (healthchecks.io style) a run started, succeeded or failed.

    The monitor notices a cron job that stopped running at all, which no alert email can.
    Best effort: short timeouts, two attempts, a warning on failure. The URL is never
    logged, since anyone holding it can ping.
    """
    if not url:
        return
    quick = dataclasses.replace(
        http,
        connect_timeout=min(http.connect_timeout, 5.0),
        read_timeout=min(http.read_timeout, 10.0),
        total_timeout=min(http.whole_timeout, 15.0),
        max_attempts=2,
        max_total_wait=5.0,
        max_retry_after=5.0,
        backoff_max=2.0,
    )
    target = url.rstrip("/") + _PING_SUFFIX[event]
    body = message[:_PING_BODY_LIMIT]
    method = "POST" if body else "GET"
    host = urlsplit(url).hostname or "the healthcheck host"
    try:
        with make_session(quick) as session:
            response, _ = send(
                session,
                quick,
                "healthcheck",
                method,
                target,
                expect_json=False,
                setting="notify.healthcheck_url",
                limit=bounded.SMALL,
                data=body.encode("utf-8") if body else None,
            )
    except HibobSyncError as exc:
        log.warning("healthcheck %s ping to %s failed: %s", event, host, exc.message)
        return
    if not 200 <= response.status_code < 300:  # a redirect is not followed, so not a ping
        log.warning("healthcheck %s ping to %s answered HTTP %d", event, host, response.status_code)
