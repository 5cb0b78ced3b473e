"""One HTTP session factory and one retry policy, shared by the HiBob and SCIM clients.

Every call gets (connect, read) timeouts, a deadline on its whole duration, a size limit on
its answer after decoding (bounded, deadline), and TLS verification; no redirect is ever
followed, and loopback hosts are never reached through a proxy. Transient failures (429,
500/502/503/504, dropped connections, timeouts, cut-off or broken bodies) are retried
(retry_policy: a 429 waits what the server asks, read by rate_headers, within the run's wait
budget; the rest back off exponentially with jitter, a bounded number of times). An answer
that says no request is left in the window holds the next ones until it resets. Sleeping and
the clock are injectable so tests never wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import requests
import requests.auth
import tenacity
from requests.utils import get_environ_proxies
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from hibob_sync import __version__, bounded, rate_headers
from hibob_sync.bounded import BrokenAnswer, exchange, load_json
from hibob_sync.config.urls import is_loopback
from hibob_sync.deadline import DeadlinePassed, WatchedAdapter
from hibob_sync.errors import RateLimitedError, ServiceUnavailableError
from hibob_sync.retry_policy import Bounds, Stop, Wait, WaitBudget, rate_limited
from hibob_sync.retry_policy import TransientHTTPError as TransientHTTPError
from hibob_sync.safe_text import shown
from hibob_sync.tls import speaks_no_tls, ssl_cause, tls_error, unresolved_host

if TYPE_CHECKING:
    from requests.sessions import _Settings

__all__ = [
    "BearerAuth",
    "HttpSettings",
    "TransientHTTPError",
    "make_session",
    "redirect_target",
    "send",
    "speaks_no_tls",
    "ssl_cause",
    "unresolved_host",
]

log = logging.getLogger(__name__)

USER_AGENT = f"hibob-sync/{__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts, TLS trust and retry bounds for one remote service."""

    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    total_timeout: float | None = None  # one request's whole duration; None: connect + read
    ca_bundle: Path | None = None
    max_attempts: int = 6
    max_total_wait: float = 300.0
    max_retry_after: float = 120.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.time, compare=False)
    max_wait: float = 900.0  # a request's own wait budget for 429s, when no run shares one
    wait_budget: WaitBudget | None = field(default=None, compare=False)  # the run's (sync.max_wait)

    def bounds(self) -> Bounds:
        return Bounds(
            self.max_attempts,
            self.max_total_wait,
            self.max_retry_after,
            self.backoff_initial,
            self.backoff_max,
        )

    @property
    def whole_timeout(self) -> float:
        """The limit on one attempt from sending to the answer's last byte (sync.timeout)."""
        if self.total_timeout is not None:
            return self.total_timeout
        return self.connect_timeout + self.read_timeout


class Gate(Protocol):
    """Admission around each attempt of one request (hibob_sync.limiter.Call)."""

    def enter(self) -> None:
        """Block until the attempt may be sent."""

    def leave(self, status: int | None, wait: float | None = None) -> float | None:
        """The attempt's status (None: no answer) and the wait a refusal asked for; returns
        the gate's own guess of when to try again after a 429 that named no wait (None: no
        guess)."""


