"""The benchmark's moving parts: loopback servers behind latency proxies, one sync run as a
child process (so its peak RSS is its own), the HR changes of each scenario, and the
re-planning of a run's own data to time mapping + planning alone.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latency_proxy import (
    HIBOB,
    SCIM_LIST,
    SCIM_OTHER,
    SCIM_WRITE,
    FixedWindowCap,
    LatencyProxy,
    ProxyStats,
    busy_seconds,
    hibob_kind,
    scim_kind,
)

from hibob_sync.config.mapping import load_mapping
from hibob_sync.config.settings import load_settings
from hibob_sync.demo.scim_server import HITHRIVE_CONFIG, LocalScimServer
from hibob_sync.hibob.client import HibobClient, HibobEmployee
from hibob_sync.http import HttpSettings
from hibob_sync.model import ScimUser
from hibob_sync.sandbox import Company, HibobSandbox, generate_company
from hibob_sync.sandbox.catalogue import MAPPING_YAML
from hibob_sync.scim.attributes import from_resource, placement
from hibob_sync.sync.fetch import fetch_hibob

HERE = Path(__file__).resolve().parent
NAIVE = HERE / "naive.py"
SPAWNER = HERE / "spawner.py"
PLAN_CPU = HERE / "plan_cpu.py"
USER_ID = "benchmark-service-user"
MAPPING = MAPPING_YAML


@dataclass
class Child:
    """One finished child process: exit code, wall time, peak RSS, CPU, and its output."""

    exit_code: int
    wall: float
    max_rss_mb: float
    cpu: float
    stdout: str
    stderr: str


class Spawner:
    """The small helper process that starts every measured child (see spawner.py: why)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-S", str(SPAWNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, args: list[str], env: dict[str, str], workdir: Path, timeout: float) -> Child:
        """Run a command to its end; wall time, peak RSS and CPU are the child's own."""
        out_path, err_path = workdir / "child.out", workdir / "child.err"
        request = {
            "args": args,
            "env": env,
            "cwd": str(workdir),
            "stdout": str(out_path),
            "stderr": str(err_path),
            "timeout": timeout,
        }
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the spawner process died")
        answer = json.loads(line)
        return Child(
            exit_code=answer["exit_code"],
            wall=answer["wall"],
            max_rss_mb=answer["max_rss_kb"] / 1024,
            cpu=answer["cpu"],
            stdout=out_path.read_text(encoding="utf-8", errors="replace"),
            stderr=err_path.read_text(encoding="utf-8", errors="replace"),
        )

    def close(self) -> None:
        """Let the helper end (stdin closed); if a child is still running, stop both."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.terminate()  # spawner.py kills its running child first
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


@dataclass
class Target:
    """One SCIM server (its own scim2-server process) behind its own proxy."""

    server: LocalScimServer
    proxy: LatencyProxy
    folder: Path

    @property
    def url(self) -> str:
        return self.proxy.url("/v2")


@dataclass
class Bench:
    """One company size: the HiBob sandbox behind a proxy, and SCIM targets made on demand."""

    size: int
    latency: float
    folder: Path
    stack: ExitStack
    company: Company
    sandbox: HibobSandbox
    hibob_proxy: LatencyProxy
    hibob_token: str
    scim_token: str
    rng: random.Random
    spawner: Spawner
    targets: dict[str, Target] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """The child's environment: credentials in env vars, never in argv."""
        return {
            **os.environ,
            "HIBOB_SERVICE_USER_ID": USER_ID,
            "HIBOB_SERVICE_USER_TOKEN": self.hibob_token,
            "HITHRIVE_SCIM_TOKEN": self.scim_token,
        }

    def target(
        self,
        name: str,
        *,
        page_size: int | None,
        write_cap: int | None = None,
        window_cap: FixedWindowCap | None = None,
        capture: bool = False,
        stub: bool = False,
    ) -> Target:
        """A fresh, empty SCIM server; page_size None keeps the HiThrive-like maxResults 20."""
        folder = self.folder / name
        folder.mkdir(parents=True)
        config = HITHRIVE_CONFIG
        if page_size is not None:
            spc = json.loads(HITHRIVE_CONFIG.read_text(encoding="utf-8"))
            spc["filter"]["maxResults"] = page_size
            config = folder / "spc.json"
            config.write_text(json.dumps(spc), encoding="utf-8")
        server = self.stack.enter_context(
            LocalScimServer(self.scim_token, folder, service_provider_config=config)
        )
        proxy = self.stack.enter_context(
            LatencyProxy(
                server.port,
                classify=scim_kind,
                latency=self.latency,
                write_cap=write_cap,
                window_cap=window_cap,
                capture_lists=capture,
                stub_writes=stub,
            )
        )
        target = Target(server, proxy, folder)
        self.targets[name] = target
        return target

    def write_config(self, target: Target, concurrency: int) -> Path:
        """hibob-sync's config.yaml and mapping.yaml for one target."""
        (target.folder / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
        config = target.folder / "config.yaml"
        config.write_text(
            f"hibob:\n  base_url: {self.hibob_proxy.url('/v1')}\n"
            f"hithrive:\n  scim_url: {target.url}\n"
            "mapping_file: mapping.yaml\n"
            "sync:\n  leavers: deactivate\n  max_deactivations: 10%\n"
            f"  state_path: state/state.db\n  concurrency: {concurrency}\n",
            encoding="utf-8",
        )
        return config


@contextmanager
def bench(size: int, latency: float, folder: Path, seed: int, spawner: Spawner) -> Iterator[Bench]:
    """Start the sandbox with `size` generated employees; stop every server at the end."""
    folder.mkdir(parents=True, exist_ok=True)
    hibob_token, scim_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    company = generate_company(size, seed)
    with ExitStack() as stack:
        sandbox = stack.enter_context(
            HibobSandbox(company, user_id=USER_ID, token=hibob_token, rate_limit=1000)
        )
        proxy = stack.enter_context(
            LatencyProxy(sandbox.port, classify=hibob_kind, latency=latency)
        )
        yield Bench(
            size,
            latency,
            folder,
            stack,
            company,
            sandbox,
            proxy,
            hibob_token,
            scim_token,
            random.Random(seed),
            spawner,
        )


# -- the nights' HR changes ---------------------------------------------------------------------


def _plain_employees(company: Company) -> list[str]:
    """Employed people with none of the planted awkward cases, so each change syncs cleanly."""
    awkward = {i for ids in company.awkward.values() for i in ids}
    return [
        row.id
        for row in company.snapshot().rows
        if row.machine.get("internal.lifecycleStatus") == "Employed" and row.id not in awkward
    ]


def change_details(bench: Bench, fraction: float) -> int:
    """Give `fraction` of the employees a new job title (every third also a new site)."""
    company = bench.company
    chosen = bench.rng.sample(_plain_employees(company), max(1, round(bench.size * fraction)))
    titles = sorted(company.list_items("work.title").values())
    sites = sorted(company.list_items("work.site").values())
    for n, employee_id in enumerate(chosen):
        current = company.display(employee_id, "work.title")
        values: dict[str, object] = {"work.title": next(t for t in titles if t != current)}
        if n % 3 == 0:
            site = company.display(employee_id, "work.site")
            values["work.site"] = next(s for s in sites if s != site)
        company.update(employee_id, values)
    return len(chosen)


def terminate(bench: Bench, fraction: float) -> int:
    """Make `fraction` of the employees leavers (as HiBob shows them after the last day)."""
    company = bench.company
    chosen = bench.rng.sample(_plain_employees(company), max(1, round(bench.size * fraction)))
    for employee_id in chosen:
        company.terminate(employee_id)
    return len(chosen)


# -- measuring one run ---------------------------------------------------------------------------


@dataclass
class Traffic:
    """Requests by kind through both proxies, and the SCIM server's busy time."""

    hibob: int
    scim_list: int
    scim_writes: int
    scim_other: int
    throttled: int
    server_busy: float
    writes: list[tuple[float, float]]
    pages: list[bytes]

    @classmethod
    def of(cls, hibob: ProxyStats, scim: ProxyStats) -> Traffic:
        return cls(
            hibob=hibob.counts[HIBOB],
            scim_list=scim.counts[SCIM_LIST],
            scim_writes=scim.counts[SCIM_WRITE],
            scim_other=scim.counts[SCIM_OTHER],
            throttled=scim.throttled,
            server_busy=busy_seconds(scim.upstream),
            writes=scim.writes,
            pages=scim.pages,
        )


def sync_command(config: Path, profile: Path | None) -> list[str]:
    """The real CLI, as cron runs it (optionally under cProfile, for diagnosis only)."""
    head = [sys.executable]
    if profile is not None:
        head += ["-m", "cProfile", "-o", str(profile)]
    return [*head, "-m", "hibob_sync", "--config", str(config), "run", "--json"]


def naive_command(bench: Bench, target: Target, max_writes: int | None) -> list[str]:
    args = [sys.executable, str(NAIVE), "--hibob-url", bench.hibob_proxy.url("/v1")]
    args += ["--scim-url", target.url, "--mapping", str(target.folder / "mapping.yaml")]
    if max_writes is not None:
        args += ["--max-writes", str(max_writes)]
    return args


def run_measured(
    bench: Bench, target: Target, args: list[str], timeout: float
) -> tuple[Child, Traffic]:
    """One run with the proxies' counters reset before and read after."""
    bench.hibob_proxy.take_stats()
    target.proxy.take_stats()
    child = bench.spawner.run(args, bench.env, target.folder, timeout)
    return child, Traffic.of(bench.hibob_proxy.take_stats(), target.proxy.take_stats())


def fetch_employees(bench: Bench, config: Path) -> list[HibobEmployee]:
    """HiBob's answer as the run parsed it, read straight from the sandbox (not counted)."""
    settings = load_settings(config)
    mapping = load_mapping(settings.mapping_path)
    with HibobClient(bench.sandbox.url, USER_ID, bench.hibob_token, HttpSettings()) as client:
        return fetch_hibob(client, mapping).employees


def users_from_pages(pages: list[bytes], config: Path) -> list[ScimUser]:
    """The SCIM users of the list pages a run read, parsed as ScimClient.list_users does."""
    where = placement(load_settings(config).scim_attributes)
    users: dict[str, ScimUser] = {}
    for page in pages:
        for resource in json.loads(page).get("Resources") or []:
            user = from_resource(resource, where, keep=False)  # as list_users (PATCH)
            if user is not None:
                users.setdefault(user.id, user)
    return list(users.values())


def map_and_plan_cpu(
    employees: list[HibobEmployee], users: list[ScimUser], config: Path, workdir: Path
) -> tuple[float, dict[str, int]]:
    """CPU seconds of build_profiles + make_plan on a run's own data (see plan_cpu.py)."""
    data = workdir / "plan-input.pickle"
    with data.open("wb") as stream:
        pickle.dump((employees, users), stream, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        done = subprocess.run(
            [sys.executable, str(PLAN_CPU), str(data), str(config)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    finally:
        data.unlink(missing_ok=True)
    answer = json.loads(done.stdout)
    return float(answer["cpu"]), {k: int(v) for k, v in answer["counts"].items()}


def summary_of(child: Child) -> dict[str, Any]:
    """The JSON summary a run printed, or an empty dict when it printed none."""
    try:
        parsed = json.loads(child.stdout)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
