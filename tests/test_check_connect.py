"""check, connect, disconnect, the keyring, interactive map and the demo, through the CLI."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from hibob_sync.credentials import SERVICE
from hibob_sync.demo.scim_server import install_hint
from hibob_sync.sandbox.catalogue import CATEGORIES
from tests.cli_helpers import run_cli
from tests.hibob_fixtures import HIBOB_TOKEN, HIBOB_USER_ID
from tests.scim_fixtures import ScimServerFactory
from tests.sync_fixtures import SyncEnv


def ALL_BUT(*names: str) -> set[str]:
    """Every sandbox category except those with these display names."""
    return {cid for cid, display in CATEGORIES.items() if display not in names}


def use_hibob_user(env: SyncEnv, categories: set[str] | None, scope: str = "all") -> None:
    env.sandbox.add_service_user(
        "other-user", "other-token", categories=categories, people_scope=scope
    )
    os.environ["HIBOB_SERVICE_USER_ID"] = "other-user"
    os.environ["HIBOB_SERVICE_USER_TOKEN"] = "other-token"


def test_check_all_good(sync_env: SyncEnv) -> None:
    result = sync_env.cli("check")
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.stdout
    assert "can read personal.birthDate (birthday)" in result.stdout
    assert "inactive employees are visible" in result.stdout
    assert "Verdict: all good" in result.stdout
    writes = [r for r in sync_env.scim.requests if r[0] != "GET"]
    assert writes == []


def test_check_names_the_category_to_grant(sync_env: SyncEnv) -> None:
    use_hibob_user(sync_env, ALL_BUT("Personal", "Engagement"))
    result = sync_env.cli("check")
    assert result.exit_code == 77, result.output
    assert (
        "cannot read personal.birthDate (birthday): grant View on the HiBob category 'Personal'"
        in result.stdout
    )
    assert "'Engagement'" in result.stdout
    assert "can read work.title (job_title)" in result.stdout


def test_check_inactive_not_visible(sync_env: SyncEnv) -> None:
    use_hibob_user(sync_env, set(CATEGORIES), scope="employed")
    result = sync_env.cli("check")
    assert result.exit_code == 77
    assert "no inactive employees are visible" in result.stdout
    assert "Lifecycle status is Employed" in result.stdout


def test_check_leavers_ignore_does_not_need_inactive(sync_env: SyncEnv) -> None:
    use_hibob_user(sync_env, set(CATEGORIES), scope="employed")
    sync_env.write_config(leavers="ignore")
    assert sync_env.cli("check").exit_code == 0


def test_check_bad_credentials_reports_both_sides(sync_env: SyncEnv) -> None:
    os.environ["HIBOB_SERVICE_USER_TOKEN"] = "wrong-token"
    os.environ["HITHRIVE_SCIM_TOKEN"] = "wrong-scim-token"
    result = sync_env.cli("check")
    assert result.exit_code == 77
    assert "HiBob rejected" in result.stdout
    assert "rejected the token" in result.stdout
    assert "wrong-token" not in result.output and "wrong-scim-token" not in result.output
    # Never retried: one catalogue call with the bad token.
    assert sync_env.sandbox.request_count("fields") == 1
    assert sync_env.sandbox.request_count("search") == 0


def test_check_unknown_hibob_field_is_config_error(sync_env: SyncEnv) -> None:
    mapping = sync_env.folder / "mapping.yaml"
    mapping.write_text(mapping.read_text().replace("work.title", "work.jobTitleTypo"))
    result = sync_env.cli("check")
    assert result.exit_code == 78
    assert "mapping.job_title: HiBob has no field work.jobTitleTypo" in result.stdout
    validate = sync_env.cli("map", "validate")
    assert validate.exit_code == 78
    assert "mapping.job_title: HiBob has no field work.jobTitleTypo" in validate.stderr


def test_check_scim_server_without_extension(
    sync_env: SyncEnv, scim_server_factory: ScimServerFactory
) -> None:
    rfc_only = scim_server_factory(schemas="rfc")
    sync_env.scim = rfc_only
    sync_env.write_config()
    result = sync_env.cli("check")
    assert result.exit_code == 78, result.output
    assert "urn:ietf:params:scim:schemas:extension:hithrive:2.0:User:startDate" in result.stdout
    assert "hithrive.attributes.start_date" in result.stdout


def stored(name: str) -> str | None:
    return keyring.get_password(SERVICE, name)


def test_connect_from_env_verifies_stores_and_run_uses_keyring(sync_env: SyncEnv) -> None:
    result = sync_env.cli("connect", "--from-env")
    assert result.exit_code == 0, result.output
    assert stored("hibob_service_user_token") == HIBOB_TOKEN
    assert stored("hithrive_scim_token") == sync_env.scim.token
    assert HIBOB_TOKEN not in result.output
    for name in ("HIBOB_SERVICE_USER_ID", "HIBOB_SERVICE_USER_TOKEN", "HITHRIVE_SCIM_TOKEN"):
        del os.environ[name]
    assert sync_env.run().exit_code == 1  # the sandbox's planted bad records
    assert len(sync_env.users()) > 10

    result = sync_env.cli("disconnect")
    assert result.exit_code == 0 and "HiBob service user token" in result.stdout
    assert stored("hibob_service_user_token") is None
    result = sync_env.run()
    assert result.exit_code == 77
    assert "hibob-sync connect" in result.stderr


def test_connect_rejected_token_stores_nothing(sync_env: SyncEnv) -> None:
    os.environ["HITHRIVE_SCIM_TOKEN"] = "not-the-token"
    result = sync_env.cli("connect", "--from-env")
    assert result.exit_code == 77
    assert stored("hibob_service_user_token") is None
    assert "not-the-token" not in result.output


def test_connect_prompts_with_hidden_input(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HIBOB_SERVICE_USER_ID", "HIBOB_SERVICE_USER_TOKEN", "HITHRIVE_SCIM_TOKEN"):
        monkeypatch.delenv(name)
    answers = f"{HIBOB_USER_ID}\n{HIBOB_TOKEN}\n{sync_env.scim.token}\n"
    result = run_cli(
        "--config",
        str(sync_env.config),
        "connect",
        input=answers,
        terminal=True,
        http=sync_env.http,
    )
    assert result.exit_code == 0, result.output
    assert HIBOB_TOKEN not in result.stdout  # hidden input is not echoed
    assert HIBOB_USER_ID + "\n" not in result.stdout  # nor is the ID (README: hidden input)
    assert stored("hibob_service_user_id") == HIBOB_USER_ID


def test_connect_asks_again_only_for_what_failed(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HIBOB_SERVICE_USER_ID", "HIBOB_SERVICE_USER_TOKEN", "HITHRIVE_SCIM_TOKEN"):
        monkeypatch.delenv(name)
    # The HiBob pair is right; the SCIM token is mistyped once, then right.
    answers = f"{HIBOB_USER_ID}\n{HIBOB_TOKEN}\nnot-the-token\n{sync_env.scim.token}\n"
    result = sync_env.cli("connect", input=answers, terminal=True)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("HiBob service user ID:") == 1  # the verified pair was kept
    assert result.stdout.count("HiThrive SCIM token:") == 2
    assert "rejected the token" in result.messages and "try again" in result.messages
    assert stored("hibob_service_user_token") == HIBOB_TOKEN
    assert stored("hithrive_scim_token") == sync_env.scim.token
    assert "not-the-token" not in result.output


def test_connect_from_env_names_every_missing_variable(sync_env: SyncEnv) -> None:
    del os.environ["HIBOB_SERVICE_USER_ID"]
    del os.environ["HITHRIVE_SCIM_TOKEN"]
    result = sync_env.cli("connect", "--from-env")
    assert result.exit_code == 77, result.output
    assert "HIBOB_SERVICE_USER_ID, HITHRIVE_SCIM_TOKEN are not set" in result.messages
    assert sync_env.sandbox.request_count() == 0


def test_connect_and_map_count_the_same_catalogue_fields(sync_env: SyncEnv) -> None:
    connected = sync_env.cli("connect", "--from-env")
    counted = re.search(r"\((\d+) fields in the catalogue to map\)", connected.stdout)
    assert counted is not None, connected.output
    mapped = sync_env.cli("map", input="\n" * 9 + "n\n", terminal=True)
    assert f"({counted.group(1)} in your catalogue)" in mapped.stdout, mapped.output


def test_connect_without_terminal_says_use_from_env(sync_env: SyncEnv) -> None:
    result = sync_env.cli("connect")
    assert result.exit_code == 2  # a usage error, as `map` without a terminal: nothing rejected
    assert "--from-env" in result.stderr
    assert stored("hibob_service_user_id") is None


def test_no_keyring_backend_says_how_to_fix(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HIBOB_SERVICE_USER_TOKEN")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.set_keyring(keyring.backends.fail.Keyring())
    result = sync_env.run()
    assert result.exit_code == 77
    assert "no working keyring backend" in result.stderr
    assert "CREDENTIALS_DIRECTORY" in result.stderr and "root-only env file" in result.stderr
    assert "Traceback" not in result.output
    assert sync_env.cli("disconnect").exit_code == 77


def test_map_interactive_offers_the_catalogue(sync_env: SyncEnv) -> None:
    answers = (
        "\n".join(
            [
                "-",  # email cannot be unmapped: asked again
                "",  # keep root.email
                "",  # employee_id kept
                "title",  # ambiguous? resolves by name "Job title" substring
                "",
                "-",  # birthday unmapped
                "Department, Teams",
                "",
                "",
                "",  # no extra attribute
                "y",
            ]
        )
        + "\n"
    )
    result = sync_env.cli("map", input=answers, terminal=True)
    assert result.exit_code == 0, result.output
    assert "email is required" in result.stdout
    text = (sync_env.folder / "mapping.yaml").read_text()
    assert "birthday" not in text
    assert "teams: [work.department, work.custom.field_1700000000001]" in text
    assert "job_title: work.title" in text


def test_map_interactive_needs_a_terminal(sync_env: SyncEnv) -> None:
    result = sync_env.cli("map")
    assert result.exit_code == 2
    assert "map set" in result.stderr


def test_demo_without_scim2_server_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None in sys.modules is Python's own "this package cannot be imported": what a PyPI
    # install without the demo extra (or any install on 3.10) looks like to the demo.
    monkeypatch.setitem(sys.modules, "scim2_server", None)
    before = demo_folders()
    result = run_cli("demo", "--employees", "12")
    assert demo_folders() == before  # no empty folder left behind
    assert result.exit_code == 78, result.output
    assert "scim2-server is not installed" in result.messages
    assert "Python 3.11 or newer" in result.messages
    if sys.version_info >= (3, 11):  # on 3.10 the extra installs nothing: see the next test
        assert "pip install 'hibob-sync[demo]'" in result.messages  # an install from PyPI
        assert "pip install -e '.[demo]'" in result.messages  # a checkout
    assert f"this is Python {sys.version_info[0]}.{sys.version_info[1]}" in result.messages
    assert "Traceback" not in result.output


def test_on_python_3_10_the_demo_asks_for_a_newer_python() -> None:
    # There the demo extra installs nothing: "install the demo extra" would send the admin
    # round in circles.
    hint = install_hint((3, 10))
    assert "needs Python 3.11 or newer" in hint and "this is Python 3.10" in hint
    assert "pip install" not in hint
    assert "pip install 'hibob-sync[demo]'" in install_hint((3, 12))


def demo_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("hibob-sync-demo-*")}


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("scim2_server", reason="scim2-server needs Python 3.11 or newer")
    before = demo_folders()
    result = run_cli("demo", "--employees", "20", "--dir", str(tmp_path / "demo"))
    assert demo_folders() == before  # the files went where --dir said
    assert (tmp_path / "demo" / "state.db").is_file()
    assert result.exit_code == 0, result.output
    assert "Verdict" not in result.stdout or "FAIL" not in result.stdout
    assert "$ hibob-sync check" in result.stdout
    assert "created" in result.stdout and "deactivated" in result.stdout
    assert "both servers are stopped" in result.stdout
    assert keyring.get_password(SERVICE, "hibob_service_user_token") is None
