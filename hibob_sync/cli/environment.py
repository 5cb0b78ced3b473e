"""What a command runs in: the terminals, the clock and the HTTP settings, and the loaded files.

``cli.main`` takes an ``Environment`` (as httpie's ``Environment``): the real one by default,
one with a prompt-ready stdin or a clock that never sleeps in tests. So no test hook lives
in production code, and the CLI under test is the one users run.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hibob_sync.config.mapping import FieldMapping, load_mapping
from hibob_sync.config.settings import Settings, load_settings
from hibob_sync.errors import ConfigError
from hibob_sync.http import HttpSettings

log = logging.getLogger("hibob_sync")

CONFIG_ENV = "HIBOB_SYNC_CONFIG"


def user_config_dir() -> Path:
    """The per-user config folder ($XDG_CONFIG_HOME/hibob-sync)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hibob-sync"


def find_config(explicit: str | None) -> Path | None:
    """The config file to use: --config / HIBOB_SYNC_CONFIG, ./config.yaml, the user dir."""
    if explicit is not None:  # even empty (the CLI refuses that): never a silent search
        return Path(explicit).expanduser()
    for candidate in (Path("config.yaml"), user_config_dir() / "config.yaml"):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Environment:
    """The world outside the command, read once when ``main`` starts."""

    stdin_isatty: bool = field(default_factory=lambda: sys.stdin.isatty())
    stderr_isatty: bool = field(default_factory=lambda: sys.stderr.isatty())
    clock: Callable[[], float] = time.time
    http: HttpSettings | None = None  # None: the defaults, with the config's timeouts


@dataclass
class App:
    """What every command needs: the environment, the global options, settings and mapping."""

    env: Environment
    config_option: str | None = None
    verbosity: int = 0  # -1 with -q, 1 with -v, 2 with -vv
    traceback: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _waiting: HttpSettings | None = field(default=None, repr=False)

    @property
    def http(self) -> HttpSettings | None:
        return self.env.http

    def waiting_http(self, settings: Settings) -> HttpSettings:
        """HTTP settings whose every 429 wait, across all of this command's requests, draws on
        one `sync.max_wait` budget (as `run` and `check`), not 15 minutes per request."""
        if self._waiting is None:
            from hibob_sync.sync.waits import budgeted

            self._waiting = budgeted(settings.max_wait.total_seconds(), self.http)[1]
        return self._waiting

    @property
    def log_file(self) -> bool:
        """stderr goes to a log file or pipe (cron), not a person: lines get time and level."""
        return not self.env.stderr_isatty

    @property
    def show_trace(self) -> bool:
        """Whether an error shows its stack (--traceback or -vv), for bug reports."""
        return self.traceback or self.verbosity >= 2

    @property
    def config_path(self) -> Path | None:
        return find_config(self.config_option)

    def settings(self, *, required: bool = True) -> Settings:
        """Load config.yaml once; without one, a clear error (or defaults if not required)."""
        if self._settings is None:
            path = self.config_path
            if path is None and required:
                # The folder actually searched ($XDG_CONFIG_HOME honoured), not a fixed ~/.config.
                raise ConfigError(
                    "no config file: looked for ./config.yaml and "
                    f"{user_config_dir() / 'config.yaml'}",
                    hint="`hibob-sync init` writes one to start from (`hibob-sync init DIR` "
                    f"for another folder), or pass --config / set {CONFIG_ENV}",
                )
            self._settings = load_settings(path)
        return self._settings

    def state_folder(self) -> Path | None:
        """Where a crash's traceback goes (sync.state_path's folder), if the config loads."""
        try:
            return self.settings(required=False).state_path.parent
        except Exception:  # noqa: BLE001 - the crash may be in loading it: the temp folder then
            return None

    def mapping_path(self) -> Path:
        settings = self.settings(required=False)
        if settings.path is None:
            return Path("mapping.yaml")
        return settings.mapping_path

    def mapping(self, *, editing: bool = False) -> FieldMapping:
        """The mapping; ``editing`` (`map`, `map set`) may start from the default mapping
        where the configured file does not exist yet, since it is about to write it."""
        path = self.mapping_path()
        settings = self.settings(required=False)
        if not path.exists() and settings.mapping_configured and not editing:
            # Named in the config: a missing file is a mistake, never the default mapping.
            raise ConfigError(
                f"{settings.path}: mapping_file: {path} does not exist",
                hint="fix mapping_file, or create the file with `hibob-sync map`",
            )
        if not path.exists():
            log.warning(
                "no mapping file at %s: using the default mapping (see `hibob-sync map show`)",
                path,
            )
        return load_mapping(path)
