"""`hibob-sync init [DIR]`: a commented config.yaml and mapping.yaml to start from.

`pip install` ships no config.example.yaml next to the command, so the starter files live
in the package (templates/) and are written on request, never over an existing file.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

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
        for path in targets:
            # O_EXCL: a file that appeared since the check above is still never overwritten.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(starter_text(path.name))
    except OSError as exc:
        raise ConfigError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    return targets
