"""Credentials: environment variables first, then the system keyring (service ``hibob-sync``).

The keyring is best effort: where no backend works (a headless server under cron), the
error says so and names the fixes instead of crashing. Secrets are never logged and
never part of a message.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import keyring
import keyring.errors

from hibob_sync.errors import CredentialsError, KeyringUnavailableError

log = logging.getLogger(__name__)

SERVICE = "hibob-sync"


@dataclass(frozen=True)
class Secret:
    """One credential: its keyring entry name, env var and what to call it in messages."""

    key: str
    env: str
    label: str
    secret: bool = True


HIBOB_USER_ID = Secret(
    "hibob_service_user_id", "HIBOB_SERVICE_USER_ID", "HiBob service user ID", False
)
HIBOB_TOKEN = Secret(
    "hibob_service_user_token", "HIBOB_SERVICE_USER_TOKEN", "HiBob service user token"
)
SCIM_TOKEN = Secret("hithrive_scim_token", "HITHRIVE_SCIM_TOKEN", "HiThrive SCIM token")
SMTP_PASSWORD = Secret("smtp_password", "HIBOB_SYNC_SMTP_PASSWORD", "SMTP password")
ALL: tuple[Secret, ...] = (HIBOB_USER_ID, HIBOB_TOKEN, SCIM_TOKEN)

KEYRING_FIXES = (
    "no working keyring backend was found (usual for cron on a headless server). Either "
    "set HIBOB_SERVICE_USER_ID, HIBOB_SERVICE_USER_TOKEN and HITHRIVE_SCIM_TOKEN from a "
    "root-only file (e.g. `set -a; . /etc/hibob-sync/env; set +a` in the cron line), or "
    "install a file-based encrypted backend (`pip install keyrings.cryptfile`) and select "
    "it with PYTHON_KEYRING_BACKEND=keyrings.cryptfile.cryptfile.CryptFileKeyring"
)


@dataclass(frozen=True)
class HibobCredentials:
    """HiBob service user ID and token; the token never shows in repr."""

    user_id: str
    token: str = field(repr=False)


def _keyring_get(item: Secret) -> str | None:
    try:
        return keyring.get_password(SERVICE, item.key)
    except keyring.errors.NoKeyringError:
        raise KeyringUnavailableError(
            f"{item.label} is not set in {item.env}, and {KEYRING_FIXES}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any backend failure is a keyring problem, not a crash
        raise KeyringUnavailableError(
            f"{item.label} is not set in {item.env}, and the keyring failed "
            f"({type(exc).__name__}); {KEYRING_FIXES}"
        ) from None


def lookup(item: Secret) -> str | None:
    """The credential from its env var, else the keyring; None when neither has it."""
    value = os.environ.get(item.env, "").strip()
    if value:
        return value
    stored = _keyring_get(item)
    return stored.strip() if stored else None


def require(item: Secret) -> str:
    """Like lookup, but a missing credential is an error that says how to set it."""
    value = lookup(item)
    if not value:
        raise CredentialsError(
            f"{item.label} is not set",
            hint=f"run `hibob-sync connect`, or set {item.env}",
        )
    return value


def hibob_credentials() -> HibobCredentials:
    """The HiBob service user, from env or keyring."""
    return HibobCredentials(require(HIBOB_USER_ID), require(HIBOB_TOKEN))


def scim_token() -> str:
    """The HiThrive SCIM bearer token, from env or keyring."""
    return require(SCIM_TOKEN)


def store(values: dict[Secret, str]) -> None:
    """Save credentials in the keyring; a keyring failure says how to fix it."""
    for item, value in values.items():
        try:
            keyring.set_password(SERVICE, item.key, value)
        except Exception as exc:  # noqa: BLE001 - see _keyring_get
            raise KeyringUnavailableError(
                f"could not save the {item.label} in the keyring ({type(exc).__name__}); "
                f"{KEYRING_FIXES}"
            ) from None


def delete(items: tuple[Secret, ...] = (*ALL, SMTP_PASSWORD)) -> list[str]:
    """Remove stored credentials; returns the labels of those that were removed."""
    removed: list[str] = []
    for item in items:
        try:
            keyring.delete_password(SERVICE, item.key)
        except keyring.errors.PasswordDeleteError:
            continue
        except Exception as exc:  # noqa: BLE001 - see _keyring_get
            raise KeyringUnavailableError(
                f"could not remove the {item.label} from the keyring ({type(exc).__name__}); "
                f"{KEYRING_FIXES}"
            ) from None
        removed.append(item.label)
    return removed
