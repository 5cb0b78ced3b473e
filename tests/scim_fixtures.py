"""A real SCIM server on loopback (scim2-server), behind a counting proxy, for SCIM tests.

One scim2-server process per configuration is started for the whole session (it takes most
of a second to start) with ``--dynamic-tenants``; each test gets a fresh tenant, hence an
empty server, reached through its own small reverse proxy in the test process. The proxy
records every request (method and path), and can answer a request itself (403, 404, 501, a
crafted page...) or drop an answer after the server acted on it (a lost response).

The proxy can also imitate the dialects of other SCIM servers (``ScimServer.dialect``,
hithrive-scim.md "Interop rules"), each in front of the same scim2-server:

- ``"no-sub-path"``: a PATCH op with a sub-attribute path (``…:manager.value``) gets
  400 noTarget, as a Node server does when the complex attribute is absent;
- ``"no-whole-complex"``: a PATCH op whose value is a whole complex object gets 500, as a
  Django server does;
- ``"no-add-remove"``: a PATCH with an ``add`` or ``remove`` op gets 501;
- ``"case-sensitive-filter"``: ``userName eq "X"`` matches X exactly, case included.

Fixtures: ``scim_server`` (HiThrive-like: patch, no bulk, maxResults 20) and
``scim_server_factory(config=..., schemas=...)`` for the other set-ups (schemas "datetime":
the HiThrive extension with ``startDate`` typed dateTime; "names": displayName and
name.givenName required).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from hibob_sync.http import HttpSettings
from hibob_sync.scim.client import ScimClient

SCIM_TOKEN = "scim-test-token-never-shown"
SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "hibob_sync" / "schemas"
CONFIG_FILES = {
    "default": None,  # scim2-server's own: patch, bulk (1000 ops), filter (maxResults 1000)
    "hithrive": SCHEMAS_DIR / "spc_hithrive.json",  # patch, no bulk, maxResults 20
    "nopatch": SCHEMAS_DIR / "spc_nopatch.json",  # PUT only, no bulk, maxResults 20
}
SCHEMA_SETS: dict[str, tuple[Path | None, Path | None]] = {
    "hithrive": (SCHEMAS_DIR / "scim_schemas.json", SCHEMAS_DIR / "scim_resource_types.json"),
    "rfc": (None, None),  # RFC 7643 only: no HiThrive extension
}
HITHRIVE_URN = "urn:ietf:params:scim:schemas:extension:hithrive:2.0:User"
CORE_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
DIALECTS = ("no-sub-path", "no-whole-complex", "no-add-remove", "case-sensitive-filter")


def _variant_schemas(workdir: Path, variant: str) -> tuple[Path, Path]:
    """The HiThrive schemas as other servers announce them: "datetime" types startDate
    dateTime; "names" requires displayName and name.givenName (as many SCIM apps do);
    "extras" adds a dateTime hireDate and a boolean remote to the HiThrive extension."""
    schemas = json.loads((SCHEMAS_DIR / "scim_schemas.json").read_text())
    for schema in schemas:
        if variant == "extras" and schema["id"] == HITHRIVE_URN:
            common = {"multiValued": False, "required": False, "mutability": "readWrite"}
            common |= {"returned": "default", "uniqueness": "none", "caseExact": False}
            schema["attributes"] += [
                {"name": "hireDate", "type": "dateTime", "description": "Hire date", **common},
                {"name": "remote", "type": "boolean", "description": "Remote worker", **common},
            ]
        for attribute in schema["attributes"]:
            name = attribute["name"]
            if variant == "datetime" and schema["id"] == HITHRIVE_URN and name == "startDate":
                attribute["type"] = "dateTime"
            if variant == "names" and schema["id"] == CORE_URN and name == "displayName":
                attribute["required"] = True
            if variant == "names" and schema["id"] == CORE_URN and name == "name":
                attribute["required"] = True
                attribute["subAttributes"][2]["required"] = True  # givenName
    path = workdir / f"scim_schemas_{variant}.json"
    path.write_text(json.dumps(schemas))
    return path, SCHEMAS_DIR / "scim_resource_types.json"


ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "date", "server"}
)


def free_port() -> int:
    """A loopback port nobody listens on (scim2-server cannot report a port 0 choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fast_http() -> HttpSettings:
    """Short timeouts and no real sleeping between retries."""
    return HttpSettings(connect_timeout=5, read_timeout=30, max_attempts=3, sleep=lambda _: None)


class ScimProcess:
    """One scim2-server subprocess with dynamic tenants and a bearer token."""

    def __init__(self, workdir: Path, config: str | Mapping[str, Any], schemas: str) -> None:
        args = [sys.executable, "-m", "scim2_server.testserver.cli", "--dynamic-tenants"]
        args += ["--bearer-token", SCIM_TOKEN]
        if isinstance(config, str):
            config_file = CONFIG_FILES[config]
        else:
            config_file = workdir / f"spc-{uuid.uuid4().hex[:8]}.json"
            config_file.write_text(json.dumps(config))
        if config_file is not None:
            args += ["--service-provider-config", str(config_file)]
        if schemas in ("datetime", "names", "extras"):
            schema_file, types_file = _variant_schemas(workdir, schemas)
        else:
            schema_file, types_file = SCHEMA_SETS[schemas]
        if schema_file is not None and types_file is not None:
            args += ["--schema", str(schema_file), "--resource-type", str(types_file)]
        self.log_path = workdir / f"scim2-server-{uuid.uuid4().hex[:8]}.log"
        for _ in range(3):  # a free port can be taken between the probe and the bind
            self.port = free_port()
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(
                    [*args, "--port", str(self.port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                )
            if self._wait_ready():
                return
            self.stop()
        raise RuntimeError(f"scim2-server did not start:\n{self.log_path.read_text()[-2000:]}")

    def _wait_ready(self, timeout: float = 20.0) -> bool:
        """Poll the (unauthenticated) discovery endpoint until it answers."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/probe/v2/ServiceProviderConfig"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    return bool(answer.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Call:
    """One request the proxy received: path is relative to the SCIM base URL, no query."""

    method: str
    path: str
    query: str
    body: Any


@dataclass
class _Fault:
    kind: str  # "respond" | "drop" | "before" | "rewrite"
    method: str | None
    path: str | None
    times: int | None
    status: int = 0
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    query: str | None = None  # a substring the query must contain
    action: Callable[[Any], Any] | None = None

    def matches(self, method: str, path: str, query: str = "") -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.query is not None and self.query not in query:
            return False
        return self.path is None or path == self.path or path.startswith(self.path + "/")


class ScimServer:
    """A fresh, empty SCIM tenant reached through a counting proxy (see module docstring)."""

    def __init__(self, process: ScimProcess) -> None:
        self.token = SCIM_TOKEN
        self.tenant = uuid.uuid4().hex[:12]
        self.direct_url = f"http://127.0.0.1:{process.port}/{self.tenant}/v2"
        self.calls: list[Call] = []
        self._faults: list[_Fault] = []
        self.dialect: str | None = None  # one of DIALECTS: imitate another server
        # A rate limiter in front of the server (tests/rate_limit_fixtures.py): it answers a
        # refused request itself (status, headers, body), which is then not counted.
        self.gate: Callable[[], tuple[int, dict[str, str], bytes] | None] | None = None
        self._lock = threading.Lock()
        self._clients: list[ScimClient] = []
        self._proxy = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
        self._proxy.daemon_threads = True
        self._proxy.scim = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._proxy.server_address[1]}/v2"
        self._upstream_port = process.port
        self._thread = threading.Thread(
            target=self._proxy.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request received, e.g. ("PATCH", "/Users/<id>")."""
        with self._lock:
            return [(call.method, call.path) for call in self.calls]

    @property
    def writes(self) -> list[tuple[str, str]]:
        """The requests that could change data (anything but GET; /Bulk included)."""
        return [(method, path) for method, path in self.requests if method != "GET"]

    def count(self, method: str, path: str | None = None) -> int:
        return sum(1 for m, p in self.requests if m == method and (path is None or p == path))

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()

    def respond(
        self,
        status: int,
        body: Any = None,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next matching request(s) here, without the server (times=None: always);
        a bytes body is sent as it is."""
        with self._lock:
            self._faults.append(
                _Fault("respond", method, path, times, status, body, dict(headers or {}))
            )

    def before(
        self, action: Callable[[Any], Any], *, method: str, path: str, query: str, times: int = 1
    ) -> None:
        """Run `action(None)` when a matching request arrives, before the server sees it."""
        with self._lock:
            self._faults.append(_Fault("before", method, path, times, query=query, action=action))

    def rewrite(
        self, action: Callable[[Any], Any], *, method: str, path: str, query: str, times: int = 1
    ) -> None:
        """Pass the server's JSON answer to a matching request through `action` (e.g. cut a
        page short)."""
        with self._lock:
            self._faults.append(_Fault("rewrite", method, path, times, query=query, action=action))

    def drop_response(self, method: str, path: str, times: int = 1) -> None:
        """Let the server act on the next matching request, then cut the connection."""
        with self._lock:
            self._faults.append(_Fault("drop", method, path, times))

    def client(self, token: str | None = None, **kwargs: Any) -> ScimClient:
        """A ScimClient on the proxy, with fast retries; closed at teardown."""
        client = ScimClient(self.url, token or self.token, fast_http(), **kwargs)
        self._clients.append(client)
        return client

    def seed(self, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST users straight to the server (not counted), e.g. users 'added by hand'."""
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"}
        created = []
        with requests.Session() as session:
            for resource in resources:
                body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **resource}
                answer = session.post(
                    f"{self.direct_url}/Users", json=body, headers=headers, timeout=10
                )
                answer.raise_for_status()
                created.append(answer.json())
        return created

    def edit(self, user_id: str, attribute: str, value: Any) -> None:
        """Set one attribute of a user straight on the server (not counted; a PUT of the
        whole user, which every configuration takes), e.g. an edit in the app's own admin."""
        url = f"{self.direct_url}/Users/{user_id}"
        headers = {"Authorization": f"Bearer {self.token}"}
        current = requests.get(url, headers=headers, timeout=10)
        current.raise_for_status()
        body = {k: v for k, v in current.json().items() if k != "meta"}
        body[attribute] = value
        answer = requests.put(url, json=body, headers=headers, timeout=10)
        answer.raise_for_status()

    def delete(self, user_id: str) -> None:
        """DELETE a user straight on the server (not counted)."""
        answer = requests.delete(
            f"{self.direct_url}/Users/{user_id}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        answer.raise_for_status()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._proxy.shutdown()
        self._proxy.server_close()

    # -- used by the proxy handler --

    def _dialect_refusal(self, call: Call) -> tuple[int, Any] | None:
        """The answer another server's dialect gives this request, where it differs."""
        if call.method != "PATCH" or not isinstance(call.body, Mapping):
            return None
        operations = [op for op in call.body.get("Operations") or [] if isinstance(op, Mapping)]
        for op in operations:
            path = str(op.get("path") or "")
            sub_path = "." in path.rsplit(":", 1)[-1]
            if self.dialect == "no-sub-path" and sub_path:
                return 400, _error(400, "noTarget", f"no target for {path}")
            if self.dialect == "no-whole-complex" and isinstance(op.get("value"), Mapping):
                return 500, _error(500, None, "internal server error")
            if self.dialect == "no-add-remove" and str(op.get("op")).lower() in ("add", "remove"):
                return 501, _error(501, None, f"PATCH {op.get('op')} is not implemented")
        return None

    def _dialect_filter(self, call: Call, data: bytes) -> bytes:
        """A case-sensitive `userName eq` filter: keep only exact matches."""
        wanted = _user_name_filter(call.query)
        if self.dialect != "case-sensitive-filter" or wanted is None:
            return data
        body = json.loads(data)
        kept = [r for r in body.get("Resources", []) if r.get("userName") == wanted]
        body.update(Resources=kept, totalResults=len(kept), itemsPerPage=len(kept))
        return json.dumps(body).encode()

    def _record(self, call: Call) -> _Fault | None:
        with self._lock:
            self.calls.append(call)
            for fault in self._faults:
                if fault.matches(call.method, call.path, call.query):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None


def _error(status: int, scim_type: str | None, detail: str) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def _user_name_filter(query: str) -> str | None:
    """X of a `filter=userName eq "X"` query, else None."""
    for value in parse_qs(query).get("filter", []):
        match = re.fullmatch(r'\s*userName\s+eq\s+"(.*)"\s*', value, flags=re.IGNORECASE)
        if match:
            return match.group(1).replace('\\"', '"').replace("\\\\", "\\")
    return None


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Two writes per answer: without this, delayed ACKs stall each kept-alive call ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        scim: ScimServer = self.server.scim  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        relative = split.path.removeprefix("/v2") or "/"
        refused = scim.gate() if scim.gate is not None else None
        if refused is not None:
            self._reply(refused[0], "Too Many Requests", refused[1], refused[2])
            return
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        fault = scim._record(Call(self.command, relative, split.query, parsed))
        if fault is not None and fault.kind == "respond":
            body = fault.body
            data = (
                body
                if isinstance(body, bytes)
                else b""
                if body is None
                else json.dumps(body).encode()
            )
            self._reply(fault.status, "Injected", dict(fault.headers), data)
            return
        if fault is not None and fault.kind == "before" and fault.action is not None:
            fault.action(None)
        refusal = scim._dialect_refusal(Call(self.command, relative, split.query, parsed))
        if fault is None and refusal is not None:
            self._reply(refusal[0], "Dialect", {}, json.dumps(refusal[1]).encode())
            return
        upstream = http.client.HTTPConnection("127.0.0.1", scim._upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(self.command, f"/{scim.tenant}{self.path}", raw or None, headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        if fault is not None and fault.kind == "drop":
            self.close_connection = True  # the server acted; the client never hears of it
            return
        if fault is not None and fault.kind == "rewrite" and fault.action is not None:
            data = json.dumps(fault.action(json.loads(data))).encode()
        data = data.replace(scim.direct_url.encode(), scim.url.encode())
        if self.command == "GET" and relative == "/Users" and answer.status == 200:
            data = scim._dialect_filter(Call(self.command, relative, split.query, parsed), data)
        reply_headers = {
            k: v.replace(scim.direct_url, scim.url)
            for k, v in answer.getheaders()
            if k.lower() not in _HOP_BY_HOP
        }
        self._reply(answer.status, answer.reason, reply_headers, data)

    def _reply(self, status: int, reason: str, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status, reason)
        headers.setdefault("Content-Type", "application/scim+json")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows failures, not every request."""


class ScimProcessPool:
    """scim2-server processes by (config, schemas), started on first use, stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._processes: dict[str, ScimProcess] = {}
        self._lock = threading.Lock()

    def get(self, config: str | Mapping[str, Any], schemas: str) -> ScimProcess:
        key = json.dumps([config, schemas], sort_keys=True)
        with self._lock:
            if key not in self._processes:
                self._processes[key] = ScimProcess(self.workdir, config, schemas)
            return self._processes[key]

    def stop_all(self) -> None:
        for process in self._processes.values():
            process.stop()


@pytest.fixture(scope="session")
def scim_processes() -> Iterator[ScimProcessPool]:
    """The session's scim2-server processes (one per configuration actually used)."""
    # scim2-server needs Python 3.11+: on 3.10 (the oldest runtime) SCIM tests are skipped.
    pytest.importorskip("scim2_server", reason="scim2-server needs Python 3.11 or newer")
    with tempfile.TemporaryDirectory(prefix="scim2-server-") as workdir:
        pool = ScimProcessPool(Path(workdir))
        try:
            yield pool
        finally:
            pool.stop_all()


ScimServerFactory = Callable[..., ScimServer]


@pytest.fixture
def scim_server_factory(scim_processes: ScimProcessPool) -> Iterator[ScimServerFactory]:
    """Make empty SCIM servers: config "default" | "hithrive" | "nopatch" | a dict (a
    ServiceProviderConfig document); schemas "hithrive" (with our extension) | "rfc"."""
    servers: list[ScimServer] = []

    def make(config: str | Mapping[str, Any] = "hithrive", schemas: str = "hithrive") -> ScimServer:
        server = ScimServer(scim_processes.get(config, schemas))
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def scim_server(scim_server_factory: ScimServerFactory) -> ScimServer:
    """An empty HiThrive-like SCIM server: patch, filter, maxResults 20, no bulk."""
    return scim_server_factory()
