"""Run the real CLI entry point in-process, exactly as the console script does."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import click
from click.testing import CliRunner

from hibob_sync.cli.commands import main
from hibob_sync.cli.environment import Environment
from hibob_sync.http import HttpSettings


@click.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    }
)
@click.pass_context
def _entry(ctx: click.Context) -> None:
    main(list(ctx.args), env=ctx.obj)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def messages(self) -> str:
        """stderr without the time and level that start each line off a terminal."""
        return re.sub(r"(?m)^\d{4}-\d\d-\d\dT\S+ (?:DEBUG|INFO|WARNING|ERROR) ", "", self.stderr)


def run_cli(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    http: HttpSettings | None = None,
    terminal: bool = False,
) -> CliResult:
    """Invoke ``hibob-sync ARGS`` through main(); stdout and stderr kept apart.

    ``http`` injects HTTP settings (fake sleep and clock) and ``terminal`` a stdin that
    counts as a terminal (prompts read ``input``), through main()'s Environment.
    """
    world = Environment(
        stdin_isatty=terminal,
        stderr_isatty=False,
        clock=http.clock if http else time.time,
        http=http,
    )
    result = CliRunner().invoke(
        _entry, list(args), input=input, env=env, catch_exceptions=False, obj=world
    )
    return CliResult(result.exit_code, result.stdout, result.stderr)
