"""A keyring backend that asks for its password on every read, as the encrypted file
backends do (keyrings.cryptfile, keyrings.alt's EncryptedKeyring, through getpass): what
cron meets when such a backend is the default. Loaded by name through
PYTHON_KEYRING_BACKEND in a child process."""

from __future__ import annotations

import getpass

import keyring.backend
import keyring.errors


class PromptingKeyring(keyring.backend.KeyringBackend):
    """Asks for the keyring's password (and, given none, holds nothing)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        getpass.getpass("Please enter password for encrypted keyring: ")
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("locked")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("locked")
