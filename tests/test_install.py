"""Installing for real: `init`, shell completion, and the README agreeing with crontab.example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from hibob_sync.config.init_files import starter_text
from hibob_sync.config.mapping import load_mapping
from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_init_writes_commented_starters_and_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "etc" / "hibob-sync"
    result = run_cli("init", str(folder))
    assert result.exit_code == 0, result.output
    config, mapping = folder / "config.yaml", folder / "mapping.yaml"
    assert "# Unknown keys are errors" in config.read_text()
    assert load_mapping(mapping).sources["job_title"] == ("work.title",)
    assert "#" in mapping.read_text()

    # Left as written, the config names the placeholder to replace, before any request.
    check = run_cli("--config", str(config), "check")
    assert check.exit_code == 78 and "placeholder" in check.stderr

    mapping.write_text("mapping:\n  email: root.email  # mine\n")
    again = run_cli("init", str(folder))
    assert again.exit_code == 78
    assert "already exist" in again.stderr and "nothing was written" in again.stderr
    assert mapping.read_text() == "mapping:\n  email: root.email  # mine\n"


def test_init_next_steps_fit_the_folder(tmp_path: Path, isolated_home: Path) -> None:
    server = tmp_path / "etc" / "hibob-sync"  # outside the home: a server's folder
    result = run_cli("init", str(server))
    next_line = result.stdout.splitlines()[-1]
    assert next_line.startswith("Next:")
    assert f"hibob-sync --config {server / 'config.yaml'} check" in next_line
    assert "connect" not in next_line and "env file or systemd credentials" in next_line
    mine = isolated_home / "sync"
    next_line = run_cli("init", str(mine)).stdout.splitlines()[-1]
    assert f"`hibob-sync --config {mine / 'config.yaml'} connect`" in next_line


def test_crontab_says_review_with_plan_and_alerts_on_exit_1() -> None:
    text = (ROOT / "crontab.example").read_text()
    assert "run --dry-run" not in text and "review with `hibob-sync plan`" in text
    assert "exit 1 (employees newly set aside)" in text


def test_init_defaults_to_the_user_config_folder(tmp_path: Path) -> None:
    result = run_cli("init")
    assert result.exit_code == 0, result.output
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "hibob-sync"
    assert (folder / "config.yaml").is_file() and (folder / "mapping.yaml").is_file()


def test_the_packaged_config_is_config_example_yaml() -> None:
    assert starter_text("config.yaml") == (ROOT / "config.example.yaml").read_text()


def test_shell_completion_scripts() -> None:
    for shell, marker in (("bash", "complete "), ("zsh", "compdef"), ("fish", "complete ")):
        proc = subprocess.run(
            [sys.executable, "-m", "hibob_sync"],
            env={**os.environ, "_HIBOB_SYNC_COMPLETE": f"{shell}_source"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert marker in proc.stdout and "_HIBOB_SYNC_COMPLETE" in proc.stdout
        readme = (ROOT / "README.md").read_text()
        assert f"_HIBOB_SYNC_COMPLETE={shell}_source hibob-sync" in readme


def test_crontab_and_systemd_unit_agree_on_user_and_paths() -> None:
    readme = (ROOT / "README.md").read_text()
    cron_line = next(
        line
        for line in (ROOT / "crontab.example").read_text().splitlines()
        if line and not line.startswith("#") and "hibob-sync" in line and "run" in line
    )
    command = re.search(r"(/\S+/bin/hibob-sync) -q --config (\S+) run", cron_line)
    assert command is not None
    binary, config = command.groups()
    assert "crontab -u hibob-sync" in (ROOT / "crontab.example").read_text()
    assert f"ExecStart={binary} -q --config {config} run" in readme
    assert "User=hibob-sync" in readme
    assert "useradd --system" in readme and "hibob-sync init /etc/hibob-sync" in readme
    env_file = re.search(r"\. (/\S+/env);", cron_line)
    assert env_file is not None and f"EnvironmentFile={env_file.group(1)}" in readme
    assert f"-m 600 /dev/null {env_file.group(1)}" in readme
