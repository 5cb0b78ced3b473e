"""The command line: parse options, call the core, print. Nothing else lives here.

``main`` is the one place where the tool's exceptions become an ``Error: ...`` line and an
exit status; ``--traceback`` (hidden) or ``-vv`` shows the stack for bug reports. What the
commands take from the world (terminals, clock, HTTP settings) comes in an ``Environment``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from hibob_sync import __version__
from hibob_sync.config import CONFIG_ENV
from hibob_sync.environment import App, Environment
from hibob_sync.errors import CredentialsError, ExitCode, HibobSyncError
from hibob_sync.mapping import FieldMapping, load_mapping, save_mapping
from hibob_sync.model import ALL_FIELDS, HITHRIVE_FIELDS, NAME_FIELDS

if TYPE_CHECKING:
    from hibob_sync.plan_file import PlanFile, PlanOutput
    from hibob_sync.summary import RunSummary

log = logging.getLogger("hibob_sync")


pass_app = click.make_pass_decorator(App)


def _log_file(app: App | None = None) -> bool:
    """stderr goes to a log file or pipe (cron), not a person: lines get time and level."""
    if app is None:
        ctx = click.get_current_context(silent=True)
        app = ctx.find_object(App) if ctx is not None else None
    return not (app.env.stderr_isatty if app is not None else sys.stderr.isatty())


_PREFIX = {"ERROR": "Error: ", "WARNING": "warning: ", "INFO": ""}


def _err(message: str, level: str = "ERROR", app: App | None = None) -> None:
    """One message on stderr: `Error: ...` on a terminal, `<time> ERROR ...` in a log."""
    from hibob_sync.log_lines import stamp
    from hibob_sync.safe_text import line_safe

    stamped = _log_file(app)
    text = stamp(message, level) if stamped else line_safe(_PREFIX.get(level, "") + message)
    click.echo(text, err=True)


def _setup_logging(verbosity: int, app: App) -> None:
    from hibob_sync.log_lines import formatter

    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(stamped=_log_file(app)))
    root = logging.getLogger("hibob_sync")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    if verbosity < 2:
        # urllib3 logs full URLs at debug level only; keep it quiet unless asked.
        logging.getLogger("urllib3").setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config",
    envvar=CONFIG_ENV,
    metavar="PATH",
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
    _setup_logging(app.verbosity, app)
    ctx.obj = app


@cli.command()
@click.option("--from-env", is_flag=True, help="Store what the credential env vars hold.")
@pass_app
def connect(app: App, from_env: bool) -> None:
    """Ask for the HiBob service user and HiThrive SCIM token, verify them, store them.

    Input is hidden. With --from-env the values come from HIBOB_SERVICE_USER_ID,
    HIBOB_SERVICE_USER_TOKEN and HITHRIVE_SCIM_TOKEN. Secrets are never taken as arguments.
    """
    from hibob_sync import credentials
    from hibob_sync.checks import verify_hibob, verify_scim
    from hibob_sync.errors import KeyringStoreError

    settings = app.settings()
    problem = credentials.storage_problem()
    if problem:  # said before anything is typed, not after
        raise KeyringStoreError(problem)
    for warning in credentials.backend_warnings():
        _err(warning, "WARNING")
    if not from_env and not app.env.stdin_isatty:
        raise CredentialsError(
            "connect asks for credentials at a terminal, and there is none",
            hint="set the env vars and use `hibob-sync connect --from-env`",
        )

    def obtain(item: credentials.Secret) -> str:
        if not from_env:
            return str(click.prompt(item.label, hide_input=item.secret)).strip()
        value = os.environ.get(item.env, "").strip()
        if not value:
            raise CredentialsError(
                f"{item.env} is not set",
                hint="export it, or run `hibob-sync connect` at a terminal",
            )
        return value

    login = credentials.HibobCredentials(
        obtain(credentials.HIBOB_USER_ID), obtain(credentials.HIBOB_TOKEN)
    )
    click.echo(f"verified: {verify_hibob(settings, login, http=app.http)}")
    token = obtain(credentials.SCIM_TOKEN)
    click.echo(f"verified: {verify_scim(settings, token, http=app.http)}")
    credentials.store(
        {
            credentials.HIBOB_USER_ID: login.user_id,
            credentials.HIBOB_TOKEN: login.token,
            credentials.SCIM_TOKEN: token,
        }
    )
    click.echo("Stored in the keyring (service hibob-sync). Next: `hibob-sync check`.")


@cli.command()
@pass_app
def disconnect(app: App) -> None:
    """Remove the stored credentials from the keyring."""
    from hibob_sync.credentials import delete

    removed = delete()
    click.echo("Removed: " + ", ".join(removed) if removed else "No stored credentials found.")


@cli.group("map", invoke_without_command=True)
@click.pass_context
def map_group(ctx: click.Context) -> None:
    """Edit the field mapping (interactive without a subcommand).

    Fields: email (required), employee_id, job_title, start_date, birthday, teams, groups,
    manager_email. Sources are HiBob field IDs such as work.title.
    """
    if ctx.invoked_subcommand is None:
        _edit_mapping(ctx.find_object(App))


def _edit_mapping(app: App | None) -> None:
    """The interactive editor: one prompt per HiThrive field, offering the HiBob catalogue."""
    from hibob_sync.mapping import FIELD_HELP, validate
    from hibob_sync.mapping_editor import label, problems_of, resolve_answer, try_catalogue

    assert app is not None
    if not app.env.stdin_isatty:
        raise click.UsageError("`map` is interactive; in scripts use `map set` / `map unset`")
    path = app.mapping_path()
    mapping = app.mapping()
    catalogue, why = try_catalogue(app.settings(required=False), app.http)
    click.echo(f"Current mapping ({path}):")
    _print_mapping(mapping)
    if catalogue is None:
        _err(f"HiBob's field catalogue cannot be read ({why}): fields are not verified", "WARNING")
    known = f"{len(catalogue)} in your catalogue" if catalogue is not None else "not verified"
    click.echo(
        f"\nFor each field type a HiBob field ID or name ({known}), "
        "several separated by commas; Enter keeps, '-' unmaps, '?' lists the fields."
    )
    sources = dict(mapping.sources)
    for name in HITHRIVE_FIELDS:
        while True:
            current = ", ".join(sources.get(name, ())) or "-"
            answer = click.prompt(f"{name} - {FIELD_HELP[name]}", default=current).strip()
            if answer == "?":
                for entry in catalogue or ():
                    click.echo(f"  {label(entry)}")
                continue
            if answer == "-":
                if name == "email":
                    click.echo("  email is required: it identifies each user")
                    continue
                sources.pop(name, None)
                break
            if answer == current:
                break
            chosen: list[str] | None
            problems: list[str]
            if catalogue is None:  # taken as typed; `check` verifies once connected
                chosen, problems = [p.strip() for p in answer.split(",") if p.strip()], []
            else:
                chosen, problems = resolve_answer(answer, catalogue)
            if chosen and catalogue is not None:
                trial = validate({**sources, name: tuple(chosen)}, str(path))
                problems = problems_of(trial, catalogue, name)
                chosen = None if problems else chosen
            for line in problems:
                click.echo(f"  {line}")
            if chosen:
                sources[name] = tuple(chosen)
                break
    updated = validate(sources, str(path))
    click.echo("\nNew mapping:")
    _print_mapping(updated)
    if click.confirm(f"Save to {path}?", default=True):
        save_mapping(path, updated)
        click.echo(f"Saved {path}. Next: `hibob-sync check`.")
        if catalogue is None:
            click.echo("The fields were not verified against HiBob: run `hibob-sync check`.")


def _print_mapping(mapping: FieldMapping) -> None:
    for name in (*HITHRIVE_FIELDS, *(f for f in NAME_FIELDS if f in mapping.sources)):
        sources = mapping.sources.get(name)
        shown = ", ".join(sources) if sources else "(not mapped)"
        click.echo(f"{name:<14} {shown}")


@map_group.command("show")
@pass_app
def map_show(app: App) -> None:
    """Print the current mapping."""
    path = app.mapping_path()
    mapping = app.mapping()
    if not path.exists():
        click.echo(f"# {path} does not exist yet: this is the default mapping", err=True)
    _print_mapping(mapping)


@map_group.command("set")
@click.argument("field_name", metavar="FIELD", type=click.Choice(ALL_FIELDS))
@click.argument("sources", metavar="SOURCE...", nargs=-1, required=True)
@pass_app
def map_set(app: App, field_name: str, sources: tuple[str, ...]) -> None:
    """Map a HiThrive FIELD to one or more HiBob field IDs (SOURCE...)."""
    from hibob_sync.mapping_editor import problems_of, refuse, try_catalogue

    path = app.mapping_path()
    mapping = app.mapping().with_field(field_name, sources)
    catalogue, why = try_catalogue(app.settings(required=False), app.http)
    if catalogue is not None and (problems := problems_of(mapping, catalogue, field_name)):
        raise refuse(problems)
    save_mapping(path, mapping)
    click.echo(f"{field_name} <- {', '.join(mapping.sources[field_name])}  ({path})")
    if catalogue is None:
        _err(f"not verified against HiBob's field catalogue ({why})", "WARNING")


@map_group.command("unset")
@click.argument("field_name", metavar="FIELD", type=click.Choice(ALL_FIELDS))
@pass_app
def map_unset(app: App, field_name: str) -> None:
    """Stop syncing a HiThrive FIELD (email cannot be unmapped)."""
    path = app.mapping_path()
    mapping = app.mapping().without_field(field_name)
    save_mapping(path, mapping)
    click.echo(f"{field_name} is no longer mapped  ({path})")


@map_group.command("validate")
@pass_app
def map_validate(app: App) -> None:
    """Check the mapping file; exit 78 if it is invalid."""
    from hibob_sync.mapping_editor import problems_of, refuse, try_catalogue

    path = app.mapping_path()
    mapping = load_mapping(path, default_if_missing=False)
    catalogue, why = try_catalogue(app.settings(required=False), app.http)
    if catalogue is not None and (problems := problems_of(mapping, catalogue)):
        raise refuse([f"{path}: {line}" for line in problems])
    click.echo(f"{path}: OK ({len(mapping.fields)} fields mapped)")
    if catalogue is None:
        _err(f"not checked against HiBob's field catalogue ({why})", "WARNING")


@cli.command()
@click.option("--send-test-email", is_flag=True, help="Send one test message to notify.email.to.")
@pass_app
def check(app: App, send_test_email: bool) -> None:
    """Verify credentials, HiBob field permissions, leaver visibility, SCIM attributes and
    the alert paths (SMTP login, healthcheck host; nothing is sent).

    Reads only. Exit 0 when all is well, 77 for credentials or permissions, 78 for config
    or mapping problems (alert paths included).
    """
    from hibob_sync.checks import run_checks
    from hibob_sync.safe_text import line_safe

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


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the plan (as `plan` does) and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
@pass_app
def run(app: App, dry_run: bool, as_json: bool) -> None:
    """Run the sync: read HiBob, plan, check safeguards, write to the SCIM server.

    Exit 0 all in sync (or only employees already named by the last run left out), 1 new
    employees could not be synced (named), 65 a safeguard stopped the run, 69 a service
    stayed unavailable, 75 another run holds the lock, 77 credentials or permissions, 78
    config or mapping.
    """
    if dry_run:
        _show_plan(app, as_json=as_json)
    _sync(app, as_json=as_json)


@cli.command("plan")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the plan file (JSON, mode 0600) that `apply` takes.",
)
@click.option(
    "--expires", default="24h", show_default=True, help="How long the plan file is valid."
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
@pass_app
def plan_command(app: App, output: Path | None, expires: str, as_json: bool) -> None:
    """Print what `run` would do, per user and field, and every safeguard it would trip.

    Writes nothing to HiThrive. Exit 0 when `run` would go ahead, 65 when a safeguard would
    stop it: then review the plan, save it with -o FILE and carry it out with `apply FILE`.
    """
    from hibob_sync.durations import EXAMPLES, parse_duration
    from hibob_sync.plan_file import PlanOutput

    try:
        valid = parse_duration(expires)
    except ValueError:
        raise click.BadParameter(f"expected {EXAMPLES}", param_hint="--expires") from None
    _show_plan(app, as_json=as_json, out=PlanOutput(output, valid) if output else None)


@cli.command("apply")
@click.argument("plan_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
@pass_app
def apply_command(app: App, plan_file: Path, as_json: bool) -> None:
    """Carry out exactly the reviewed plan in FILE (made by `plan -o FILE`).

    Re-reads HiBob and HiThrive first and refuses the whole plan (65, nothing written) if it
    expired, was made for another config or target, or any of its users moved since. Goes
    past the safeguards the plan tripped: the review is the override.
    """
    from hibob_sync.plan_file import load_plan_file

    _sync(app, as_json=as_json, reviewed=load_plan_file(plan_file))


def _show_plan(app: App, *, as_json: bool, out: PlanOutput | None = None) -> NoReturn:
    from hibob_sync import report
    from hibob_sync.plan_report import plan_file_note, review_json, review_text
    from hibob_sync.sync import run_sync

    settings, mapping = app.settings(), app.mapping()
    try:
        summary = run_sync(
            settings, mapping, dry_run=True, http=app.http, plan_out=out, clock=app.env.clock
        )
    except HibobSyncError as exc:
        if as_json and exc.summary is not None:  # scripts get a document for every outcome
            click.echo(report.summary_json(exc.summary))
        raise
    click.echo(review_json(summary) if as_json else review_text(summary))
    if out is not None:
        click.echo(plan_file_note(out.path), err=True)
    click.get_current_context().exit(int(summary.exit_code))


def _sync(app: App, *, as_json: bool, reviewed: PlanFile | None = None) -> NoReturn:
    from hibob_sync import report
    from hibob_sync.sync import run_sync

    settings, mapping = app.settings(), app.mapping()
    try:
        with _progress(app) as progress:
            summary = run_sync(
                settings,
                mapping,
                http=app.http,
                progress=progress,
                reviewed=reviewed,
                clock=app.env.clock,
            )
    except HibobSyncError as exc:
        if as_json and exc.summary is not None:  # scripts get a summary for every outcome
            click.echo(report.summary_json(exc.summary))
        raise
    if as_json:
        click.echo(report.summary_json(summary))
    elif reviewed is not None:  # the admin is at the terminal: say what was done
        click.echo(f"{summary.message}\n{report.summary_text(summary)}")
    elif summary.exit_code != ExitCode.OK or _names_someone(app, summary):
        levels: dict[int, str] = {ExitCode.OK: "INFO", ExitCode.PARTIAL: "WARNING"}
        level = levels.get(int(summary.exit_code), "ERROR")
        _err(report.summary_text(summary), level)
    click.get_current_context().exit(int(summary.exit_code))


def _names_someone(app: App, summary: RunSummary) -> bool:
    """Exit 0 still names old problems, warnings and countdowns, except under -q (cron)."""
    pending = summary.plan.pending if summary.plan else []
    named = bool(summary.failures or summary.warnings or pending)
    return app.verbosity > 0 or (app.verbosity == 0 and named)


@contextlib.contextmanager
def _progress(app: App) -> Iterator[Callable[[int, int], None] | None]:
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
    from hibob_sync import report
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
    from hibob_sync.status import check as check_status

    result = check_status(lambda: app.settings(required=False).state_path, max_age, app.env.clock)
    click.echo(result.json() if as_json else result.text())
    click.get_current_context().exit(int(result.verdict))


@cli.command()
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
    from hibob_sync.demo import run_demo

    code = run_demo(employees, click.echo)
    click.get_current_context().exit(0 if code in (ExitCode.OK, ExitCode.PARTIAL) else code)


def main(argv: list[str] | None = None, *, env: Environment | None = None) -> NoReturn:
    """Entry point: run the CLI, turning expected errors into a message and exit code.

    ``env`` is the world the commands see (terminals, clock, HTTP settings); tests pass
    their own instead of patching this one.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    app = App(env or Environment())
    try:
        result: Any = cli.main(args=args, prog_name="hibob-sync", standalone_mode=False, obj=app)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            _err("Interrupted.", app=app)
            sys.exit(ExitCode.INTERRUPTED)
        _err("Aborted.", app=app)
        sys.exit(ExitCode.PARTIAL)
    except click.ClickException as exc:
        exc.show()
        if isinstance(exc, click.UsageError) and exc.ctx and exc.ctx.command is status:
            # A monitoring plugin's usage error is UNKNOWN (3) on stdout; 2 would read CRITICAL.
            click.echo(f"HIBOB-SYNC UNKNOWN - {exc.format_message()}")
            sys.exit(3)
        sys.exit(ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except HibobSyncError as exc:
        if app.show_trace:
            log.exception("traceback")
        _err(str(exc), app=app)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _err("Interrupted.", app=app)
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(result if isinstance(result, int) else 0)
