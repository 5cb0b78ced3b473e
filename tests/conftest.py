"""Shared fixtures: every test runs with no real credentials, config or keyring in reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

pytest_plugins: list[str] = [
    "tests.smtp_fixtures",
    "tests.scim_fixtures",
    "tests.hibob_fixtures",
    "tests.sync_fixtures",
    "tests.hostile_servers",
]

CREDENTIAL_ENV = (
    "HIBOB_SERVICE_USER_ID",
    "HIBOB_SERVICE_USER_TOKEN",
    "HITHRIVE_SCIM_TOKEN",
    "HIBOB_SYNC_SMTP_PASSWORD",
    "HIBOB_SYNC_CONFIG",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temp HOME/XDG tree, credential env vars cleared, and a file keyring inside it.

    The keyring backend is a real one (keyrings.alt's file backend), so tests exercise real
    keyring calls, but it lives in the temp dir: no test can read or write a real keyring.
    Subprocesses inherit the same set-up through the environment.
    """
    home = tmp_path / "home"
    for sub in ("config", "data", "state", "cache"):
        (home / sub).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    assert str(home) in backend.file_path
    keyring.set_keyring(backend)
    monkeypatch.chdir(tmp_path)
    yield home
    keyring.set_keyring(previous)
