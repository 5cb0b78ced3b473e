"""The foundation: help everywhere, config and mapping validation, `map` editing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli_helpers import run_cli

COMMANDS = [
    [],
    ["connect"],
    ["disconnect"],
    ["map"],
    ["map", "show"],
    ["map", "set"],
    ["map", "unset"],
    ["map", "validate"],
    ["check"],
    ["run"],
    ["history"],
    ["demo"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: hibob-sync" in result.stdout
    # Real help text, not just the usage line.
    assert len(result.stdout.strip().splitlines()) >= 4


def test_version() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert "hibob-sync" in result.stdout


def test_unknown_command_is_usage_error() -> None:
    result = run_cli("frobnicate")
    assert result.exit_code == 2


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


GOOD_CONFIG = """\
hibob:
  base_url: https://api.hibob.com/v1
hithrive:
  scim_url: https://tenant.example/scim/v2
mapping_file: mapping.yaml
sync:
  leavers: deactivate
  max_deactivations: 10%
  state_path: state/state.db
notify:
  email: {to: [it@example.com], from: hibob-sync@example.com, smtp_host: localhost, smtp_port: 25}
"""


BAD_CONFIGS = {
    "malformed YAML": ("hibob: [unclosed\n", "malformed YAML"),
    # PyYAML alone keeps the last block: the first block's safeguard would vanish silently.
    "a block written twice": (
        GOOD_CONFIG + "sync:\n  leavers: ignore\n",
        "line 12, column 1: malformed YAML: the key 'sync' appears twice",
    ),
    "wrong type": (
        GOOD_CONFIG.replace("max_deactivations: 10%", "max_deactivations: [1]"),
        "sync.max_deactivations",
    ),
    "wrong leavers": (
        GOOD_CONFIG.replace("leavers: deactivate", "leavers: delete"),
        "sync.leavers",
    ),
    "unknown key": (GOOD_CONFIG + "extra_key: 1\n", "unknown key extra_key"),
    "unknown nested key": (
        GOOD_CONFIG.replace("  leavers:", "  leaverz: x\n  leavers:"),
        "sync.leaverz",
    ),
    "non-https remote URL": (
        GOOD_CONFIG.replace("https://tenant.example", "http://tenant.example"),
        "hithrive.scim_url",
    ),
    "section not a mapping": ("hibob: 5\n", "hibob"),
    "top level a list": ("- a\n- b\n", "top level"),
    "bad percent": (
        GOOD_CONFIG.replace("max_deactivations: 10%", "max_deactivations: 250%"),
        "sync.max_deactivations",
    ),
    "unknown attribute field": (
        GOOD_CONFIG.replace("  scim_url:", "  attributes: {shoe_size: title}\n  scim_url:"),
        "hithrive.attributes.shoe_size",
    ),
    "malformed attribute path": (
        GOOD_CONFIG.replace("  scim_url:", "  attributes: {start_date: 'not a path'}\n  scim_url:"),
        "hithrive.attributes.start_date",
    ),
    "bad email to": (
        GOOD_CONFIG.replace("to: [it@example.com]", "to: [nobody]"),
        "notify.email.to",
    ),
}


def assert_config_error(result_output: str, exit_code: int, *needles: str) -> None:
    assert exit_code == 78, result_output
    assert "Traceback" not in result_output
    assert " ERROR " in result_output
    for needle in needles:
        assert needle in result_output


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_names_file_and_key(tmp_path: Path, case: str) -> None:
    text, needle = BAD_CONFIGS[case]
    config = write(tmp_path / "cfg" / "config.yaml", text)
    result = run_cli("--config", str(config), "map", "show")
    assert_config_error(result.output, result.exit_code, str(config), needle)
    assert len(result.stderr.strip().splitlines()) <= 2


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "nope.yaml"), "map", "show")
    assert_config_error(result.output, result.exit_code, "nope.yaml", "does not exist")


def test_no_config_names_the_folders_searched(isolated_home: Path) -> None:
    # XDG_CONFIG_HOME (conftest: HOME/config) is where the user config dir is, not ~/.config
    result = run_cli("run")
    assert_config_error(
        result.output, result.exit_code, "./config.yaml", str(isolated_home / "config")
    )
    assert "~/.config" not in result.output
    # A wheel install has no config.example.yaml to copy: the hint is `init`.
    assert "`hibob-sync init`" in result.messages and "config.example" not in result.output


def test_config_found_in_user_config_dir(isolated_home: Path) -> None:
    write(isolated_home / "config" / "hibob-sync" / "config.yaml", "bogus: 1\n")
    result = run_cli("map", "show")
    assert_config_error(result.output, result.exit_code, "hibob-sync/config.yaml", "bogus")


def test_config_from_env_var(tmp_path: Path) -> None:
    config = write(tmp_path / "cfg" / "config.yaml", "bogus: 1\n")
    result = run_cli("map", "show", env={"HIBOB_SYNC_CONFIG": str(config)})
    assert_config_error(result.output, result.exit_code, str(config), "bogus")


EMPTY_PATHS = {
    "--config ''": (["--config", "", "map", "show"], "'--config': an empty path"),
    "--config ' '": (["--config", " ", "map", "show"], "'--config': an empty path"),
    "plan -o ''": (["plan", "-o", ""], "'-o' / '--output': an empty path"),
    "apply ''": (["apply", ""], "'FILE': an empty path: give a path"),
    "init ''": (["init", ""], "'[DIR]': an empty path"),
}


@pytest.mark.parametrize("case", sorted(EMPTY_PATHS))
def test_an_empty_path_is_a_usage_error(tmp_path: Path, case: str) -> None:
    # A config in the current folder, where the normal search would find it: an empty path
    # must not fall back to it (or, for init, write into the current folder).
    write(tmp_path / "config.yaml", GOOD_CONFIG)
    before = sorted(p.name for p in tmp_path.iterdir())
    args, needle = EMPTY_PATHS[case]
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {needle}" in result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("value", ["", "  "])
def test_config_env_var_set_but_empty_is_a_usage_error(tmp_path: Path, value: str) -> None:
    # HIBOB_SYNC_CONFIG=$UNSET_VARIABLE must not quietly mean ./config.yaml.
    write(tmp_path / "config.yaml", GOOD_CONFIG)
    result = run_cli("map", "show", env={"HIBOB_SYNC_CONFIG": value})
    assert result.exit_code == 2, result.output
    assert "HIBOB_SYNC_CONFIG is set but empty" in result.stderr
    # --config still wins over the variable, whatever it holds.
    result = run_cli(
        "--config", str(tmp_path / "config.yaml"), "map", "show", env={"HIBOB_SYNC_CONFIG": value}
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "host", ["http://127.0.0.1:8080/scim/v2", "http://localhost/scim", "http://[::1]:9/x"]
)
def test_plain_http_allowed_for_loopback(tmp_path: Path, host: str) -> None:
    config = write(
        tmp_path / "config.yaml", GOOD_CONFIG.replace("https://tenant.example/scim/v2", host)
    )
    result = run_cli("--config", str(config), "map", "show")
    assert result.exit_code == 0, result.output


def test_settings_resolve_paths_against_config_folder(tmp_path: Path) -> None:
    from hibob_sync.config.settings import load_settings

    config = write(tmp_path / "etc" / "config.yaml", GOOD_CONFIG)
    settings = load_settings(config)
    assert settings.mapping_path == (tmp_path / "etc" / "mapping.yaml").resolve()
    assert settings.state_path == (tmp_path / "etc" / "state" / "state.db").resolve()
    assert settings.max_deactivations.percent and settings.max_deactivations.value == 10
    assert settings.email is not None and settings.email.to == ("it@example.com",)


def test_tilde_is_expanded(tmp_path: Path, isolated_home: Path) -> None:
    from hibob_sync.config.settings import load_settings

    config = write(
        tmp_path / "config.yaml",
        GOOD_CONFIG.replace("state_path: state/state.db", "state_path: ~/s/state.db"),
    )
    assert load_settings(config).state_path == isolated_home / "s" / "state.db"


BAD_MAPPINGS = {
    "malformed YAML": ("mapping: {email: [\n", "malformed YAML"),
    "a field written twice": (
        "mapping:\n  email: root.email\n  email: work.email\n",
        "the key 'email' appears twice",
    ),
    "email unmapped": ("mapping:\n  job_title: work.title\n", "mapping.email"),
    "unknown HiThrive field": (
        "mapping:\n  email: root.email\n  shoe_size: work.shoe\n",
        "shoe_size",
    ),
    "not a field ID": ("mapping:\n  email: 'root email'\n", "mapping.email"),
    "a list at top": ("- email\n", "top-level 'mapping:'"),
    "no mapping key": ("fields:\n  email: root.email\n", "unknown key fields"),
    "mapping is a list": ("mapping:\n  - email\n", "mapping"),
    "source of wrong type": ("mapping:\n  email: root.email\n  teams: {a: 1}\n", "mapping.teams"),
}


@pytest.mark.parametrize("case", sorted(BAD_MAPPINGS))
def test_bad_mapping_names_file_and_field(tmp_path: Path, case: str) -> None:
    text, needle = BAD_MAPPINGS[case]
    write(tmp_path / "config.yaml", GOOD_CONFIG)
    mapping = write(tmp_path / "mapping.yaml", text)
    for command in (["map", "validate"], ["map", "show"]):
        result = run_cli("--config", str(tmp_path / "config.yaml"), *command)
        assert_config_error(result.output, result.exit_code, str(mapping), needle)


def test_map_validate_without_file_checks_the_default_mapping(tmp_path: Path) -> None:
    # Without mapping_file in the config, run and check fall back to the default mapping,
    # so validate checks that one and says so.
    write(tmp_path / "config.yaml", GOOD_CONFIG.replace("mapping_file: mapping.yaml\n", ""))
    result = run_cli("--config", str(tmp_path / "config.yaml"), "map", "validate")
    assert result.exit_code == 0, result.output
    mapping_file = tmp_path / "mapping.yaml"
    assert f"the default mapping (no {mapping_file}): OK (8 fields mapped)" in result.stdout
    assert f"no mapping file at {mapping_file}: using the default mapping" in result.messages
    assert not mapping_file.exists()  # validating writes nothing


def test_map_show_default_mapping(tmp_path: Path) -> None:
    result = run_cli("map", "show")
    assert result.exit_code == 0, result.output
    assert "root.email" in result.stdout
    assert "work.reportsTo.email" in result.stdout
    assert "default mapping" in result.stderr


def test_map_set_and_unset_round_trip(tmp_path: Path) -> None:
    config = write(tmp_path / "etc" / "config.yaml", GOOD_CONFIG)
    mapping_file = tmp_path / "etc" / "mapping.yaml"
    write(
        mapping_file,
        "mapping:\n  email: root.email\n  job_title: work.title\n  teams: work.department\n",
    )
    result = run_cli(
        "--config", str(config), "map", "set", "groups", "work.site", "work.custom.field_17"
    )
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(mapping_file.read_text())["mapping"]
    assert data == {
        "email": "root.email",
        "job_title": "work.title",
        "teams": "work.department",
        "groups": ["work.site", "work.custom.field_17"],
    }

    result = run_cli("--config", str(config), "map", "unset", "job_title")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(mapping_file.read_text())["mapping"]
    assert "job_title" not in data and data["groups"] == ["work.site", "work.custom.field_17"]

    result = run_cli("--config", str(config), "map", "validate")
    assert result.exit_code == 0 and "OK" in result.stdout
    assert not [p for p in mapping_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_map_unset_email_refused(tmp_path: Path) -> None:
    mapping_file = write(tmp_path / "mapping.yaml", "mapping:\n  email: root.email\n")
    before = mapping_file.read_text()
    result = run_cli("map", "unset", "email")
    assert_config_error(result.output, result.exit_code, "email must be mapped")
    assert mapping_file.read_text() == before


def test_map_set_bad_source_leaves_file_alone(tmp_path: Path) -> None:
    mapping_file = write(tmp_path / "mapping.yaml", "mapping:\n  email: root.email\n")
    before = mapping_file.read_text()
    result = run_cli("map", "set", "job_title", "not a field")
    assert_config_error(result.output, result.exit_code, "not a HiBob field ID")
    assert mapping_file.read_text() == before


def test_map_set_unknown_field_is_usage_error() -> None:
    result = run_cli("map", "set", "shoe_size", "work.shoe")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_console_script_bad_config_has_no_traceback(tmp_path: Path) -> None:
    config = write(tmp_path / "config.yaml", "hibob: {base_url: 12}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "hibob_sync", "--config", str(config), "map", "show"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 78
    assert "Traceback" not in proc.stderr
    assert "hibob.base_url" in proc.stderr
