"""Credentials that work under cron and systemd: $CREDENTIALS_DIRECTORY, and `connect` that
says what the keyring can and cannot do before anything is typed."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from hibob_sync.credentials import SERVICE
from tests.hibob_fixtures import HIBOB_TOKEN, HIBOB_USER_ID
from tests.sync_fixtures import SyncEnv

NAMES = ("HIBOB_SERVICE_USER_ID", "HIBOB_SERVICE_USER_TOKEN", "HITHRIVE_SCIM_TOKEN")


def credentials_dir(tmp_path: Path, values: dict[str, str]) -> Path:
    """A folder as systemd's LoadCredential= leaves it: one file per credential."""
    folder = tmp_path / "creds"
    folder.mkdir()
    for name, value in values.items():
        (folder / name).write_text(value + "\n", encoding="utf-8")
        (folder / name).chmod(0o400)
    return folder


def test_run_reads_systemd_credentials(
    sync_env: SyncEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = credentials_dir(
        tmp_path,
        {
            "HIBOB_SERVICE_USER_ID": HIBOB_USER_ID,
            "HIBOB_SERVICE_USER_TOKEN": HIBOB_TOKEN,
            "HITHRIVE_SCIM_TOKEN": sync_env.scim.token,
        },
    )
    for name in NAMES:
        monkeypatch.delenv(name)
    # No keyring at all: the systemd credentials are enough.
    keyring.set_keyring(keyring.backends.fail.Keyring())
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    result = sync_env.run()
    assert result.exit_code == 1, result.output  # the sandbox's planted bad records
    assert len(sync_env.users()) > 10


def test_env_vars_come_before_systemd_credentials_before_keyring(
    sync_env: SyncEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring.set_password(SERVICE, "hithrive_scim_token", "stale-keyring-token")
    folder = credentials_dir(tmp_path, {"HITHRIVE_SCIM_TOKEN": "stale-file-token"})
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    assert sync_env.cli("check").exit_code == 0  # the env var wins over both

    monkeypatch.delenv("HITHRIVE_SCIM_TOKEN")
    result = sync_env.cli("check")  # the file wins over the keyring, and it is wrong
    assert result.exit_code == 77
    assert "rejected the token" in result.stdout
    assert "stale" not in result.output

    (folder / "HITHRIVE_SCIM_TOKEN").chmod(0o600)
    (folder / "HITHRIVE_SCIM_TOKEN").write_text(sync_env.scim.token, encoding="utf-8")
    assert sync_env.cli("check").exit_code == 0


def test_unreadable_systemd_credential_is_named(
    sync_env: SyncEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "creds"
    (folder / "HIBOB_SERVICE_USER_TOKEN").mkdir(parents=True)  # not a readable file
    monkeypatch.delenv("HIBOB_SERVICE_USER_TOKEN")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    result = sync_env.run()
    assert result.exit_code == 77
    assert f"{folder / 'HIBOB_SERVICE_USER_TOKEN'} cannot be read" in result.stderr
    assert "Traceback" not in result.output


def test_no_keyring_names_the_headless_fixes_not_cryptfile(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HIBOB_SERVICE_USER_TOKEN")
    keyring.set_keyring(keyring.backends.fail.Keyring())
    result = sync_env.run()
    assert result.exit_code == 77
    assert "no working keyring backend" in result.stderr
    assert "LoadCredential=" in result.stderr and "env file" in result.stderr
    assert "cryptfile" not in result.output


def test_connect_without_keyring_says_so_before_asking(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    result = sync_env.cli("connect", input=f"{HIBOB_USER_ID}\n{HIBOB_TOKEN}\n", terminal=True)
    assert result.exit_code == 78, result.output
    assert "cannot store credentials" in result.stderr
    assert "LoadCredential=" in result.stderr and "cryptfile" not in result.output
    assert "HiBob service user ID" not in result.stdout  # nothing was asked
    assert sync_env.sandbox.request_count() == 0


def test_connect_verifies_hibob_before_asking_for_scim_token(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in NAMES:
        monkeypatch.delenv(name)
    wrong = f"{HIBOB_USER_ID}\nwrong-token\n"
    result = sync_env.cli("connect", input=wrong * 3 + "never-asked\n", terminal=True)
    assert result.exit_code == 77, result.output  # three tries, as sudo gives
    assert result.messages.count("HiBob rejected") == 3
    assert "HiThrive SCIM token" not in result.stdout
    assert sync_env.scim.requests == []
    assert keyring.get_password(SERVICE, "hibob_service_user_id") is None


def test_connect_warns_about_a_plain_text_keyring(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # conftest's backend is keyrings.alt's PlaintextKeyring (in a temp dir).
    result = sync_env.cli("connect", "--from-env")
    assert result.exit_code == 0, result.output
    assert "PlaintextKeyring" in result.stderr and "plain text" in result.stderr
    assert result.stdout.index("verified: HiBob") < result.stdout.index("verified: HiThrive")


def test_readme_and_crontab_recommend_no_cryptfile() -> None:
    root = Path(__file__).resolve().parent.parent
    for name in ("README.md", "crontab.example", "config.example.yaml"):
        assert "cryptfile" not in (root / name).read_text(encoding="utf-8"), name
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "LoadCredential=HIBOB_SERVICE_USER_TOKEN:" in readme
    assert readme.index("hibob-sync connect") < readme.index("hibob-sync map`")


def test_rejected_credential_hint_names_where_it_was_read(
    sync_env: SyncEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first source wins, so `connect` (the keyring) cannot fix a wrong env var or file.
    monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", "wrong-hibob-token")
    result = sync_env.run()
    assert result.exit_code == 77, result.output
    assert "came from the env var HIBOB_SERVICE_USER_TOKEN" in result.messages
    assert "hibob-sync connect" not in result.messages
    assert "wrong-hibob-token" not in result.output

    monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", HIBOB_TOKEN)
    monkeypatch.delenv("HITHRIVE_SCIM_TOKEN")
    folder = credentials_dir(tmp_path, {"HITHRIVE_SCIM_TOKEN": "stale-file-token"})
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    result = sync_env.run()
    assert result.exit_code == 77, result.output
    assert f"came from the systemd credential {folder / 'HITHRIVE_SCIM_TOKEN'}" in result.messages
    assert "stale" not in result.output

    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    keyring.set_password(SERVICE, "hithrive_scim_token", "stale-keyring-token")
    result = sync_env.run()
    assert result.exit_code == 77, result.output
    assert "run `hibob-sync connect` to store a valid HiThrive SCIM token" in result.messages