class BearerAuth(requests.auth.AuthBase):
    """A bearer token as the session's auth. Not a plain header: with no auth set, requests
    reads ~/.netrc before every request, and a netrc entry for the host would replace it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


class _Session(requests.Session):
    """A session on which a call without a timeout, with TLS checks off, following a
    redirect, or sent to a loopback host through a proxy cannot happen."""

    def __init__(self, settings: HttpSettings) -> None:
        super().__init__()
        for prefix in ("https://", "http://"):
            self.mount(prefix, WatchedAdapter())
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        self.verify = str(settings.ca_bundle) if settings.ca_bundle else True
        self.headers["User-Agent"] = USER_AGENT
        self._environ_proxies: dict[tuple[str, str], dict[str, str]] = {}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        # A redirect is never followed: requests would turn a PATCH into a GET whose 200
        # reads as the write's success, or re-send a body (and headers) elsewhere.
        kwargs["allow_redirects"] = False
        # Always our own trust, never a caller's: and passed per call, because requests lets
        # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's verify, which would
        # silently drop a configured ca_bundle.
        kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """None: with redirects off, requests would still read a 3xx answer's whole body
        (past any size limit) to prepare the request it does not send."""
        return None

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> _Settings:
        """The environment's proxies (HTTPS_PROXY, NO_PROXY), read once per host: requests
        reads and parses the whole environment before every request, which at thousands of
        writes a night was a tenth of the client's CPU. Trust is ours, passed per call.

        A loopback host never goes through a proxy, whatever the environment says: the
        proxy would see both services' credentials. The host is the one urllib3 will
        connect to (its parse_url), not what urlsplit makes of the URL.
        """
        text = url.decode() if isinstance(url, bytes) else str(url or "")
        try:
            parts = parse_url(text)
            scheme, host, port = parts.scheme or "", (parts.host or "").strip("[]"), parts.port
        except LocationParseError:
            scheme, host, port = "", "", None
        key = (scheme, f"{host}:{port}")
        environ = self._environ_proxies.get(key)
        if environ is None:
            environ = get_environ_proxies(text) if self.trust_env else {}
            self._environ_proxies[key] = environ
        merged = {**self.proxies, **environ, **(proxies or {})}  # the call's win, as in requests
        if is_loopback(host):
            merged = {}
        return {
            "proxies": {k: v for k, v in merged.items() if v is not None},
            "stream": self.stream if stream is None else stream,
            "verify": self.verify if verify is None else verify,
            "cert": self.cert if cert is None else cert,
        }


def make_session(settings: HttpSettings) -> requests.Session:
    """Build the one kind of session the tool uses for every remote call."""
    return _Session(settings)


def redirect_target(response: requests.Response) -> str:
    """Where a 3xx answer points (its Location, escaped and cut short), for messages."""
    location = response.headers.get("Location", "").strip()
    if not location:
        return "no Location given"
    return shown(location[:200]) + ("…" if len(location) > 200 else "")


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientHTTPError):
        return True
    if isinstance(exc, requests.exceptions.SSLError) or unresolved_host(exc) is not None:
        return False
    return isinstance(
        exc,
        (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ),
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TransientHTTPError):
        return exc.reason
    if isinstance(exc, DeadlinePassed):
        return str(exc)
    if isinstance(exc, requests.Timeout):
        return "the request timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection was cut off in the middle of the answer"
    if isinstance(exc, requests.ConnectionError):
        return "the connection failed or was dropped"
    return type(exc).__name__


def send(
    session: requests.Session,
    settings: HttpSettings,
    service: str,
    method: str,
    url: str,
    *,
    expect_json: bool = True,
    parse: Callable[[bytes], Any] | None = None,
    gate: Gate | None = None,
    setting: str | None = None,
    limit: int = bounded.DEFAULT,
    **kwargs: Any,
) -> tuple[requests.Response, Any]:
    """Send one request under the shared retry policy.

    Returns the final response and its decoded JSON body (None when there is none or it is
    not wanted). ``parse`` replaces ``json.loads`` for a 2xx body (e.g. a streaming parser
    for a large answer); a ValueError from it counts as an incomplete answer and is retried.
    Answers that are not transient (2xx, 3xx, 4xx other than 429) are returned for the
    caller to judge: a 3xx is never followed, and is no success. Transient failures that
    outlast the policy, and TLS failures, become a ServiceUnavailableError naming
    ``service``; an answer past ``limit`` bytes (decoded) is an AnswerTooLarge, not retried.
    A ``gate`` (the SCIM client's limiter) admits each attempt and hears its answer, so a
    retry waits for its turn like any request. ``setting`` is the config key the URL came
    from: an https:// URL whose server does not speak TLS is a wrong URL (ConfigError
    naming it), not an outage.
    """

    budget = settings.wait_budget or WaitBudget(settings.max_wait, settings.clock)
    host = _host(url)

    def attempt() -> tuple[requests.Response, Any]:
        held = budget.held(host)  # the window has no request left: wait for its reset
        if held > 0 and budget.take(held):
            settings.sleep(held)
        if gate is not None:
            gate.enter()
        try:
            response = exchange(
                session, method, url, settings.whole_timeout, limit, service, **kwargs
            )
        except BaseException:
            if gate is not None:
                gate.leave(None)
            raise
        advice = rate_headers.read(response.headers, settings.clock())
        wait = advice.wait if response.status_code in RETRY_STATUSES else None
        if wait is None and advice.exhausted_for is not None and response.status_code < 400:
            budget.hold(host, advice.exhausted_for)
        guess = gate.leave(response.status_code, wait) if gate is not None else None
        if response.status_code == 429 and wait is None:
            wait = guess
        if response.status_code in RETRY_STATUSES:
            raise TransientHTTPError(
                response.status_code, f"HTTP {response.status_code} from {service}", wait
            )
        body: Any = None
        success = 200 <= response.status_code < 300
        if expect_json and response.content and response.status_code != 204:
            try:
                # From bytes: no decoded copy of a large answer (HiBob's can be tens of MB).
                loads = parse if parse is not None and success else load_json
                body = loads(response.content)
            except (ValueError, RecursionError) as exc:
                if success:
                    why = f"a broken answer: {exc}" if isinstance(exc, BrokenAnswer) else ""
                    raise TransientHTTPError(
                        response.status_code,
                        f"{service} sent {why or 'an incomplete or non-JSON answer'}",
                    ) from exc
                body = None
        return response, body

    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        if rate_limited(exc):  # the server is up and paces us: expected, not a warning
            log.info(
                "%s: rate limited (HTTP 429); trying again in %.1fs (%.0fs of the run's "
                "wait budget of %.0fs used)",
                service,
                wait,
                budget.spent,
                budget.total,
            )
            return
        log.warning(
            "%s: %s; retrying in %.1fs (attempt %d of %d)",
            service,
            _describe(exc) if exc else "error",
            wait,
            stop.failures + 1,  # the attempts on the bounded budget: 429s are not counted
            settings.max_attempts,
        )

    stop = Stop(settings.bounds(), budget)
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_is_transient),
        wait=Wait(settings.bounds()),
        stop=stop,
        sleep=settings.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except requests.exceptions.SSLError as exc:
        raise tls_error(exc, service, url, setting) from exc
    except TransientHTTPError as exc:
        if rate_limited(exc) and stop.out_of_budget:
            raise RateLimitedError(
                f"{service} kept answering 429 (rate limited) past the wait budget "
                f"({budget.spent:.0f}s waited of {budget.name} {budget.total:.0f}s)",
                status=429,
                hint=f"the next run goes on; raise {budget.name}, or ask the provider for a "
                "higher rate limit"
                if budget.name == "sync.max_wait"
                else "try again in a few minutes, or ask the provider for a higher rate limit",
            ) from exc
        raise _unavailable(service, exc, retrying) from exc
    except requests.RequestException as exc:
        name = unresolved_host(exc)  # not retried: a name that does not resolve now won't soon
        if name is not None:
            raise ServiceUnavailableError(
                f"{service}: could not resolve host {name or urlsplit(url).hostname}",
                hint=f"check the host name in {setting or 'the URL'} and this machine's DNS",
            ) from exc
        raise _unavailable(service, exc, retrying) from exc


def _unavailable(
    service: str, exc: BaseException, retrying: tenacity.Retrying
) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"{service} stayed unavailable ({_describe(exc)}) after "
        f"{retrying.statistics.get('attempt_number', 1)} attempts",
        hint="the next run will retry; check the service's status page if this persists",
    )


def _host(url: str) -> str:
    return urlsplit(url).netloc or url
