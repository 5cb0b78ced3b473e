"""Where the two API clients and their HTTP settings come from, for every command.

One place builds them from the config, so each service gets its own CA bundle and the
configured timeout, and every caller closes what it opened (use them in ``with``).
"""

from __future__ import annotations

from dataclasses import replace

from hibob_sync import credentials
from hibob_sync.config.settings import Settings
from hibob_sync.credentials import HibobCredentials
from hibob_sync.errors import ConfigError
from hibob_sync.hibob.client import HibobClient
from hibob_sync.http import HttpSettings
from hibob_sync.scim.client import ScimClient


def neutral_http(settings: Settings, base: HttpSettings | None = None) -> HttpSettings:
    """HTTP settings trusting the system CAs, for hosts that are neither HiBob nor SCIM."""
    return replace(
        base or HttpSettings(),
        read_timeout=settings.timeout,
        total_timeout=settings.timeout,  # sync.timeout bounds a request's whole duration
        ca_bundle=None,
    )


def hibob_http(settings: Settings, base: HttpSettings | None = None) -> HttpSettings:
    """HTTP settings for HiBob: the configured timeout and HiBob's CA bundle."""
    return replace(neutral_http(settings, base), ca_bundle=settings.hibob_ca_bundle)


def scim_http(settings: Settings, base: HttpSettings | None = None) -> HttpSettings:
    """HTTP settings for the SCIM server: the configured timeout and its CA bundle."""
    return replace(neutral_http(settings, base), ca_bundle=settings.scim_ca_bundle)


def require_scim_url(settings: Settings) -> str:
    """The SCIM base URL, which `run` and `check` cannot do without."""
    if not settings.scim_url:
        where = settings.path or "config.yaml"
        raise ConfigError(f"{where}: hithrive.scim_url: expected the SCIM base URL, got nothing")
    return settings.scim_url


def hibob_client(
    settings: Settings,
    login: HibobCredentials | None = None,
    http: HttpSettings | None = None,
) -> HibobClient:
    """A HiBob client (a context manager), with the stored credentials unless given."""
    login = login or credentials.hibob_credentials()
    return HibobClient(settings.hibob_url, login.user_id, login.token, hibob_http(settings, http))


def scim_client(
    settings: Settings,
    token: str | None = None,
    http: HttpSettings | None = None,
    extra: tuple[str, ...] = (),
) -> ScimClient:
    """A SCIM client (a context manager), with the stored token unless given; ``extra``: the
    mapping's extra attributes, read and written besides the HiThrive fields."""
    url = require_scim_url(settings)
    token = token if token is not None else credentials.scim_token()
    return ScimClient(
        url,
        token,
        scim_http(settings, http),
        settings.scim_attributes,
        extra=extra,
        concurrency=settings.concurrency,
    )
