"""The command line: parse options, call the core, print. Nothing else lives here.

``main`` is the one place where the tool's exceptions become an ``Error: ...`` line and an
exit status; ``--traceback`` (hidden) or ``-vv`` shows the stack for bug reports. What the
commands take from the world (terminals, clock, HTTP settings) comes in an ``Environment``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from hibob_sync import __version__
from hibob_sync.cli.connect import connect, disconnect
from hibob_sync.cli.demo import demo
from hibob_sync.cli.environment import CONFIG_ENV, App, Environment
from hibob_sync.cli.exits import crash, fail
from hibob_sync.cli.explain import explain
from hibob_sync.cli.init import init
from hibob_sync.cli.log_lines import echo_err, setup_logging, show_click_error, stamped_stderr
from hibob_sync.cli.map import map_group
from hibob_sync.cli.params import NonEmptyPath, names, refuse_empty_env
from hibob_sync.cli.running import names_someone, parse_only, progress_bar
from hibob_sync.cli.scope import scope_group
from hibob_sync.errors import ExitCode, HibobSyncError
from hibob_sync.interrupts import Terminated, leave, sigterm_as_interrupt

if TYPE_CHECKING:
    from hibob_sync.core.plan_file import PlanFile, PlanOutput

log = logging.getLogger("hibob_sync")


pass_app = click.make_pass_decorator(App)


class _Stopped(BaseException):
    """Ctrl-C or SIGTERM on its way to main, past click (which would print a blank line)."""


class _Group(click.Group):
    """The top group: an interrupt leaves it as _Stopped, so main alone decides what the
    terminal or the log shows (a blank line closes a typed ``^C``, never a SIGTERM's)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Stopped from exc


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--config",
    "config",
    envvar=CONFIG_ENV,
    metavar="PATH",
    # Empty (option or variable) is a usage error, not "search as usual"; an unreadable or
    # folder path stays the config error (78) that load_settings names.
    type=NonEmptyPath(readable=False),
    callback=refuse_empty_env,
    help=f"Config file [env {CONFIG_ENV}; default ./config.yaml, then ~/.config/hibob-sync/].",
)
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr (for cron).")
@click.option("--traceback", is_flag=True, hidden=True, help="Show the stack on errors.")
@click.version_option(__version__, prog_name="hibob-sync")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int, quiet: bool, traceback: bool) -> None:
    """Sync employee details one way from HiBob to HiThrive (or any SCIM 2.0 app).

    Set-up: `hibob-sync connect`, then `hibob-sync check`; cron runs `hibob-sync run`.
    """
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose contradict each other; use one")
    app = ctx.find_object(App) or App(Environment())
    app.config_option = config
    app.verbosity = -1 if quiet else verbose
    app.traceback = traceback
    setup_logging(app.verbosity, stamped=app.log_file)
    ctx.obj = app


cli.add_command(connect)
cli.add_command(disconnect)
cli.add_command(map_group)
cli.add_command(explain)
cli.add_command(scope_group)
cli.add_command(init)
cli.add_command(demo)


@cli.command()
@click.option("--send-test-email", is_flag=True, help="Send one test message to notify.email.to.")
@pass_app
def check(app: App, send_test_email: bool) -> None:
    """Verify credentials, HiBob field permissions, leaver visibility, SCIM attributes and
    the alert paths (SMTP login, healthcheck host; nothing is sent).

    Reads only. Exit 0 when all is well, 69 when HiBob or HiThrive stayed unavailable (or
    still answered 429 past sync.max_wait), 77 for credentials or permissions, 78 for config
    or mapping problems (alert paths included).
    """
    from hibob_sync.safe_text import line_safe
    from hibob_sync.sync.checks import run_checks

    checklist = run_checks(
        app.settings(), app.mapping(), http=app.http, send_test_email=send_test_email
    )
    for item in checklist.items:
        click.echo(line_safe(item.line))
        if item.hint and item.ok is False:
            click.echo(line_safe(f"       -> {item.hint}"))
    code = checklist.exit_code
    verdict = "all good" if code == ExitCode.OK else f"problems found (exit {int(code)})"
    click.echo(f"Verdict: {verdict}")
    click.get_current_context().exit(int(code))


_ONLY = click.option(
    "--only",
    "only",
    multiple=True,
    metavar="WHO",
    help="Only this person (an email or a HiBob ID; repeatable): a partial run.",
)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the plan (as `plan` does) and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
@_ONLY
@pass_app
def run(app: App, dry_run: bool, as_json: bool, only: tuple[str, ...]) -> None:
    """Run the sync: read HiBob, plan, check safeguards, write to the SCIM server.

    Exit 0 all in sync (or only employees already named by the last run left out), 1 new
    employees could not be synced (named), 65 a safeguard stopped the run, 69 a service
    stayed unavailable (or sync.max_runtime passed), 70 an internal error, 75 another run
    holds the lock, 77 credentials or permissions, 78 config or mapping. `--only WHO` syncs
    the named people now and nobody else (history marks it partial; `status` does not count
    it as the night's run).
    """
    if dry_run:
        _show_plan(app, as_json=as_json, only=only)
    _sync(app, as_json=as_json, only=only)


