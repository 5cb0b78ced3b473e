"""Issue 13's goals, measured side by side in one run: hibob-sync now against hibob-sync
before the adaptive limiter and parallel paging, and against the naive script.

Both versions of hibob_sync/ are snapshots (git archive): "after" is HEAD, "before" is
--before (default 9c29462, the code of the last full RESULTS.md run). Each run is the real
CLI in a child process, through the same latency proxy as benchmarks/run.py:

- 10k first sync against scim2-server, each tool at its default config (no sync.concurrency
  key), and the naive script in full; the "after" run logs the controller's trace (-vv),
  drawn as concurrency-10k.svg;
- a quiet night at 10k with HiThrive-like pages (maxResults 20), after and before, each on
  a target it filled itself (before at sync.concurrency 8, as in RESULTS.md);
- the rate-limited target (1k, 50 writes/s, 429 + Retry-After), after at its defaults,
  before at sync.concurrency 8 as in RESULTS.md;
- 50k first sync and quiet night (peak RSS, map+plan CPU), unless --skip-50k;
- the same 10k first sync and quiet night against a target that costs nothing (the proxy
  answers the user POSTs, then the list pages, itself), to tell the client's limit from
  scim2-server's: scim2-server's own CPU time is read from /proc for every run.

    nice -n 10 .venv/bin/python benchmarks/goals.py            # about 25 minutes
    .venv/bin/python benchmarks/goals.py --only rate,stub      # some parts only

It rewrites the block between the GOALS markers of RESULTS.md (in its hand-written part, so
run.py keeps it) and writes GOALS.json next to it. Speed is measured here, by hand; no test
asserts a wall-clock limit.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import (
    Bench,
    Child,
    Spawner,
    Target,
    Traffic,
    bench,
    fetch_employees,
    map_and_plan_cpu,
    naive_command,
    summary_of,
    users_from_pages,
)
from results import extrapolated_wall
from trace_svg import write_svg

HERE = Path(__file__).resolve().parent
TIMEOUT = 1800.0
PARTS = ("first", "naive", "page20", "stub", "rate", "50k")
SETTLED = re.compile(r"SCIM: concurrency settled at .* after ([\d.]+)s")
TRACE = re.compile(r"concurrency limit (\d+) at ([\d.]+)s(?:, pace ([\d.]+)/s)? \(([^)]*)\)")


@dataclass
class Run:
    """One measured run."""

    name: str
    tool: str  # after | before | naive
    size: int
    wall: float
    hibob: int
    scim_list: int
    scim_writes: int
    throttled: int
    server_busy: float
    server_cpu: float  # scim2-server's own CPU seconds during the run (0: the proxy answered)
    max_rss_mb: float
    cpu: float
    exit_code: int
    counts: dict[str, int] = field(default_factory=dict)
    concurrency: dict[str, float] = field(default_factory=dict)
    admitted: int = 0
    write_window: float = 0.0
    map_plan_cpu: float | None = None
    trace: list[tuple[float, int, float | None, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def snapshot(commit: str, root: Path) -> Path:
    """hibob_sync/ as committed at `commit`, unpacked under `root`."""
    archive = subprocess.run(
        ["git", "archive", commit, "hibob_sync"], capture_output=True, cwd=HERE.parent, check=True
    ).stdout
    folder = root / f"code-{commit}"
    folder.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def config_for(b: Bench, target: Target, concurrency: int | None) -> Path:
    """hibob-sync's config for a target; None leaves sync.concurrency at the code's default."""
    config = b.write_config(target, concurrency or 0)
    if concurrency is None:
        text = config.read_text(encoding="utf-8").replace("  concurrency: 0\n", "")
        config.write_text(text, encoding="utf-8")
    return config


def server_cpu(target: Target) -> float:
    """CPU seconds (user + system) scim2-server's process has used so far."""
    assert target.server.proc is not None
    fields = Path(f"/proc/{target.server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    b: Bench, target: Target, args: list[str], code: Path | None
) -> tuple[Child, Traffic, float]:
    """One child run with the proxies' counters reset before and read after, and the CPU
    seconds scim2-server spent meanwhile."""
    env = dict(b.env)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    b.hibob_proxy.take_stats()
    target.proxy.take_stats()
    cpu = server_cpu(target)
    child = b.spawner.run(args, env, target.folder, TIMEOUT)
    cpu = server_cpu(target) - cpu
    return child, Traffic.of(b.hibob_proxy.take_stats(), target.proxy.take_stats()), cpu


