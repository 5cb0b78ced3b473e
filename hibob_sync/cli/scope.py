"""`hibob-sync scope`: who is synced, set from HiBob's catalogue without editing YAML.

`scope include FIELD VALUE...` and `scope exclude FIELD VALUE...` set one rule each (FIELD a
HiBob field ID or name, checked against the catalogue as `map set` checks the mapping),
`scope remove FIELD` drops it, `scope values FIELD` shows which values HiBob holds, and
`scope out-of-scope deactivate|ignore` what happens to those who leave. Only the `scope:`
block of config.yaml is rewritten, atomically (config.scope_file).
"""

from __future__ import annotations

from collections import Counter

import click

from hibob_sync.cli.environment import App
from hibob_sync.cli.log_lines import echo_err
from hibob_sync.config.scope import OUT_OF_SCOPE, Scope
from hibob_sync.errors import ConfigError
from hibob_sync.safe_text import shown

ROOT_ID = "root.id"


@click.group("scope", invoke_without_command=True)
@click.pass_context
def scope_group(ctx: click.Context) -> None:
    """Who is synced: include and exclude rules on HiBob fields (prints them without a
    subcommand). Every include rule must hold and no exclude rule may; values are compared
    as HiBob shows them, case-insensitively."""
    if ctx.invoked_subcommand is None:
        click.echo(_text(ctx.obj.settings().scope))


def _text(scope: Scope) -> str:
    if scope.everyone:
        lines = ["No scope rules: everyone HiBob returns is synced."]
    else:
        lines = []
        for kind, rules in (("include", scope.include), ("exclude", scope.exclude)):
            for field_id, values in rules.items():
                lines.append(f"{kind:<8} {field_id}: {shown(', '.join(values))}")
    lines.append(f"out_of_scope: {scope.out_of_scope} (a managed user whose employee leaves)")
    return "\n".join(lines)


@scope_group.command("show")
@click.pass_obj
def scope_show(app: App) -> None:
    """Print the scope rules."""
    click.echo(_text(app.settings().scope))


def _field(app: App, typed: str) -> str:
    """A HiBob field ID for what was typed (an ID or a name), checked against the catalogue."""
    from hibob_sync.sync.mapping_editor import exact_field, try_catalogue

    if typed.strip() == ROOT_ID:
        return ROOT_ID
    catalogue, why = try_catalogue(app.settings(), app.waiting_http(app.settings()))
    if catalogue is None:
        echo_err(
            f"not verified against HiBob's field catalogue ({why})",
            "WARNING",
            stamped=app.log_file,
        )
        return typed.strip()
    if "," in typed:
        raise ConfigError(f"scope: one field at a time, got {shown(typed)!r}", hint=_FIELD_HINT)
    chosen, problems = exact_field(typed, catalogue)
    if chosen is None:
        raise ConfigError(
            "\n".join(f"scope: {line.strip()}" for line in problems), hint=_FIELD_HINT
        )
    return chosen


_FIELD_HINT = (
    "`hibob-sync scope fields TEXT` lists HiBob's fields; a rule takes an ID or a field's "
    "exact name"
)


def _save(app: App, scope: Scope) -> None:
    from hibob_sync.config.scope_file import save_scope

    path = app.config_path
    if path is None:
        raise ConfigError("no config file to write the scope to", hint="run `hibob-sync init`")
    save_scope(path, scope)
    click.echo(f"{_text(scope)}\n(saved to {path}; `hibob-sync plan` shows what it changes)")


def _set(app: App, kind: str, typed: str, values: tuple[str, ...]) -> None:
    from hibob_sync.config.scope_file import with_rule

    cleaned = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not cleaned:
        raise click.BadParameter("expected at least one value", param_hint="VALUE")
    field_id = _field(app, typed)
    _save(app, with_rule(app.settings().scope, kind, field_id, cleaned))
    _warn_unheld(app, field_id, cleaned)


