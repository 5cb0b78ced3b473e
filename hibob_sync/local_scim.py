"""Start scim2-server (an independent SCIM implementation) on loopback, for the demo and
the benchmarks, serving this project's HiThrive schema.

scim2-server is an optional dependency (the `demo` extra); without it this module says how
to install it instead of failing obscurely.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from hibob_sync.errors import ConfigError

SCHEMAS = Path(__file__).resolve().parent / "schemas"
HITHRIVE_CONFIG = SCHEMAS / "spc_hithrive.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalScimServer:
    """One scim2-server process with a bearer token and the HiThrive extension schema."""

    def __init__(
        self, token: str, workdir: Path, *, service_provider_config: Path | None = HITHRIVE_CONFIG
    ) -> None:
        if importlib.util.find_spec("scim2_server") is None:
            raise ConfigError(
                "scim2-server is not installed",
                hint="install the demo extra: pip install -e '.[demo]'",
            )
        self.token = token
        self.workdir = workdir
        self.config = service_provider_config
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "scim2-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"

    def start(self) -> LocalScimServer:
        """Start the process and wait until it answers (a free port can be raced: retry)."""
        args = [sys.executable, "-m", "scim2_server.testserver.cli", "--bearer-token", self.token]
        args += ["--schema", str(SCHEMAS / "scim_schemas.json")]
        args += ["--resource-type", str(SCHEMAS / "scim_resource_types.json")]
        if self.config is not None:
            args += ["--service-provider-config", str(self.config)]
        for _ in range(3):
            self.port = _free_port()
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(
                    [*args, "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT
                )
            if self._ready():
                return self
            self.stop()
        raise ConfigError(f"scim2-server did not start; see {self.log_path}")

    def _ready(self, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        # Always our own loopback URL (the scheme is fixed above).
        probe = urllib.request.Request(  # noqa: S310
            f"{self.url}/ServiceProviderConfig", headers={"Authorization": f"Bearer {self.token}"}
        )
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(probe, timeout=2) as answer:  # noqa: S310
                    return bool(answer.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Terminate the process and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> LocalScimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
