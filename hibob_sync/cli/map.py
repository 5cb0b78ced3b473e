"""`hibob-sync map`: edit the field mapping, interactively or one field at a time.

The commands parse and print; the questions, the catalogue search and the checks live in
mapping_editor.py (no click there).
"""

from __future__ import annotations

import click

from hibob_sync.cli.environment import App
from hibob_sync.cli.log_lines import echo_err
from hibob_sync.config.admin_files import check_writable
from hibob_sync.config.mapping import FieldMapping, save_mapping
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

    path = app.mapping_path()
    check_writable(path, "the mapping file")  # before any question: no answer typed in vain
    if not app.env.stdin_isatty:
        raise click.UsageError("`map` is interactive; in scripts use `map set` / `map unset`")
    mapping = app.mapping(editing=True)
    http = app.waiting_http(app.settings(required=False))
    catalogue, why = try_catalogue(app.settings(required=False), http)
    click.echo(f"Current mapping ({path}):\n{mapping_text(mapping)}")
    if catalogue is None:
        echo_err(
            f"HiBob's field catalogue cannot be read ({why}): fields are not verified",
            "WARNING",
            stamped=app.log_file,
        )

    def ask(question: str, default: str) -> str:
        return str(click.prompt(question, default=default))

    from hibob_sync.sync.mapping_verdict import sampled_problems

    def judge(trial: FieldMapping, name: str) -> list[str]:
        return sampled_problems(app.settings(required=False), trial, http, (name,))

    sources = ask_sources(mapping, catalogue, ask, click.echo, str(path), judge)
    updated = replace(mapping, sources=validate(sources, str(path)).sources)
    server, _ = try_server(app.settings(required=False), mapping, http)

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
    mapping = app.mapping(editing=True)
    if not path.exists():
        click.echo(f"# {path} does not exist yet: this is the default mapping", err=True)
    click.echo(mapping_text(mapping))


@map_group.command("set")
@click.argument("field_name", metavar="FIELD", type=click.Choice(ALL_FIELDS))
@click.argument("sources", metavar="SOURCE...", nargs=-1, required=True)
@click.pass_obj
def map_set(app: App, field_name: str, sources: tuple[str, ...]) -> None:
    """Map a HiThrive FIELD to one or more HiBob field IDs (SOURCE...)."""
    check_writable(app.mapping_path(), "the mapping file")
    mapping = app.mapping(editing=True).with_field(field_name, sources)
    _save_checked(app, mapping, field_name)
    click.echo(f"{field_name} <- {', '.join(mapping.sources[field_name])}  ({app.mapping_path()})")


@map_group.command("extra")
@click.argument("attribute", metavar="ATTRIBUTE")
@click.argument("sources", metavar="SOURCE...", nargs=-1)
@click.pass_obj
def map_extra(app: App, attribute: str, sources: tuple[str, ...]) -> None:
    """Map a SCIM ATTRIBUTE the server announces (e.g. timezone, 'addresses[type eq
    "work"].country') to HiBob field IDs (SOURCE...); without SOURCE, stop writing it.
    Value rules (values:, default:) are edited in mapping.yaml."""
    path = app.mapping_path()
    check_writable(path, "the mapping file")
    if not sources:
        mapping = app.mapping(editing=True)
        if attribute.strip() not in mapping.extra:  # a typo must not read as done
            mapped = ", ".join(mapping.extra) or "none"
            click.echo(
                f"{attribute} is not an extra attribute of {path} (mapped: {mapped}); "
                "nothing changed"
            )
            return
        save_mapping(path, mapping.without_extra(attribute.strip()))
        click.echo(f"{attribute} is no longer written  ({path})")
        return
    current = app.mapping(editing=True)
    mapping = current.with_extra(attribute, sources, current.rule(attribute.strip()))
    _save_checked(app, mapping, attribute.strip())
    click.echo(f"extra {attribute} <- {', '.join(mapping.extra[attribute.strip()])}  ({path})")


def _save_checked(app: App, mapping: FieldMapping, name: str) -> None:
    """Save after the one validation of what changed (78 and nothing saved when wrong)."""
    from hibob_sync.sync.mapping_editor import refuse, try_catalogue
    from hibob_sync.sync.mapping_verdict import editing_problems

    settings = app.settings(required=False)
    http = app.waiting_http(settings)
    catalogue, why = try_catalogue(settings, http)
    problems, unverified = editing_problems(settings, mapping, catalogue, http, name)
    if problems:
        raise refuse(problems)
    save_mapping(app.mapping_path(), mapping)
    if catalogue is None:
        unverified.insert(0, f"not verified against HiBob's field catalogue ({why})")
    for line in unverified:
        echo_err(line, "WARNING", stamped=app.log_file)


@map_group.command("unset")
@click.argument("field_name", metavar="FIELD", type=click.Choice(ALL_FIELDS))
@click.pass_obj
def map_unset(app: App, field_name: str) -> None:
    """Stop syncing a HiThrive FIELD (email cannot be unmapped)."""
    path = app.mapping_path()
    check_writable(path, "the mapping file")
    mapping = app.mapping(editing=True).without_field(field_name)
    save_mapping(path, mapping)
    click.echo(f"{field_name} is no longer mapped  ({path})")


@map_group.command("validate")
@click.pass_obj
def map_validate(app: App) -> None:
    """Check the mapping file (without one, the default mapping run and check use); exit 78
    if it is invalid."""
    from hibob_sync.sync.mapping_editor import refuse, try_catalogue
    from hibob_sync.sync.mapping_verdict import editing_problems

    path = app.mapping_path()
    # No file means the default mapping for run and check (app.mapping warns so), so that
    # is what gets checked, and the verdict says which one it was.
    name = str(path) if path.exists() else f"the default mapping (no {path})"
    mapping = app.mapping()
    settings = app.settings(required=False)
    http = app.waiting_http(settings)
    catalogue, why = try_catalogue(settings, http)
    problems, unverified = editing_problems(settings, mapping, catalogue, http)
    if problems:
        raise refuse([f"{name}: {line}" for line in problems])
    extras = f", {len(mapping.extra)} extra attributes" if mapping.extra else ""
    click.echo(f"{name}: OK ({len(mapping.fields)} fields mapped{extras})")
    if catalogue is None:
        unverified.insert(0, f"not checked against HiBob's field catalogue ({why})")
    for line in unverified:
        echo_err(line, "WARNING", stamped=app.log_file)
