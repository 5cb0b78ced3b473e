"""Start scim2-server (an independent SCIM implementation) on loopback, for the demo and
the benchmarks, serving this project's HiThrive schema.

The server runs in a child process built from scim2-server's own parts, so its bearer token
travels in the environment, never on a command line, and the child reports the port it
bound (port 0: no race for a free port). scim2-server is an optional dependency (the `demo`
extra); without it this module says how to install it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from hibob_sync.errors import ConfigError

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
HITHRIVE_CONFIG = SCHEMAS / "spc_hithrive.json"
TOKEN_ENV = "HIBOB_SYNC_LOCAL_SCIM_TOKEN"  # noqa: S105 - a variable name, not a secret


def install_hint(version: tuple[int, int] = sys.version_info[:2]) -> str:
    """How to get scim2-server: the demo extra, or on Python 3.10 a newer interpreter (the
    extra installs nothing there: scim2-server needs 3.11, so installing it again won't help).
    """
    this = f"this is Python {version[0]}.{version[1]}"
    if version < (3, 11):
        return (
            f"the demo needs Python 3.11 or newer ({this}, where scim2-server cannot be "
            "installed): create the virtual environment with python3.11 or newer (README: "
            "Python versions); the nightly tool itself runs on 3.10"
        )
    # Installed from PyPI or from a checkout.
    return (
        "install the demo extra: pip install 'hibob-sync[demo]' (from a checkout: "
        "pip install -e '.[demo]'); scim2-server needs Python 3.11 or newer "
        f"({this}), the nightly tool itself runs on 3.10"
    )


def require_scim2_server() -> None:
    """Raise ConfigError (78) saying how to get scim2-server, before anything is started."""
    if importlib.util.find_spec("scim2_server") is None:
        raise ConfigError("scim2-server is not installed", hint=install_hint())


# What a Python child needs to start and find its packages; nothing else is passed on, so
# tokens in the parent's environment (HIBOB_*, HITHRIVE_*, an SMTP password) never reach it.
_CHILD_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "SYSTEMROOT")


def child_environment() -> dict[str, str]:
    """A minimal environment for the demo's children: no credential from this one."""
    return {name: os.environ[name] for name in _CHILD_ENV if name in os.environ}


class LocalScimServer:
    """One scim2-server process with a bearer token and the HiThrive extension schema."""

    def __init__(
        self, token: str, workdir: Path, *, service_provider_config: Path | None = HITHRIVE_CONFIG
    ) -> None:
        require_scim2_server()
        self.token = token
        self.workdir = workdir
        self.config = service_provider_config
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = workdir / "scim2-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"

    def start(self) -> LocalScimServer:
        """Start the child and read the port it bound from its first line of output."""
        args = [sys.executable, "-m", "hibob_sync.demo.scim_server"]
        if self.config is not None:
            args += ["--service-provider-config", str(self.config)]
        env = {**child_environment(), TOKEN_ENV: self.token}
        with self.log_path.open("w") as log:
            # Its own session: a Ctrl-C at the terminal reaches the demo, which stops it.
            self.proc = subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                text=True,
                start_new_session=True,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            self.stop()
            raise ConfigError(f"scim2-server did not start; see {self.log_path}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        """Terminate the child and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> LocalScimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _serve(config_path: Path | None) -> None:  # pragma: no cover - runs in the child
    """Build scim2-server's WSGI app (as its own CLI does) and serve it on a free port."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from scim2_models import ResourceType, Schema, ScimProvider, ServiceProviderConfig
    from scim2_server.memory import InMemoryStorage
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
    from scim2_server.testserver.cli import ThreadingWSGIServer
    from scim2_server.utils import load_default_service_provider_config

    def load(name: str) -> Any:
        return json.loads((SCHEMAS / name).read_text())

    token = os.environ.pop(TOKEN_ENV, "")
    schemas = [Schema.model_validate(item) for item in load("scim_schemas.json")]
    types = [ResourceType.model_validate(item) for item in load("scim_resource_types.json")]
    config = (
        ServiceProviderConfig.model_validate(json.loads(config_path.read_text()))
        if config_path
        else load_default_service_provider_config()
    )
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(schemas, types, config=config)
    app = BearerTokenApplication(
        InMemoryStorage(), provider, service=ScimService(provider), bearer_tokens=[token]
    )

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingWSGIServer):
        # scim2-server's clients open a connection per request: a backlog of 5 overflows
        # at a concurrency of 16 and the dropped connections cost a retry each.
        request_queue_size = 1024

    with make_server(
        "127.0.0.1", 0, app, server_class=Server, handler_class=QuietHandler
    ) as server:
        print(f"port {server.server_address[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description="scim2-server on loopback, token from env")
    parser.add_argument("--service-provider-config", type=Path, default=None)
    _serve(parser.parse_args().service_provider_config)
