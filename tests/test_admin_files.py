"""Editing the admin's files on a server: /etc/hibob-sync owned by root, read by the service
user through its group. `map set` as that user gets a clear 78 (never a traceback on a temp
file), and as root keeps the file's owner, group and mode, so the nightly run can still
read it. The service user is a real one: the CLI runs in a child with its uid dropped.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hibob_sync
from hibob_sync.config.admin_files import write_admin_file
from hibob_sync.sandbox.catalogue import MAPPING_YAML
from tests.cli_helpers import run_cli

NOBODY = 65534  # the service user of these tests (nobody:nogroup on Debian and Ubuntu)
as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changes owners: needs root"
)
CONFIG = "hibob:\n  base_url: http://127.0.0.1:9/v1\nmapping_file: mapping.yaml\n"


@pytest.fixture
def server_tree() -> Iterator[Path]:
    """A folder any user may enter (pytest's tmp_path is root's alone), removed afterwards."""
    top = Path(tempfile.mkdtemp(prefix="hibob-sync-admin-"))
    try:
        top.chmod(0o755)
        home = top / "home"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        etc = top / "etc"
        etc.mkdir(mode=0o755)
        (etc / "config.yaml").write_text(CONFIG, encoding="utf-8")
        (etc / "mapping.yaml").write_text(MAPPING_YAML, encoding="utf-8")
        for path in (etc / "config.yaml", etc / "mapping.yaml"):
            path.chmod(0o644)
        yield top
    finally:
        shutil.rmtree(top)


def _as_nobody(
    argv: list[str], env: dict[str, str], **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=env,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        timeout=120,
        **kwargs,
    )


@functools.cache
def service_python() -> tuple[str, str] | None:
    """An interpreter the service user may run, and the PYTHONPATH it needs (or None).

    The virtual environment's own interpreter may live in a home only root can enter (a
    pyenv build under /root); then the system's python of the same version runs this
    checkout with the environment's packages on its path.
    """
    here = str(Path(hibob_sync.__file__).resolve().parents[1])
    packages = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for exe, path in ((sys.executable, ""), (f"/usr/bin/{version}", here)):
        extra = os.pathsep.join([path, *packages]) if path else ""
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": extra}
        try:
            probe = _as_nobody([exe, "-c", "import hibob_sync.cli"], env, cwd="/")
        except OSError:
            continue
        if probe.returncode == 0:
            return exe, extra
    return None


def as_service_user(top: Path, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """`hibob-sync ARGS` as the uid nobody, from cron (no terminal), no credentials."""
    found = service_python()
    if found is None:
        pytest.skip("no Python interpreter that the user nobody may run")
    exe, path = found
    home = str(top / "home")
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": path,
        "HOME": home,
        "XDG_CONFIG_HOME": home,
        "XDG_DATA_HOME": home,
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
    }
    return _as_nobody(
        [exe, "-m", "hibob_sync", "--config", str(top / "etc" / "config.yaml"), *args],
        env,
        input=input,
        cwd=top,
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@as_root
def test_map_set_in_a_folder_the_service_user_cannot_write_is_a_clear_78(
    server_tree: Path,
) -> None:
    mapping = server_tree / "etc" / "mapping.yaml"
    before = mapping.read_text(encoding="utf-8")
    for args in (("map", "set", "job_title", "work.title"), ("map", "unset", "birthday")):
        result = as_service_user(server_tree, *args)
        assert result.returncode == 78, result.stderr
        assert "Traceback" not in result.stderr and "PermissionError" not in result.stderr
        assert f"no permission to write in {mapping.parent}" in result.stderr
        assert "running as nobody" in result.stderr
    assert mapping.read_text(encoding="utf-8") == before
    assert leftovers(mapping.parent) == []


@as_root
def test_interactive_map_says_so_before_any_question(server_tree: Path) -> None:
    result = as_service_user(server_tree, "map", input="\n" * 20)
    assert result.returncode == 78, result.stderr
    assert "no permission to write in" in result.stderr
    assert result.stdout == ""  # neither the current mapping nor a question was shown


@as_root
def test_a_file_of_another_owner_is_refused_not_taken_over(server_tree: Path) -> None:
    # The folder is the service user's, the file root's: a rewrite would make it nobody's.
    etc = server_tree / "etc"
    os.chown(etc, NOBODY, NOBODY)
    result = as_service_user(server_tree, "map", "set", "job_title", "work.title")
    assert result.returncode == 78, result.stderr
    assert "it belongs to root" in result.stderr
    assert (etc / "mapping.yaml").stat().st_uid == 0


@as_root
def test_map_set_as_the_service_user_in_its_own_folder_keeps_the_mode(server_tree: Path) -> None:
    etc = server_tree / "etc"
    mapping = etc / "mapping.yaml"
    os.chown(etc, NOBODY, NOBODY)
    os.chown(mapping, NOBODY, NOBODY)
    mapping.chmod(0o600)
    result = as_service_user(server_tree, "map", "set", "job_title", "root.displayName")
    assert result.returncode == 0, result.stderr
    assert "job_title: root.displayName" in mapping.read_text(encoding="utf-8")
    info = mapping.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOBODY, 0o600)
    assert leftovers(etc) == []


@as_root
def test_map_set_as_root_keeps_owner_group_and_mode(tmp_path: Path) -> None:
    # README's server layout: root:hibob-sync 0640, the service user reads it by its group.
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING_YAML, encoding="utf-8")
    os.chown(mapping, 0, NOBODY)
    mapping.chmod(0o640)
    for args in (("map", "set", "job_title", "root.displayName"), ("map", "unset", "birthday")):
        result = run_cli("--config", str(tmp_path / "config.yaml"), *args)
        assert result.exit_code == 0, result.output
        info = mapping.stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, NOBODY, 0o640)
    text = mapping.read_text(encoding="utf-8")
    assert "job_title: root.displayName" in text and "birthday" not in text
    assert leftovers(tmp_path) == []


@as_root
def test_root_rewriting_another_users_file_gives_it_back(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("old\n", encoding="utf-8")
    os.chown(path, NOBODY, NOBODY)
    path.chmod(0o604)
    write_admin_file(path, "new\n", "the config file")
    info = path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOBODY, 0o604)
    assert path.read_text(encoding="utf-8") == "new\n"


def test_a_new_mapping_takes_its_config_files_group_and_mode(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    config.chmod(0o600)
    result = run_cli("--config", str(config), "map", "set", "job_title", "work.title")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "mapping.yaml").stat().st_mode) == 0o600


def test_a_symlinked_mapping_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    real = tmp_path / "shared" / "mapping.yaml"
    real.parent.mkdir()
    real.write_text(MAPPING_YAML, encoding="utf-8")
    (tmp_path / "mapping.yaml").symlink_to(real)
    result = run_cli("--config", str(tmp_path / "config.yaml"), "map", "unset", "birthday")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mapping.yaml").is_symlink()
    assert "birthday" not in real.read_text(encoding="utf-8")


@as_root
def test_init_into_a_folder_the_user_cannot_write_is_a_clear_78(server_tree: Path) -> None:
    result = as_service_user(server_tree, "init", str(server_tree / "etc" / "hibob-sync"))
    assert result.returncode == 78, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot write into" in result.stderr
