"""`hibob-sync connect` and `disconnect`: store the credentials once, verified, or remove them.

Secrets are typed at a hidden prompt or read from env vars, never taken as arguments.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from hibob_sync.cli.environment import App
from hibob_sync.cli.log_lines import echo_err
from hibob_sync.errors import CredentialsError, PermissionMissingError

if TYPE_CHECKING:  # the keyring is imported only by the commands that use it
    from hibob_sync import credentials

T = TypeVar("T")
ATTEMPTS = 3  # as sudo and ssh ask for a password


@click.command()
@click.option("--from-env", is_flag=True, help="Store what the credential env vars hold.")
@click.pass_obj
def connect(app: App, from_env: bool) -> None:
    """Ask for the HiBob service user and HiThrive SCIM token, verify them, store them.

    Input is hidden; what a service rejects is asked again, what it accepted is kept. With
    --from-env the values come from HIBOB_SERVICE_USER_ID, HIBOB_SERVICE_USER_TOKEN and
    HITHRIVE_SCIM_TOKEN. Secrets are never taken as arguments.
    """
    from hibob_sync import credentials
    from hibob_sync.errors import KeyringStoreError
    from hibob_sync.sync.checks import verify_hibob, verify_scim
    from hibob_sync.sync.waits import connect_http

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

    http = connect_http(app.http)  # one short wait budget for 429s (sync/waits.py)
    if from_env:
        login, token = _from_env()
        click.echo(f"verified: {verify_hibob(settings, login, http=http)}")
        click.echo(f"verified: {verify_scim(settings, token, http=http)}")
    else:
        # Each half is asked again until it works; what was verified is never asked twice.
        login = _until_verified(
            app,
            lambda: credentials.HibobCredentials(
                _ask(credentials.HIBOB_USER_ID), _ask(credentials.HIBOB_TOKEN)
            ),
            lambda pair: verify_hibob(settings, pair, http=http),
        )
        token = _until_verified(
            app,
            lambda: _ask(credentials.SCIM_TOKEN),
            lambda typed: verify_scim(settings, typed, http=http),
        )
    credentials.store(
        {
            credentials.HIBOB_USER_ID: login.user_id,
            credentials.HIBOB_TOKEN: login.token,
            credentials.SCIM_TOKEN: token,
        }
    )
    click.echo("Stored in the keyring (service hibob-sync). Next: `hibob-sync check`.")


def _ask(item: credentials.Secret) -> str:
    """Hidden input for every value, the service user ID included (spec.md: hidden input)."""
    return str(click.prompt(item.label, hide_input=True)).strip()


def _from_env() -> tuple[credentials.HibobCredentials, str]:
    """The three values from their env vars; every one that is missing is named at once."""
    from hibob_sync import credentials

    values = {item: os.environ.get(item.env, "").strip() for item in credentials.ALL}
    missing = [item.env for item, value in values.items() if not value]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise CredentialsError(
            f"{', '.join(missing)} {verb} not set",
            hint="export them, or run `hibob-sync connect` at a terminal",
        )
    login = credentials.HibobCredentials(
        values[credentials.HIBOB_USER_ID], values[credentials.HIBOB_TOKEN]
    )
    return login, values[credentials.SCIM_TOKEN]


def _until_verified(app: App, ask: Callable[[], T], verify: Callable[[T], str]) -> T:
    """Ask and verify until the service accepts what was typed (at most ATTEMPTS times).

    Only a rejection is asked again; a wrong URL (78) or an outage (69) is not the typing's
    fault, so it ends the command at once.
    """
    for attempt in range(1, ATTEMPTS + 1):
        value = ask()
        try:
            click.echo(f"verified: {verify(value)}")
        except PermissionMissingError:
            raise
        except CredentialsError as exc:
            if attempt == ATTEMPTS:
                raise
            echo_err(f"{exc.message}; try again", stamped=app.log_file)
        else:
            return value
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


@click.command()
@click.pass_obj
def disconnect(app: App) -> None:
    """Remove the stored credentials from the keyring."""
    from hibob_sync.credentials import delete

    removed = delete()
    click.echo("Removed: " + ", ".join(removed) if removed else "No stored credentials found.")
