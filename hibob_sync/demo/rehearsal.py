"""`hibob-sync demo --serve`: a place to rehearse before going live.

The tour (tour.py) shows the flow once and stops. A rehearsal keeps the HiBob sandbox and a
SCIM server with HiThrive's schema running on loopback, writes a ready folder (config.yaml,
mapping.yaml, and an env file with the sandbox's credentials), and lets the admin run the
real commands against them, and change HiBob's people in between (a hire, a leaver, a
rehire, a changed field, someone HiBob stops returning, an empty answer) with
``python -m hibob_sync.sandbox roster ...``, to see plan, apply, the grace window and the
safeguards at work. Nothing real is touched; the tokens are made up for this run.
"""

from __future__ import annotations

import secrets
import shlex
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hibob_sync import credentials
from hibob_sync.config.admin_files import create_admin_file
from hibob_sync.demo.scim_server import LocalScimServer, require_scim2_server
from hibob_sync.errors import ConfigError
from hibob_sync.sandbox import HibobSandbox, generate_company
from hibob_sync.sandbox.catalogue import MAPPING_YAML
from hibob_sync.sandbox.roster_cli import ADMIN_TOKEN_ENV, URL_ENV

CONFIG_ENV = "HIBOB_SYNC_CONFIG"
USER_ID = "rehearsal-service-user"


@dataclass(frozen=True)
class Rehearsal:
    """The running servers and the folder written for them."""

    folder: Path
    hibob_url: str
    scim_url: str
    employees: int
    example: str  # an ordinary employee's email, for the printed roster commands

    @property
    def env_file(self) -> Path:
        return self.folder / "env"


def _folder(folder: Path | None) -> Path:
    """The given folder (new, or empty), else a new private temp folder."""
    if folder is None:
        return Path(tempfile.mkdtemp(prefix="hibob-sync-rehearsal-"))
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(
            f"{folder} is not an empty folder; the rehearsal writes its own files there",
            hint="pass a new or empty folder with --dir, or leave --dir out for a temp folder",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"cannot make {folder}: {exc.strerror or exc}") from None
    return folder


def _write(folder: Path, hibob_url: str, scim_url: str, tokens: dict[str, str]) -> None:
    config = folder / "config.yaml"
    create_admin_file(
        config,
        "# Written by `hibob-sync demo --serve`: loopback servers only.\n"
        f"hibob:\n  base_url: {hibob_url}\n"
        f"hithrive:\n  scim_url: {scim_url}\n"
        "mapping_file: mapping.yaml\n"
        "sync:\n  leavers: deactivate\n  max_deactivations: 10%\n"
        "  vanished_grace: 2m   # short, to see a countdown end; 3d is the default\n"
        "  state_path: state.db\n",
        "the rehearsal's config",
    )
    create_admin_file(folder / "mapping.yaml", MAPPING_YAML, "the rehearsal's mapping")
    lines = [
        "# Written by `hibob-sync demo --serve`: the loopback sandbox's made-up credentials.",
        "# Load it with `. THIS-FILE` in each shell that runs hibob-sync against the rehearsal.",
        *(f"export {name}={shlex.quote(value)}" for name, value in tokens.items()),
    ]
    create_admin_file(folder / "env", "\n".join(lines) + "\n", "the rehearsal's env", 0o600)


@contextmanager
def rehearsal(employees: int, folder: Path | None = None) -> Iterator[Rehearsal]:
    """Start both servers, write the folder, and keep them running for the block."""
    require_scim2_server()
    folder = _folder(folder)
    token, scim_token, admin = (secrets.token_urlsafe(24) for _ in range(3))
    company = generate_company(employees, seed=2026)
    awkward = {i for ids in company.awkward.values() for i in ids}
    plain = [
        str(company.get(i)["root.email"])
        for i in company.ids()
        if i not in awkward and company.get(i)["internal.lifecycleStatus"] == "Employed"
    ]
    with (
        HibobSandbox(company, user_id=USER_ID, token=token, admin_token=admin) as sandbox,
        LocalScimServer(scim_token, folder) as scim,
    ):
        _write(
            folder,
            sandbox.url,
            scim.url,
            {
                CONFIG_ENV: str(folder.absolute() / "config.yaml"),
                credentials.HIBOB_USER_ID.env: USER_ID,
                credentials.HIBOB_TOKEN.env: token,
                credentials.SCIM_TOKEN.env: scim_token,
                URL_ENV: sandbox.url,
                ADMIN_TOKEN_ENV: admin,
            },
        )
        yield Rehearsal(folder, sandbox.url, scim.url, employees, plain[-1])


def instructions(run: Rehearsal) -> str:
    """What to try, as commands to paste into another terminal."""
    env = shlex.quote(str(run.env_file.absolute()))
    who = shlex.quote(run.example)
    roster = "python -m hibob_sync.sandbox roster"
    return "\n".join(
        [
            "The rehearsal is running on loopback: nothing real is touched.",
            f"  HiBob sandbox: {run.hibob_url}  ({run.employees} generated employees)",
            f"  SCIM server:   {run.scim_url}  (HiThrive's schema)",
            f"  Files:         {run.folder.absolute()}  (config.yaml, mapping.yaml, env, state)",
            "",
            "In another terminal, in this virtual environment:",
            f"  $ . {env}",
            "  $ hibob-sync check",
            "  $ hibob-sync plan",
            "  $ hibob-sync run",
            "  $ hibob-sync status",
            "Then change HiBob's people and run `hibob-sync plan` or `run` again:",
            f"  $ {roster} list",
            f"  $ {roster} hire ann.newhire@acme.example",
            f"  $ {roster} set {who} work.title 'Head of Rehearsals'",
            f"  $ {roster} leave {who}",
            f"  $ {roster} rehire {who}",
            f"  $ {roster} remove {who}   # HiBob stops returning them: 2 minutes' grace",
            f"  $ {roster} empty   # an empty answer: the safeguards stop the run",
            f"  $ {roster} restore   # everyone back in the answers",
            "",
            "Ctrl-C (or SIGTERM) stops both servers; the folder stays.",
        ]
    )