def _warn_unheld(app: App, field_id: str, values: tuple[str, ...]) -> None:
    """Saved either way (a rule may wait for its first contractor); a value nobody holds
    today is said, with the closest one HiBob holds: a typo must not pass silently."""
    from hibob_sync.core.scope import unheld
    from hibob_sync.errors import HibobSyncError
    from hibob_sync.sync.people import field_values

    if field_id == ROOT_ID:
        return
    try:
        counts = field_values(app.settings(), field_id, app.waiting_http(app.settings()))
    except HibobSyncError as exc:
        echo_err(
            f"values not checked against HiBob ({exc.message})", "WARNING", stamped=app.log_file
        )
        return
    for value, close in unheld(values, counts):
        hint = f"; did you mean {shown(close)!r}?" if close else ""
        echo_err(
            f"no employee holds {shown(value)!r} in {field_id} today{hint} "
            f"(`hibob-sync scope values {field_id}` lists what HiBob holds)",
            "WARNING",
            stamped=app.log_file,
        )


@scope_group.command("include")
@click.argument("field_name", metavar="FIELD")
@click.argument("values", metavar="VALUE...", nargs=-1, required=True)
@click.pass_obj
def scope_include(app: App, field_name: str, values: tuple[str, ...]) -> None:
    """Sync only employees whose FIELD holds one of VALUE (e.g. work.site London Berlin)."""
    _set(app, "include", field_name, values)


@scope_group.command("exclude")
@click.argument("field_name", metavar="FIELD")
@click.argument("values", metavar="VALUE...", nargs=-1, required=True)
@click.pass_obj
def scope_exclude(app: App, field_name: str, values: tuple[str, ...]) -> None:
    """Leave out employees whose FIELD holds one of VALUE (e.g. work.department Contractors)."""
    _set(app, "exclude", field_name, values)


@scope_group.command("remove")
@click.argument("field_name", metavar="FIELD")
@click.pass_obj
def scope_remove(app: App, field_name: str) -> None:
    """Drop the include and exclude rules on FIELD."""
    from hibob_sync.config.scope_file import with_rule

    scope = app.settings().scope
    typed = field_name.strip()
    if typed not in scope.fields:
        raise click.BadParameter(
            f"no rule on {typed!r}; rules are on: {', '.join(scope.fields) or 'nothing'}",
            param_hint="FIELD",
        )
    _save(app, with_rule(with_rule(scope, "include", typed, None), "exclude", typed, None))


@scope_group.command("out-of-scope")
@click.argument("policy", type=click.Choice(OUT_OF_SCOPE))
@click.pass_obj
def scope_policy(app: App, policy: str) -> None:
    """What happens to a managed user whose employee leaves the scope."""
    scope = app.settings().scope
    _save(app, Scope(dict(scope.include), dict(scope.exclude), policy))


@scope_group.command("values")
@click.argument("field_name", metavar="FIELD")
@click.pass_obj
def scope_values(app: App, field_name: str) -> None:
    """The values HiBob holds in FIELD, with how many employees hold each (reads HiBob)."""
    from hibob_sync.sync.people import field_values

    field_id = _field(app, field_name)
    counts: Counter[str] = field_values(app.settings(), field_id, app.waiting_http(app.settings()))
    for value, count in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])):
        click.echo(f"{count:>6}  {shown(value)}")
    if not counts:
        click.echo(f"No employee has a value in {field_id} (or the service user cannot read it).")


@scope_group.command("fields")
@click.argument("text", required=False, default="")
@click.pass_obj
def scope_fields(app: App, text: str) -> None:
    """HiBob's fields (those whose ID, name or category holds TEXT): what a rule can read."""
    from hibob_sync.config.mapping_check import did_you_mean
    from hibob_sync.sync.mapping_editor import fetch_catalogue, label, match_fields

    catalogue = fetch_catalogue(app.settings(), app.waiting_http(app.settings()))
    found = match_fields(text, catalogue) if text.strip() else catalogue
    for entry in found:
        click.echo(label(entry))
    if not found:
        close = did_you_mean(text.strip(), catalogue)
        click.echo(f"No HiBob field's ID, name or category holds {shown(text.strip())!r}{close}")
    click.echo("root.id (the HiBob employee ID) works too.")
