"""`hibob-sync demo`: the whole flow on loopback servers, for a first look, or (with --serve)
kept running as a place to rehearse."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import click

from hibob_sync.cli.params import NonEmptyPath
from hibob_sync.errors import ExitCode
from hibob_sync.interrupts import shielded


@click.command()
@click.option(
    "--employees",
    default=None,
    type=click.IntRange(12, 100_000),
    help="Size of the sandbox company [default: 25, with --serve 200].",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Keep both servers running, write a ready config folder and print commands to try.",
)
@click.option(
    "--dir",
    "folder",
    type=NonEmptyPath(file_okay=False, path_type=Path),
    help="Where to write the config, mapping and state [default: a new temp folder].",
)
def demo(employees: int | None, serve: bool, folder: Path | None) -> None:
    """Run the whole flow on the built-in HiBob sandbox and a local SCIM server.

    Touches no real system: both servers run on loopback and stop at the end. With --serve
    they keep running until Ctrl-C, for a rehearsal: run the real commands against them and
    change HiBob's people with `python -m hibob_sync.sandbox roster`.
    """
    if serve:
        _serve(employees or 200, folder)
        return
    from hibob_sync.demo.tour import run_demo

    code = run_demo(employees or 25, click.echo, folder)
    click.get_current_context().exit(0 if code in (ExitCode.OK, ExitCode.PARTIAL) else code)


def _serve(employees: int, folder: Path | None) -> None:
    """Until Ctrl-C or SIGTERM (turned into Ctrl-C by cli.main): the rehearsal's normal end."""
    from hibob_sync.demo.rehearsal import instructions, rehearsal

    servers = contextlib.ExitStack()
    running = servers.enter_context(rehearsal(employees, folder))
    try:
        click.echo(instructions(running))
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    finally:
        with shielded():  # a second signal must not cut the servers' stop short
            servers.close()
    click.echo(f"Stopped: both servers are down. The rehearsal's files stay in {running.folder}")