class Goals:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        self.spawner = Spawner()
        self.runs: list[Run] = []
        self.started = time.perf_counter()
        self.after = snapshot(args.after, root)
        self.before = snapshot(args.before, root)

    def log(self, text: str) -> None:
        minutes, seconds = divmod(int(time.perf_counter() - self.started), 60)
        print(f"[{minutes:3d}:{seconds:02d}] {text}", flush=True)

    def sync(
        self,
        b: Bench,
        target: Target,
        config: Path,
        name: str,
        tool: str,
        *,
        trace: bool = False,
        plan_cpu: bool = False,
    ) -> Run:
        code = self.after if tool == "after" else self.before
        verbose = ["-vv"] if trace else []
        args = [sys.executable, "-m", "hibob_sync", *verbose, "--config", str(config)]
        child, traffic, cpu = measure(b, target, [*args, "run", "--json"], code)
        summary = summary_of(child)
        if not summary:
            self.log(f"  no summary (exit {child.exit_code}): {child.stderr.strip()[-800:]}")
        run = self._run(name, tool, b.size, child, traffic, cpu)
        run.counts = {k: int(v) for k, v in (summary.get("counts") or {}).items()}
        run.concurrency = dict(summary.get("concurrency") or {})
        if trace:
            ended = SETTLED.search(child.stderr)
            run.extra["scim_seconds"] = float(ended[1]) if ended else None
            run.trace = [
                (float(m[2]), int(m[1]), float(m[3]) if m[3] else None, m[4])
                for m in TRACE.finditer(child.stderr)
            ]
        if traffic.pages:
            run.extra["pages"] = traffic.pages  # bytes: popped before GOALS.json is written
        if plan_cpu:
            employees = fetch_employees(b, config)
            users = users_from_pages(traffic.pages, config)
            run.map_plan_cpu, _ = map_and_plan_cpu(employees, users, config, target.folder)
        self.runs.append(run)
        self.log(
            f"{name} [{tool}] N={b.size:,}: {run.wall:,.1f} s, list {run.scim_list}, writes "
            f"{run.scim_writes:,}, 429s {run.throttled}, server CPU {run.server_cpu:.1f} s, "
            f"RSS {run.max_rss_mb:,.0f} MB, "
            f"concurrency {run.concurrency or '-'}, exit {run.exit_code}"
            + (f", map+plan {run.map_plan_cpu:.3f} s" if run.map_plan_cpu is not None else "")
        )
        return run

    def naive(self, b: Bench, target: Target, name: str, sample: int | None = None) -> Run:
        """The naive script; with `sample`, stopped after that many writes and its wall time
        extrapolated (it is strictly sequential: the rest costs its mean time per write)."""
        child, traffic, cpu = measure(b, target, naive_command(b, target, sample), None)
        run = self._run(name, "naive", b.size, child, traffic, cpu)
        summary = summary_of(child)
        planned, done = summary.get("writes_planned"), summary.get("writes_done")
        seconds = summary.get("write_seconds")
        if sample is not None and planned and done and seconds and done < planned:
            run.extra["full_wall"] = extrapolated_wall(run.wall, planned, done, seconds)
            run.extra["sampled"] = f"{done:,} of {planned:,} writes in {seconds:.1f} s"
        self.runs.append(run)
        full = run.extra.get("full_wall")
        self.log(
            f"{name} [naive] N={b.size:,}: {run.wall:,.1f} s, writes {run.scim_writes:,}"
            + (f", extrapolated {full:,.1f} s" if full else "")
        )
        return run

    @staticmethod
    def _run(
        name: str, tool: str, size: int, child: Child, traffic: Traffic, server_cpu: float
    ) -> Run:
        run = Run(
            name=name,
            tool=tool,
            size=size,
            wall=child.wall,
            hibob=traffic.hibob,
            scim_list=traffic.scim_list,
            scim_writes=traffic.scim_writes,
            throttled=traffic.throttled,
            server_busy=traffic.server_busy,
            server_cpu=server_cpu,
            max_rss_mb=child.max_rss_mb,
            cpu=child.cpu,
            exit_code=child.exit_code,
        )
        if traffic.writes:
            run.admitted = len(traffic.writes)
            run.write_window = max(e for _, e in traffic.writes) - min(s for s, _ in traffic.writes)
        return run

    def ten_k(self, parts: set[str]) -> None:
        """10k first syncs at the defaults, the naive script, the quiet night at maxResults 20,
        and the same against the stub target."""
        latency = self.args.latency_ms / 1000
        size = self.args.size
        self.log(f"N={size:,}: generating the company, starting the servers")
        with bench(size, latency, self.root / "n10k", self.args.seed, self.spawner) as b:
            if "first" in parts:
                after = b.target("after-first", page_size=1000)
                self.sync(b, after, config_for(b, after, None), "first", "after", trace=True)
                before = b.target("before-first", page_size=1000)
                self.sync(b, before, config_for(b, before, None), "first", "before")
            if "naive" in parts:
                naive = b.target("naive-first", page_size=1000)
                b.write_config(naive, 8)
                self.naive(b, naive, "first")
            if "stub" in parts:
                stub = b.target("after-stub", page_size=1000, stub=True)
                self.sync(b, stub, config_for(b, stub, None), "stub-first", "after")
                naive = b.target("naive-stub", page_size=1000, stub=True)
                b.write_config(naive, 8)
                self.naive(b, naive, "stub-first", sample=2000)
            if parts & {"page20", "stub"}:
                # Each version on its own target: they write some values in different forms,
                # so one's quiet night on the other's users would not be quiet.
                for tool, first_concurrency in (("after", None), ("before", 8)):
                    page20 = b.target(f"page20-{tool}", page_size=None, capture=True)
                    config = config_for(b, page20, first_concurrency)
                    self.sync(b, page20, config, "page20-first", tool)
                    quiet = self.sync(b, page20, config, "page20-quiet", tool)
                    if "stub" in parts:
                        # The same night again, the pages answered by the proxy from what
                        # scim2-server just returned: the client's own limit.
                        page20.proxy.answer_lists_from(quiet.extra.pop("pages"), 20)
                        self.sync(b, page20, config, "page20-quiet-stub", tool)

    def rate_limited(self) -> None:
        latency = self.args.latency_ms / 1000
        cap = self.args.rate_limit
        size = self.args.rate_size
        self.log(f"N={size:,}: rate-limited target, {cap} writes/s")
        with bench(size, latency, self.root / "rate", self.args.seed, self.spawner) as b:
            for tool, concurrency in (("after", None), ("before", 8)):
                target = b.target(f"rate-{tool}", page_size=1000, write_cap=cap)
                config = config_for(b, target, concurrency)
                run = self.sync(b, target, config, "rate", tool, trace=tool == "after")
                run.extra["cap"] = cap

    def fifty_k(self) -> None:
        latency = self.args.latency_ms / 1000
        size = self.args.big_size
        self.log(f"N={size:,}: generating the company, starting the servers")
        with bench(size, latency, self.root / "n50k", self.args.seed, self.spawner) as b:
            target = b.target("after-50k", page_size=1000, capture=True)
            config = config_for(b, target, None)
            self.sync(b, target, config, "50k-first", "after", plan_cpu=True)
            self.sync(b, target, config, "50k-quiet", "after", plan_cpu=True)

    def close(self) -> None:
        self.spawner.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/goals.py", description=__doc__)
    parser.add_argument("--before", default="9c29462", help="commit of the 'before' code")
    parser.add_argument("--after", default="HEAD", help="commit of the 'after' code")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate-limit", type=int, default=50)
    parser.add_argument("--size", type=int, default=10_000, help="first sync and quiet night")
    parser.add_argument("--rate-size", type=int, default=1000)
    parser.add_argument("--big-size", type=int, default=50_000)
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to run, of {','.join(PARTS)} (default: all)",
    )
    parser.add_argument("--no-naive", dest="naive", action="store_false")
    parser.add_argument("--skip-50k", dest="fifty", action="store_false")
    parser.add_argument("--output", type=Path, default=HERE / "GOALS.json")
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if not parts <= set(PARTS):
        parser.error(f"--only: unknown part(s) {', '.join(sorted(parts - set(PARTS)))}")
    if not args.naive:
        parts.discard("naive")
    if not args.fifty:
        parts.discard("50k")
    # Stoppable when started in the background too (where SIGINT is ignored): the finally
    # blocks stop every server and child.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started_at = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="hibob-sync-goals-") as tmp:
        args.after = _resolve(args.after)
        args.before = _resolve(args.before)
        goals = Goals(args, Path(tmp))
        complete = False
        try:
            if parts & {"first", "naive", "page20", "stub"}:
                goals.ten_k(parts)
            if "rate" in parts:
                goals.rate_limited()
            if "50k" in parts:
                goals.fifty_k()
            complete = True
        finally:
            goals.close()
            total = time.perf_counter() - goals.started
            raw = {
                "date": started_at.strftime("%Y-%m-%d %H:%M UTC"),
                "command": " ".join(["benchmarks/goals.py", *(argv or sys.argv[1:])]),
                "complete": complete,
                "minutes": round(total / 60, 1),
                "after": args.after,
                "before": args.before,
                "latency_ms": args.latency_ms,
                "cpus": os.cpu_count(),
                "parts": sorted(parts),
                "runs": [
                    {**vars(r), "extra": {k: v for k, v in r.extra.items() if k != "pages"}}
                    for r in goals.runs
                ],
            }
            args.output.write_text(json.dumps(raw, indent=1), encoding="utf-8")
            traced = next((r for r in goals.runs if r.trace and r.name == "first"), None)
            if traced is not None:
                end = traced.extra.get("scim_seconds")
                write_svg(traced.trace, HERE / "concurrency-10k.svg", end=end)
            goals.log(f"wrote {args.output}" + (" and the SVG" if traced is not None else ""))
    return 0


def _resolve(commit: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", commit],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
        check=True,
    ).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
