"""`hibob-sync init [DIR]`: a commented config.yaml and mapping.yaml to start from.

`pip install` ships no config.example.yaml next to the command, so the starter files live
in the package (templates/) and are written on request, never over an existing file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hibob_sync.config.admin_files import create_admin_file
from hibob_sync.errors import ConfigError

STARTERS = ("config.yaml", "mapping.yaml")


def starter_text(name: str) -> str:
    """The packaged starter file ``name`` (config.yaml is config.example.yaml)."""
    return (resources.files("hibob_sync") / "templates" / name).read_text(encoding="utf-8")


def write_starters(folder: Path) -> list[Path]:
    """Write both starter files into ``folder``; refuse, writing nothing, if either exists."""
    targets = [folder / name for name in STARTERS]
    existing = [str(path) for path in targets if path.exists()]
    if existing:
        raise ConfigError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
            "nothing was written",
            hint="edit the existing files, or pass another folder: `hibob-sync init DIR`",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as exc:
        raise ConfigError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    for path in targets:
        # O_EXCL: a file that appeared since the check above is still never overwritten.
        create_admin_file(path, starter_text(path.name), f"the starter {path.name}")
    return targets
