"""`hibob-sync connect` and `disconnect`: store the credentials once, verified, or remove them.

Secrets are typed at a hidden prompt or read from env vars, never taken as arguments.
"""

from __future__ import annotations

import os

import click

from hibob_sync.cli.environment import App
from hibob_sync.cli.log_lines import echo_err
from hibob_sync.errors import CredentialsError


@click.command()
@click.option("--from-env", is_flag=True, help="Store what the credential env vars hold.")
@click.pass_obj
def connect(app: App, from_env: bool) -> None:
    """Ask for the HiBob service user and HiThrive SCIM token, verify them, store them.

    Input is hidden. With --from-env the values come from HIBOB_SERVICE_USER_ID,
    HIBOB_SERVICE_USER_TOKEN and HITHRIVE_SCIM_TOKEN. Secrets are never taken as arguments.
    """
    from hibob_sync import credentials
    from hibob_sync.errors import KeyringStoreError
    from hibob_sync.sync.checks import verify_hibob, verify_scim

    settings = app.settings()
    problem = credentials.storage_problem()
    if problem:  # said before anything is typed, not after
        raise KeyringStoreError(problem)
    for warning in credentials.backend_warnings():
        echo_err(warning, "WARNING", stamped=app.log_file)
    if not from_env and not app.env.stdin_isatty:
        # Nothing was rejected (77 would say so): the command was called the wrong way, as `map`.
        raise click.UsageError(
            "connect asks for credentials at a terminal, and there is none; in scripts set "
            "the env vars and use `hibob-sync connect --from-env`"
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


@click.command()
@click.pass_obj
def disconnect(app: App) -> None:
    """Remove the stored credentials from the keyring."""
    from hibob_sync.credentials import delete

    removed = delete()
    click.echo("Removed: " + ", ".join(removed) if removed else "No stored credentials found.")
