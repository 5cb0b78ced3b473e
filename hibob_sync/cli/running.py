"""What `run` and `plan` need around the orchestrator: a progress bar, `--only`, and
whether an exit-0 run still has someone to name."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from hibob_sync.cli.environment import App

if TYPE_CHECKING:
    from hibob_sync.core.only import Only
    from hibob_sync.core.summary import RunSummary


def parse_only(names: tuple[str, ...]) -> Only | None:
    """`--only WHO...` as the core takes it; None when not given (everyone)."""
    from hibob_sync.core.only import Only

    if any(not name.strip() for name in names):
        raise click.BadParameter("expected an email or a HiBob ID", param_hint="--only")
    return Only.parse(names) if names else None


def names_someone(app: App, summary: RunSummary) -> bool:
    """Exit 0 still names old problems, warnings and countdowns, except under -q (cron)."""
    pending = summary.plan.pending if summary.plan else []
    named = bool(summary.failures or summary.warnings or pending)
    return app.verbosity > 0 or (app.verbosity == 0 and named)


@contextlib.contextmanager
def progress_bar(app: App) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal only; cron and pipes get none."""
    if app.verbosity < 0 or not app.env.stderr_isatty:
        yield None
        return
    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="Writing", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