@cli.command("plan")
@click.option(
    "-o",
    "--output",
    type=NonEmptyPath(dir_okay=False, writable=True, path_type=Path),
    help="Also write the plan file (JSON, mode 0600) that `apply` takes.",
)
@click.option(
    "--expires", default="24h", show_default=True, help="How long the plan file is valid."
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
@_ONLY
@pass_app
def plan_command(
    app: App, output: Path | None, expires: str, as_json: bool, only: tuple[str, ...]
) -> None:
    """Print what `run` would do, per user and field, and every safeguard it would trip.

    Writes nothing to HiThrive. Exit 0 when `run` would go ahead, 65 when a safeguard would
    stop it: then review the plan, save it with -o FILE and carry it out with `apply FILE`.
    """
    from hibob_sync.config.durations import EXAMPLES, parse_duration
    from hibob_sync.core.plan_file import PlanOutput

    try:
        valid = parse_duration(expires)
    except ValueError:
        raise click.BadParameter(f"expected {EXAMPLES}", param_hint="--expires") from None
    if only and output:  # `apply` re-plans the whole run: a partial plan could never match
        raise click.UsageError("-o/--output and --only do not go together; `run --only` it")
    if not valid:  # a plan that expires as it is written could never be applied
        raise click.BadParameter(f"0 would expire at once: {EXAMPLES}", param_hint="--expires")
    _show_plan(app, as_json=as_json, out=PlanOutput(output, valid) if output else None, only=only)


@cli.command("apply")
@click.argument(
    "plan_file",
    metavar="FILE",
    # A FILE that is not there (or not readable) is a usage error (2), not a config one.
    type=NonEmptyPath(exists=True, dir_okay=False, readable=True, path_type=Path),
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
@pass_app
def apply_command(app: App, plan_file: Path, as_json: bool) -> None:
    """Carry out the reviewed plan in FILE (made by `plan -o FILE`).

    Re-reads HiBob and HiThrive and plans afresh; writes only if the fresh plan matches the
    reviewed one action for action (FILE is a record, never run as it stands). Refuses the
    whole plan (65, nothing written, no run recorded) if it expired, was made for another
    config or target, or differs in any way: each difference is named. Goes past the
    safeguards the plan tripped, and does the deactivations still waiting in the grace
    window: the review is the override.
    """
    from hibob_sync.core.plan_file import load_plan_file

    _sync(app, as_json=as_json, reviewed=load_plan_file(plan_file))


def _show_plan(
    app: App, *, as_json: bool, out: PlanOutput | None = None, only: tuple[str, ...] = ()
) -> NoReturn:
    from hibob_sync.core import report
    from hibob_sync.core.plan_report import plan_file_note, review_json, review_text
    from hibob_sync.core.summary import RunSummary as Summary
    from hibob_sync.errors import PlanRefused
    from hibob_sync.sync.run import run_sync

    settings, mapping = app.settings(), app.mapping()
    try:
        summary = run_sync(
            settings,
            mapping,
            dry_run=True,
            http=app.http,
            plan_out=out,
            clock=app.env.clock,
            only=parse_only(only),
        )
    except PlanRefused as exc:  # `plan -o` of an answer no review makes right: no file
        if isinstance(exc.summary, Summary):
            click.echo(review_json(exc.summary) if as_json else review_text(exc.summary))
        raise
    except HibobSyncError as exc:
        if as_json and exc.summary is not None:  # scripts get a document for every outcome
            click.echo(report.summary_json(exc.summary))
        raise
    click.echo(review_json(summary) if as_json else review_text(summary))
    if out is not None:
        click.echo(plan_file_note(out.path), err=True)
    click.get_current_context().exit(int(summary.exit_code))


def _sync(
    app: App, *, as_json: bool, reviewed: PlanFile | None = None, only: tuple[str, ...] = ()
) -> NoReturn:
    from hibob_sync.core import report
    from hibob_sync.sync.run import run_sync

    settings, mapping = app.settings(), app.mapping()
    try:
        with progress_bar(app) as progress:
            summary = run_sync(
                settings,
                mapping,
                http=app.http,
                progress=progress,
                reviewed=reviewed,
                clock=app.env.clock,
                only=parse_only(only),
            )
    except HibobSyncError as exc:
        if as_json and exc.summary is not None:  # scripts get a summary for every outcome
            click.echo(report.summary_json(exc.summary))
        raise
    levels: dict[int, str] = {ExitCode.OK: "INFO", ExitCode.PARTIAL: "WARNING"}
    level = levels.get(int(summary.exit_code), "ERROR")
    if as_json:
        click.echo(report.summary_json(summary))
    elif reviewed is not None and (app.verbosity >= 0 or summary.exit_code != ExitCode.OK):
        # The admin asked for this apply: say what was done, on stderr as `run` says it.
        text = f"{summary.message}\n{report.summary_text(summary)}"
        echo_err(text, level, stamped=app.log_file)
    elif summary.exit_code != ExitCode.OK or names_someone(app, summary) or only:
        echo_err(report.summary_text(summary), level, stamped=app.log_file)
    ctx = click.get_current_context()
    ctx.exit(int(summary.exit_code))


@cli.command()
@click.option(
    "-n",
    "--limit",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many runs to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def history(app: App, limit: int, as_json: bool) -> None:
    """List the last runs: when, counts per action, outcome."""
    from hibob_sync.core import report
    from hibob_sync.state import history as load_history

    runs = load_history(app.settings().state_path, limit)
    if limit == 0 and not as_json:
        return  # nothing asked for, so nothing shown (not "no runs recorded")
    click.echo(report.history_json(runs) if as_json else report.history_text(runs))


class _PluginCommand(click.Command):
    """status: its usage errors carry its context (click's parser leaves some without)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.ctx = exc.ctx or ctx
            raise


@cli.command(cls=_PluginCommand)
@click.option(
    "--max-age",
    default="26h",
    show_default=True,
    metavar="DURATION",
    help="CRITICAL when no good run is this recent (30s, 15m, 26h, 3d).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def status(app: App, max_age: str, as_json: bool) -> None:
    """The last run and the last good run, as a monitoring plugin reports them.

    Reads only. Exit 0 OK, 1 WARNING (the last run failed, a good one is recent), 2 CRITICAL
    (no good run within --max-age), 3 UNKNOWN (no state, or the check could not be made).
    """
    from hibob_sync.sync.status import check as check_status

    result = check_status(lambda: app.settings(required=False).state_path, max_age, app.env.clock)
    click.echo(result.json() if as_json else result.text())
    click.get_current_context().exit(int(result.verdict))


def main(argv: list[str] | None = None, *, env: Environment | None = None) -> NoReturn:
    """Entry point: run the CLI, turning expected errors into a message and exit code.

    ``env`` is the world the commands see (terminals, clock, HTTP settings); tests pass
    their own instead of patching this one.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    app = App(env or Environment())
    # systemctl stop, timeout(1): as Ctrl-C (interrupts.py); in a log, every line stamped
    with sigterm_as_interrupt(), stamped_stderr(app.log_file):
        _main(args, app, owns_process=argv is None)


def _main(args: list[str], app: App, *, owns_process: bool) -> NoReturn:
    try:
        result: Any = cli.main(args=args, prog_name="hibob-sync", standalone_mode=False, obj=app)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C into Abort: in its main (the cause), at a prompt (the context)
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            _interrupted(app, owns_process)
        echo_err("Aborted.", stamped=app.log_file)
        sys.exit(ExitCode.PARTIAL)
    except click.ClickException as exc:
        show_click_error(exc, stamped=app.log_file)
        # status's own usage errors, or the global options' before it (`-q -v status`)
        if isinstance(exc, click.UsageError) and (
            (exc.ctx is not None and exc.ctx.command is status) or names(args, cli, "status")
        ):
            # A monitoring plugin's usage error is UNKNOWN (3) on stdout; 2 would read CRITICAL.
            click.echo(f"HIBOB-SYNC UNKNOWN - {exc.format_message()}")
            sys.exit(3)
        sys.exit(ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except HibobSyncError as exc:
        fail(app, exc, owns_process)
    except _Stopped as stop:
        if app.env.stderr_isatty and not isinstance(stop.__cause__, Terminated):
            click.echo(err=True)  # after the ^C the terminal echoed
        _interrupted(app, owns_process)
    except KeyboardInterrupt:
        _interrupted(app, owns_process)
    except Exception as exc:  # noqa: BLE001 - a defect outside a run: named, 70 (exits.py)
        crash(app, exc, owns_process)
    sys.exit(result if isinstance(result, int) else 0)


def _interrupted(app: App, owns_process: bool) -> NoReturn:
    """130; the process does not wait for worker threads still blocked in a request."""
    echo_err("Interrupted.", stamped=app.log_file)
    if owns_process:  # not when a test calls main() in its own process
        leave(ExitCode.INTERRUPTED)
    sys.exit(ExitCode.INTERRUPTED)
