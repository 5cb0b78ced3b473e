"""`hibob-sync demo`: the whole flow on loopback servers, for a first look."""

from __future__ import annotations

import click

from hibob_sync.cli.environment import App
from hibob_sync.errors import ExitCode

pass_app = click.make_pass_decorator(App)


@click.command()
@click.option(
    "--employees",
    default=25,
    show_default=True,
    type=click.IntRange(12, 100_000),
    help="Size of the sandbox company.",
)
@pass_app
def demo(app: App, employees: int) -> None:
    """Run the whole flow on the built-in HiBob sandbox and a local SCIM server.

    Touches no real system: both servers run on loopback and stop at the end.
    """
    from hibob_sync.demo.tour import run_demo

    code = run_demo(employees, click.echo)
    click.get_current_context().exit(0 if code in (ExitCode.OK, ExitCode.PARTIAL) else code)
