"""scim2-server on loopback for the benchmark, with a listen backlog that fits the load.

hibob_sync.local_scim builds the same server, but on socketserver's default listen backlog
of 5. scim2-server's wsgiref server closes every connection after one answer, so each
request is a new connect, and with more than a handful in flight the kernel drops SYNs that
the client re-sends only after a second: at sync.concurrency 16 a run slowed down 2x on
those stalls. The benchmark measures hibob-sync, not that, so it starts its own (same
schemas, same scim2-server parts, token in the environment, never in argv).

As a script (the child): ``python benchmarks/scim_server.py [--service-provider-config F]``
prints ``port N`` once listening.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from hibob_sync.local_scim import SCHEMAS, TOKEN_ENV

BACKLOG = 1024


class ScimServerProcess:
    """One scim2-server child with a bearer token; start/stop or use as a context manager."""

    def __init__(self, token: str, workdir: Path, service_provider_config: Path) -> None:
        self.token = token
        self.config = service_provider_config
        self.log_path = workdir / "scim2-server.log"
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"

    def start(self) -> ScimServerProcess:
        """Start the child and read the port it bound from its first line of output."""
        args = [sys.executable, __file__, "--service-provider-config", str(self.config)]
        env = {**os.environ, TOKEN_ENV: self.token}
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=log, env=env, text=True
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError(f"scim2-server did not start; see {self.log_path}")
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

    def __enter__(self) -> ScimServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _serve(config_path: Path) -> None:
    """Build scim2-server's WSGI app as its own CLI does, and serve it on a free port."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from scim2_models import ResourceType, Schema, ScimProvider, ServiceProviderConfig
    from scim2_server.memory import InMemoryStorage
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
    from scim2_server.testserver.cli import ThreadingWSGIServer

    def load(name: str) -> Any:
        return json.loads((SCHEMAS / name).read_text())

    token = os.environ.pop(TOKEN_ENV, "")
    schemas = [Schema.model_validate(item) for item in load("scim_schemas.json")]
    types = [ResourceType.model_validate(item) for item in load("scim_resource_types.json")]
    config = ServiceProviderConfig.model_validate(json.loads(config_path.read_text()))
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(schemas, types, config=config)
    app = BearerTokenApplication(
        InMemoryStorage(), provider, service=ScimService(provider), bearer_tokens=[token]
    )

    class Server(ThreadingWSGIServer):
        request_queue_size = BACKLOG

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    with make_server("127.0.0.1", 0, app, server_class=Server, handler_class=QuietHandler) as srv:
        print(f"port {srv.server_address[1]}", flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="scim2-server on loopback, token from env")
    parser.add_argument("--service-provider-config", type=Path, required=True)
    _serve(parser.parse_args().service_provider_config)
