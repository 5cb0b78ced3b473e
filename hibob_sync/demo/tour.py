"""`hibob-sync demo`: the whole flow on loopback, for a first look.

Starts the HiBob sandbox with a generated company and scim2-server, then runs connect (from
env, into a throwaway in-memory keyring), check, a dry run, the first sync, a night with a
few HR changes, and shows the history. Touches no real system and no real keyring; both
servers stop at the end. The files it wrote stay in a temp folder for a look.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import keyring
import keyring.backend

from hibob_sync import credentials
from hibob_sync.config.mapping import load_mapping
from hibob_sync.config.settings import load_settings
from hibob_sync.core import report
from hibob_sync.demo.scim_server import LocalScimServer, require_scim2_server
from hibob_sync.errors import ConfigError
from hibob_sync.sandbox import HibobSandbox, generate_company
from hibob_sync.sandbox.catalogue import MAPPING_YAML
from hibob_sync.state import history
from hibob_sync.sync.checks import connect, run_checks
from hibob_sync.sync.run import run_sync

Say = Callable[[str], None]


class _MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives and dies with the demo, so no real keyring is touched."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._items.pop((service, username), None)


@contextmanager
def _scoped_env(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


@contextmanager
def _memory_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(_MemoryKeyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def _write_files(folder: Path, hibob_url: str, scim_url: str) -> Path:
    config = folder / "config.yaml"
    config.write_text(
        "# Written by `hibob-sync demo`: loopback servers only.\n"
        f"hibob:\n  base_url: {hibob_url}\n"
        f"hithrive:\n  scim_url: {scim_url}\n"
        "mapping_file: mapping.yaml\n"
        "sync:\n  leavers: deactivate\n  max_deactivations: 10%\n  state_path: state.db\n",
        encoding="utf-8",
    )
    (folder / "mapping.yaml").write_text(MAPPING_YAML, encoding="utf-8")
    return config


def _manager_id(record: dict[str, object]) -> str | None:
    reference = record.get("work.reportsTo")
    return str(reference.get("id")) if isinstance(reference, dict) else None


def run_demo(employees: int, say: Say, folder: Path | None = None) -> int:
    """Run the demo; returns the exit code of the last sync."""
    require_scim2_server()  # before a folder is made that nothing would fill
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="hibob-sync-demo-"))
    else:
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot make {folder}: {exc.strerror or exc}") from None
    user_id, token = "demo-service-user", secrets.token_urlsafe(24)
    scim_token = secrets.token_urlsafe(24)
    company = generate_company(employees, seed=2026)
    say(f"Starting the HiBob sandbox ({employees} generated employees) and scim2-server...")
    with (
        HibobSandbox(company, user_id=user_id, token=token) as sandbox,
        LocalScimServer(scim_token, folder) as scim,
        _memory_keyring(),
        _scoped_env(
            {
                credentials.HIBOB_USER_ID.env: user_id,
                credentials.HIBOB_TOKEN.env: token,
                credentials.SCIM_TOKEN.env: scim_token,
            }
        ),
    ):
        config = _write_files(folder, sandbox.url, scim.url)
        settings = load_settings(config)
        mapping = load_mapping(settings.mapping_path)
        say(f"  HiBob sandbox: {sandbox.url}\n  SCIM server:   {scim.url}\n")

        say("$ hibob-sync connect --from-env")
        values = {item: os.environ[item.env] for item in credentials.ALL}
        for line in connect(settings, values):
            say(f"  verified: {line}")

        say("\n$ hibob-sync check")
        checklist = run_checks(settings, mapping)
        for item in checklist.items:
            say(f"  {item.line}")

        say("\n$ hibob-sync run --dry-run   (first lines of the plan)")
        preview = run_sync(settings, mapping, dry_run=True)
        if preview.plan is not None:
            lines = report.plan_text(preview.plan).splitlines()
            say("\n".join("  " + line for line in lines[:12]))
            if len(lines) > 12:
                say(f"  ... ({len(lines) - 12} more lines)")

        say("\n$ hibob-sync run")
        first = run_sync(settings, mapping)
        say("  " + report.summary_text(first).replace("\n", "\n  "))

        say("\nHR changes in HiBob overnight: a new job title, a leaver...")
        awkward = {i for ids in company.awkward.values() for i in ids}
        managers = {_manager_id(company.get(i)) for i in company.ids()}
        plain = [
            i
            for i in company.ids()
            if company.get(i)["internal.lifecycleStatus"] == "Employed"
            and i not in awkward | managers
        ] or [i for i in company.ids() if i not in awkward]
        titles = list(company.list_items("work.title"))
        company.update(plain[-1], {"work.title": titles[-1]})
        if len(plain) > 1:
            company.terminate(plain[0])
        say("$ hibob-sync run")
        second = run_sync(settings, mapping)
        say("  " + report.summary_text(second).replace("\n", "\n  "))

        say("\n$ hibob-sync history")
        say("  " + report.history_text(history(settings.state_path)).replace("\n", "\n  "))
    say(
        f"\nDone; both servers are stopped. The demo's config, mapping and state store are in "
        f"{folder}\nNext: `hibob-sync init` writes a config to start from; set up a HiBob "
        "service user "
        "(README), then `hibob-sync connect` and `hibob-sync check`."
    )
    return int(second.exit_code)
