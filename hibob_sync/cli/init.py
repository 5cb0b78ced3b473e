"""`hibob-sync init [DIR]`: the starter files, and what to do next where they were written."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from hibob_sync.cli.params import NonEmptyPath


@click.command()
@click.argument("folder", metavar="[DIR]", required=False, type=NonEmptyPath(path_type=Path))
def init(folder: Path | None) -> None:
    """Write a commented config.yaml and mapping.yaml to start from (never overwrites).

    DIR defaults to ~/.config/hibob-sync (where hibob-sync looks when there is no
    ./config.yaml); on a server, use /etc/hibob-sync and pass --config.
    """
    from hibob_sync.cli.environment import user_config_dir
    from hibob_sync.config.init_files import write_starters

    written = write_starters(folder or user_config_dir())
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(next_steps(folder))


def next_steps(folder: Path | None) -> str:
    """What to do after `init`: a folder outside the user's home is a server's, which reads
    its credentials from an env file or systemd (the keyring needs a desktop session)."""
    if folder is None:  # the user config dir: found without --config
        return (
            "Next: set hithrive.scim_url in config.yaml, then `hibob-sync connect`, "
            "`hibob-sync map` and `hibob-sync check`."
        )
    config = folder.absolute() / "config.yaml"
    command = f"hibob-sync --config {shlex.quote(str(config))}"
    home = Path.home().resolve()
    if home in (folder.resolve(), *folder.resolve().parents):
        return (
            f"Next: set hithrive.scim_url in {config}, then `{command} connect`, "
            f"`{command} map` and `{command} check`."
        )
    return (
        f"Next: set hithrive.scim_url and sync.state_path in {config}; give the service user "
        "its credentials in an env file or systemd credentials (README: Installing on a "
        f"server, Credentials); then, as that user, `{command} map` and `{command} check`."
    )
