"""Credentials: env vars, then systemd credentials, then the system keyring (``hibob-sync``).

Under cron or systemd there is rarely a keyring that works without a person at the
terminal, so the headless paths come first: env vars (from a root-only env file) and
files in ``$CREDENTIALS_DIRECTORY`` (systemd's ``LoadCredential=``). The keyring is best
effort: where no backend works, the error says so and names the headless fixes instead of
crashing. Secrets are never logged and never part of a message.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.errors

from hibob_sync.errors import CredentialsError, KeyringStoreError, KeyringUnavailableError

log = logging.getLogger(__name__)

SERVICE = "hibob-sync"
CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"


@dataclass(frozen=True)
class Secret:
    """One credential: its keyring entry name, env var and what to call it in messages."""

    key: str
    env: str
    label: str


HIBOB_USER_ID = Secret("hibob_service_user_id", "HIBOB_SERVICE_USER_ID", "HiBob service user ID")
HIBOB_TOKEN = Secret(
    "hibob_service_user_token", "HIBOB_SERVICE_USER_TOKEN", "HiBob service user token"
)
SCIM_TOKEN = Secret("hithrive_scim_token", "HITHRIVE_SCIM_TOKEN", "HiThrive SCIM token")
SMTP_PASSWORD = Secret("smtp_password", "HIBOB_SYNC_SMTP_PASSWORD", "SMTP password")
ALL: tuple[Secret, ...] = (HIBOB_USER_ID, HIBOB_TOKEN, SCIM_TOKEN)

HEADLESS_FIXES = (
    "set HIBOB_SERVICE_USER_ID, HIBOB_SERVICE_USER_TOKEN and HITHRIVE_SCIM_TOKEN from a "
    "root-only env file (mode 0600; `set -a; . /etc/hibob-sync/env; set +a` in the cron line, "
    "or EnvironmentFile= in a systemd unit), or, under systemd, load files of those names "
    "with LoadCredential= (they are read from $CREDENTIALS_DIRECTORY); see README, Credentials"
)
KEYRING_FIXES = (
    f"no working keyring backend was found (usual on a headless server): {HEADLESS_FIXES}"
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
            f"({type(exc).__name__}), so it cannot be used here: {HEADLESS_FIXES}"
        ) from None


def _credentials_file(item: Secret) -> str | None:
    """The value systemd put in $CREDENTIALS_DIRECTORY/<ENV NAME>, if any."""
    folder = os.environ.get(CREDENTIALS_DIRECTORY, "").strip()
    if not folder:
        return None
    path = Path(folder) / item.env
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise CredentialsError(
            f"the {item.label} file {path} cannot be read ({reason})",
            hint="check LoadCredential= in the systemd unit and the file's owner and mode",
        ) from None
    return value or None


def lookup(item: Secret) -> str | None:
    """The credential from its env var, systemd credential or the keyring; None if none has it."""
    value = os.environ.get(item.env, "").strip()
    if value:
        return value
    from_file = _credentials_file(item)
    if from_file:
        return from_file
    stored = _keyring_get(item)
    return stored.strip() if stored else None


def replace_hint(item: Secret, what: str) -> str:
    """How to replace a rejected credential where it was read from: the first source wins, so
    after an env var or a systemd credential, `connect` (the keyring) alone changes nothing."""
    folder = os.environ.get(CREDENTIALS_DIRECTORY, "").strip()
    if os.environ.get(item.env, "").strip():
        source = f"the env var {item.env} (e.g. from an env file)"
    elif folder and (Path(folder) / item.env).is_file():
        source = f"the systemd credential {Path(folder) / item.env} (LoadCredential=)"
    else:
        return f"run `hibob-sync connect` to store {what}"
    return (
        f"the {item.label} came from {source}, which is read before the keyring: put {what} there"
    )


def require(item: Secret) -> str:
    """Like lookup, but a missing credential is an error that says how to set it."""
    value = lookup(item)
    if not value:
        raise CredentialsError(
            f"{item.label} is not set",
            hint=f"run `hibob-sync connect`, set {item.env}, or (systemd) "
            f"LoadCredential={item.env}:<file>",
        )
    return value


def hibob_credentials() -> HibobCredentials:
    """The HiBob service user, from env or keyring."""
    return HibobCredentials(require(HIBOB_USER_ID), require(HIBOB_TOKEN))


def scim_token() -> str:
    """The HiThrive SCIM bearer token, from env or keyring."""
    return require(SCIM_TOKEN)


def _backends(backend: keyring.backend.KeyringBackend) -> list[keyring.backend.KeyringBackend]:
    if isinstance(backend, keyring.backends.chainer.ChainerBackend):
        return list(backend.backends)
    return [backend]


def _backend_name(backend: keyring.backend.KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def storage_problem() -> str | None:
    """Why the keyring cannot store credentials, or None: asked before prompting for secrets."""
    backends = [
        b
        for b in _backends(keyring.get_keyring())
        if not isinstance(b, keyring.backends.fail.Keyring)
    ]
    if not backends:
        return f"the keyring cannot store credentials here: {KEYRING_FIXES}"
    return None


def backend_warnings() -> list[str]:
    """What to know about the keyring backend before trusting it with secrets.

    keyrings.alt's PlaintextKeyring keeps them readable in a file; encrypted file backends
    (keyrings.cryptfile, keyrings.alt's EncryptedKeyring) ask for their password on every
    read, which cron cannot answer.
    """
    lines = []
    for backend in _backends(keyring.get_keyring()):
        name = type(backend).__name__.lower()
        where = getattr(backend, "file_path", None)
        shown = _backend_name(backend) + (f" ({where})" if where else "")
        if "plaintext" in name:
            lines.append(
                f"the keyring backend {shown} keeps secrets in plain text; "
                f"on a server prefer: {HEADLESS_FIXES}"
            )
        elif "cryptfile" in name or "encrypted" in name:
            lines.append(
                f"the keyring backend {shown} asks for its password on every read, so "
                f"`run` under cron cannot use it; for cron: {HEADLESS_FIXES}"
            )
    return lines


def store(values: dict[Secret, str]) -> None:
    """Save credentials in the keyring; a keyring failure says how to fix it."""
    for item, value in values.items():
        try:
            keyring.set_password(SERVICE, item.key, value)
        except Exception as exc:  # noqa: BLE001 - see _keyring_get
            raise KeyringStoreError(
                f"could not save the {item.label} in the keyring ({type(exc).__name__}); "
                f"skip the keyring instead: {HEADLESS_FIXES}"
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
