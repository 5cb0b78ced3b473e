"""`hibob-sync explain WHO`: why someone is (or is not) synced, for the admin asked.

The command parses and prints; sync.explain reads both sides and core.decision decides.
"""

from __future__ import annotations

import json

import click

from hibob_sync.cli.environment import App


@click.command("explain")
@click.argument("who", metavar="WHO")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.pass_obj
def explain(app: App, who: str, as_json: bool) -> None:
    """Why WHO (an email or a HiBob employee ID) is or is not synced tonight.

    Shows HiBob's mapped values, what HiThrive holds, tonight's decision and the rule
    behind it (scope, set aside since when, grace window, protected, unmanaged, the
    safeguard it counts toward). Reads only. Exit 0 when HiBob or HiThrive knows WHO,
    1 when neither does; as `check`, 69 when a service stayed unavailable (or answered 429
    past sync.max_wait), 77 for credentials or permissions, 78 for config or mapping.
    """
    from hibob_sync.sync.explain import explain as explain_one

    if not who.strip():
        raise click.BadParameter("expected an email or a HiBob ID", param_hint="WHO")
    found = explain_one(
        app.settings(), app.mapping(), who.strip(), http=app.http, clock=app.env.clock
    )
    click.echo(json.dumps(found.as_dict(), indent=2) if as_json else found.text())
    click.get_current_context().exit(0 if found.known else 1)
