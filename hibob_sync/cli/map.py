"""`hibob-sync map`: edit the field mapping, interactively or one field at a time.

The commands parse and print; the questions, the catalogue search and the checks live in
mapping_editor.py (no click there).
"""

from __future__ import annotations

import click

from hibob_sync.cli.environment import App
from hibob_sync.cli.log_lines import echo_err
from hibob_sync.config.mapping import save_mapping
from hibob_sync.model import ALL_FIELDS


@click.group("map", invoke_without_command=True)
@click.pass_context
def map_group(ctx: click.Context) -> None:
    """Edit the field mapping (interactive without a subcommand).

    Fields: email (required), employee_id, job_title, start_date, birthday, teams, groups,
    manager_email. Sources are HiBob field IDs such as work.title.
    """
    if ctx.invoked_subcommand is None:
        _edit_mapping(ctx.obj)


def _edit_mapping(app: App) -> None:
    """The interactive editor (mapping_editor.ask_sources), at a terminal only."""
    from dataclasses import replace

    from hibob_sync.config.mapping import validate
    from hibob_sync.sync.extra_editor import ask_extras, try_server
    from hibob_sync.sync.mapping_editor import (
        ask_sources,
        mapping_text,
        resolve_answer,
        try_catalogue,
    )

    if not app.env.stdin_isatty:
        raise click.UsageError("`map` is interactive; in scripts use `map set` / `map unset`")
    path = app.mapping_path()
    mapping = app.mapping()
    catalogue, why = try_catalogue(app.settings(required=False), app.http)
    click.echo(f"Current mapping ({path}):\n{mapping_text(mapping)}")
    if catalogue is None:
        echo_err(
            f"HiBob's field catalogue cannot be read ({why}): fields are not verified",
            "WARNING",
            stamped=app.log_file,
        )

    def ask(question: str, default: str) -> str:
        return str(click.prompt(question, default=default))

    sources = ask_sources(mapping, catalogue, ask, click.echo, str(path))
    updated = replace(mapping, sources=validate(sources, str(path)).sources)
    server, _ = try_server(app.settings(required=False), mapping, app.http)

    def resolve(answer: str) -> tuple[list[str] | None, list[str]]:
        if catalogue is None:
            return [p.strip() for p in answer.split(",") if p.strip()], []
        return resolve_answer(answer, catalogue)

    updated = ask_extras(updated, server, catalogue, resolve, ask, click.echo)
    click.echo(f"\nNew mapping:\n{mapping_text(updated)}")
    if click.confirm(f"Save to {path}?", default=True):
        save_mapping(path, updated)
        click.echo(f"Saved {path}. Next: `hibob-sync check`.")
        if catalogue is None:
            click.echo("The fields were not verified against HiBob: run `hibob-sync check`.")


@map_group.command("show")
@click.pass_obj
def map_show(app: App) -> None:
    """Print the current mapping."""
    from hibob_sync.sync.mapping_editor import mapping_text

    path = app.mapping_path()
    mapping = app.mapping()
    if not path.exists():
        click.echo(f"# {path} does not exist yet: this is the default mapping", err=True)
    click.echo(mapping_text(mapping))


@map_group.command("set")
@click.argument("field_name", metavar="FIELD", type=click.Choice(ALL_FIELDS))
@click.argument("sources", metavar="SOURCE...", nargs=-1, required=True)
@click.pass_obj
def map_set(app: App, field_name: str, sources: tuple[str, ...]) -> None:
    """Map a HiThrive FIELD to one or more HiBob field IDs (SOURCE...)."""
    from hibob_sync.sync.mapping_editor import problems_of, refuse, try_catalogue

    path = app.mapping_path()
    mapping = app.mapping().with_field(field_name, sources)
    catalogue, why = try_catalogue(app.settings(required=False), app.http)
    if catalogue is not None and (problems := problems_of(mapping, catalogue, field_name)):
        raise refuse(problems)
    save_mapping(path, mapping)
    click.echo(f"{field_name} <- {', '.join(mapping.sources[field_name])}  ({path})")
    if catalogue is None:
        echo_err(
            f"not verified against HiBob's field catalogue ({why})", "WARNING", stamped=app.log_file
        )


@map_group.command("unset")
@click.argument("field_name", metavar="FIELD", type=click.Choice(ALL_FIELDS))
@click.pass_obj
def map_unset(app: App, field_name: str) -> None:
    """Stop syncing a HiThrive FIELD (email cannot be unmapped)."""
    path = app.mapping_path()
    mapping = app.mapping().without_field(field_name)
    save_mapping(path, mapping)
    click.echo(f"{field_name} is no longer mapped  ({path})")


@map_group.command("validate")
@click.pass_obj
def map_validate(app: App) -> None:
    """Check the mapping file (without one, the default mapping run and check use); exit 78
    if it is invalid."""
    from hibob_sync.sync.mapping_editor import problems_of, refuse, try_catalogue

    path = app.mapping_path()
    # No file means the default mapping for run and check (app.mapping warns so), so that
    # is what gets checked, and the verdict says which one it was.
    name = str(path) if path.exists() else f"the default mapping (no {path})"
    mapping = app.mapping()
    catalogue, why = try_catalogue(app.settings(required=False), app.http)
    problems = problems_of(mapping, catalogue) if catalogue is not None else []
    if catalogue is not None and not problems:
        from hibob_sync.sync.mapping_editor import sampled_problems

        problems = sampled_problems(app.settings(required=False), mapping, app.http)
    if mapping.extra:  # extra attributes are checked against the SCIM server's /Schemas
        from hibob_sync.sync.extra_editor import try_server
        from hibob_sync.sync.extra_targets import extra_problems

        server, server_why = try_server(app.settings(required=False), mapping, app.http)
        if server is None:
            echo_err(
                f"extra attributes not checked against the SCIM server ({server_why})",
                "WARNING",
                stamped=app.log_file,
            )
        else:
            problems += [f"extra.{k}: {t}" for k, t in extra_problems(mapping, *server, catalogue)]
    if problems:
        raise refuse([f"{name}: {line}" for line in problems])
    extras = f", {len(mapping.extra)} extra attributes" if mapping.extra else ""
    click.echo(f"{name}: OK ({len(mapping.fields)} fields mapped{extras})")
    if catalogue is None:
        echo_err(
            f"not checked against HiBob's field catalogue ({why})", "WARNING", stamped=app.log_file
        )
