"""An end-to-end set-up for `run`: the HiBob sandbox, scim2-server, a config and mapping.

``sync_env`` writes config.yaml and mapping.yaml in a temp folder, puts the credentials in
the environment, and runs the real CLI in-process with a clock that never sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from hibob_sync.http import HttpSettings
from hibob_sync.sandbox.catalogue import MAPPING_YAML
from tests.cli_helpers import CliResult, run_cli
from tests.hibob_faults import ScriptedSandbox
from tests.hibob_fixtures import HIBOB_TOKEN, HIBOB_USER_ID, FakeClock
from tests.scim_fixtures import ScimServer

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
HITHRIVE = "urn:ietf:params:scim:schemas:extension:hithrive:2.0:User"


@dataclass
class SyncEnv:
    """Both servers, the files, and a way to run the CLI against them."""

    sandbox: ScriptedSandbox
    scim: ScimServer
    folder: Path
    http: HttpSettings
    clock: FakeClock

    @property
    def config(self) -> Path:
        return self.folder / "config.yaml"

    @property
    def state(self) -> Path:
        return self.folder / "state" / "state.db"

    def write_config(self, extra: str = "", **sync: Any) -> None:
        """config.yaml for both servers; ``sync`` keys go under sync:, ``extra`` is appended."""
        lines = [
            "hibob:",
            f"  base_url: {self.sandbox.url}",
            "hithrive:",
            f"  scim_url: {self.scim.url}",
            "mapping_file: mapping.yaml",
            "sync:",
            "  state_path: state/state.db",
            "  concurrency: 2",
        ]
        lines += [f"  {key}: {value}" for key, value in sync.items()]
        self.config.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")

    def cli(self, *args: str, input: str | None = None, terminal: bool = False) -> CliResult:
        return run_cli(
            "--config", str(self.config), *args, input=input, http=self.http, terminal=terminal
        )

    def run(self, *args: str) -> CliResult:
        return self.cli("run", *args)

    def users(self) -> list[dict[str, Any]]:
        """Every SCIM user as the server holds it (read directly, not counted), all pages."""
        resources: list[dict[str, Any]] = []
        while True:
            answer = requests.get(
                f"{self.scim.direct_url}/Users",
                params={"startIndex": len(resources) + 1, "count": 1000},
                headers={"Authorization": f"Bearer {self.scim.token}"},
                timeout=30,
            )
            answer.raise_for_status()
            body = json.loads(answer.content)
            page = body.get("Resources", [])
            resources += page
            if not page or len(resources) >= body["totalResults"]:
                return resources

    def users_by_external_id(self) -> dict[str, dict[str, Any]]:
        return {u["externalId"]: u for u in self.users() if u.get("externalId")}


@pytest.fixture
def sync_env(
    hibob_sandbox: ScriptedSandbox,
    scim_server: ScimServer,
    hibob_clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SyncEnv]:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "mapping.yaml").write_text(MAPPING_YAML, encoding="utf-8")
    monkeypatch.setenv("HIBOB_SERVICE_USER_ID", HIBOB_USER_ID)
    monkeypatch.setenv("HIBOB_SERVICE_USER_TOKEN", HIBOB_TOKEN)
    monkeypatch.setenv("HITHRIVE_SCIM_TOKEN", scim_server.token)
    http = HttpSettings(
        connect_timeout=5,
        read_timeout=30,
        max_attempts=4,
        sleep=hibob_clock.sleep,
        clock=hibob_clock,
    )
    env = SyncEnv(hibob_sandbox, scim_server, folder, http, hibob_clock)
    env.write_config()
    yield env
