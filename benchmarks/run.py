"""Run every benchmark in one invocation and write benchmarks/RESULTS.md.

For each size: a HiBob sandbox with N generated employees and two empty scim2-server
processes (one for hibob-sync, one for the naive script), each behind a latency-injecting,
request-counting proxy. Four nights run in order: the first full sync, a night with no
change, a night after 1% of the employees changed, a night after 2% were terminated. Every
run is a child process (`python -m hibob_sync --config ... run --json`, or
benchmarks/naive.py) so wall time, peak RSS and CPU are its own. Then a HiThrive-like
target (maxResults 20), a rate-limited target (writes per second) and a fixed-window target
(every SCIM request counted: a burst of the quota, then 429 until the window ends).

    .venv/bin/python benchmarks/run.py --sizes 1000,10000,50000 --latency-ms 20
    .venv/bin/python benchmarks/run.py --sizes 200 --output /tmp/quick.md   # a quick check
    .venv/bin/python benchmarks/run.py --sizes '' --extra-size 0 --hithrive-size 0 \
        --rate-limit 0 --window-limit 100/10 --window-size 500   # the fixed window alone

Speed is measured here, by hand; no test asserts a wall-clock limit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from harness import (
    Bench,
    Spawner,
    Target,
    bench,
    change_details,
    fetch_employees,
    map_and_plan_cpu,
    naive_command,
    run_measured,
    summary_of,
    sync_command,
    terminate,
    users_from_pages,
)
from latency_proxy import FixedWindowCap
from results import ANALYSIS, SCENARIOS, Row, render

HERE = Path(__file__).resolve().parent
PIN_ENV = "HIBOB_SYNC_BENCH_COMMIT"  # set in the re-run that uses the snapshot
HITHRIVE_PAGE = 20  # maxResults of hibob_sync/schemas/spc_hithrive.json
CHILD_TIMEOUT = 1800.0

Log = Callable[[str], None]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--sizes", default="1000,10000,50000", help="company sizes (N)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to each request")
    parser.add_argument("--concurrency", type=int, default=8, help="hibob-sync sync.concurrency")
    parser.add_argument(
        "--page-size", type=int, default=1000, help="maxResults of the scale targets"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated companies")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=2000,
        help="stop a naive night after this many writes and extrapolate (0: never)",
    )
    parser.add_argument(
        "--naive-full-first-sync",
        type=int,
        default=10_000,
        help="run the naive first sync in full up to this size",
    )
    parser.add_argument("--no-naive", dest="naive", action="store_false", help="skip naive")
    parser.add_argument(
        "--hithrive-size",
        type=int,
        default=10_000,
        help="size of the maxResults-20 check (first sync + no-change night; 0: skip)",
    )
    parser.add_argument(
        "--extra-size",
        type=int,
        default=10_000,
        help="size of the first-sync extras: concurrency sweep and stub target (0: skip)",
    )
    parser.add_argument(
        "--sweep-concurrency",
        default="4,16",
        help="other sync.concurrency values for the extras (the main value is always run)",
    )
    parser.add_argument("--rate-size", type=int, default=1000, help="size of the capped run")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=50,
        help="writes per second of the capped target (0: skip)",
    )
    parser.add_argument(
        "--window-limit",
        default="100/10",
        help="QUOTA/SECONDS of the fixed-window target (0: skip)",
    )
    parser.add_argument("--window-size", type=int, default=500, help="size of the window run")
    parser.add_argument(
        "--window-announce",
        default="X-Retry-After",
        help="the header that says the wait (Retry-After, RateLimit-Reset...; none: no header)",
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=None,
        help="run hibob-sync under cProfile, one .prof per run (diagnosis: inflates times)",
    )
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    return parser.parse_args(argv)


class Runner:
    """Runs the scenarios and collects one Row per run."""

    def __init__(self, args: argparse.Namespace, root: Path, spawner: Spawner) -> None:
        self.args = args
        self.root = root
        self.spawner = spawner
        self.rows: list[Row] = []
        self.started = time.perf_counter()

    def log(self, text: str) -> None:
        minutes, seconds = divmod(int(time.perf_counter() - self.started), 60)
        print(f"[{minutes:3d}:{seconds:02d}] {text}", flush=True)

    def _profile(self, bench_: Bench, name: str) -> Path | None:
        folder: Path | None = self.args.profile_dir
        if folder is None:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        return folder.resolve() / f"{name}-{bench_.size}.prof"

    def ours(
        self,
        b: Bench,
        target: Target,
        config: Path,
        scenario: str,
        changed: int | None,
        *,
        variant: str = "main",
        page_size: int,
        concurrency: int | None = None,
    ) -> Row:
        """One hibob-sync run, then mapping + planning timed again on the data it read."""
        profile = self._profile(b, f"{variant}-{scenario}")
        child, traffic = run_measured(b, target, sync_command(config, profile), CHILD_TIMEOUT)
        summary = summary_of(child)
        if not summary:
            self.log(
                f"  hibob-sync printed no summary (exit {child.exit_code}): "
                f"{child.stderr.strip()[-500:]}"
            )
        counts = {k: int(v) for k, v in (summary.get("counts") or {}).items()}
        employees = fetch_employees(b, config)
        users = users_from_pages(traffic.pages, config)
        cpu, planned = map_and_plan_cpu(employees, users, config, target.folder)
        if scenario == "first":
            changed = planned.get("create", 0)
        extra: dict[str, object] = {"planned": planned}
        ran = {k: counts.get(k, 0) for k in planned}
        if ran != planned and not counts.get("failed"):
            extra["plan_mismatch"] = True
            self.log(f"  note: re-planned counts {planned} differ from the run's {counts}")
        row = Row(
            size=b.size,
            scenario=scenario,
            tool="hibob-sync",
            variant=variant,
            wall=child.wall,
            hibob=traffic.hibob,
            scim_list=traffic.scim_list,
            scim_writes=traffic.scim_writes,
            scim_other=traffic.scim_other,
            server_busy=traffic.server_busy,
            max_rss_mb=child.max_rss_mb,
            cpu=child.cpu,
            exit_code=child.exit_code,
            counts=counts,
            changed=changed,
            scim_users=len(users),
            page_size=page_size,
            map_plan_cpu=cpu,
            throttled=traffic.throttled,
            concurrency=concurrency or self.args.concurrency,
            extra=extra,
        )
        if traffic.writes:
            window = max(end for _, end in traffic.writes) - min(s for s, _ in traffic.writes)
            row.extra.update(admitted=len(traffic.writes), write_window=window)
        self.log(
            f"N={b.size:,} hibob-sync {variant} c={row.concurrency} {SCENARIOS[scenario]}: "
            f"{child.wall:,.1f} s, "
            f"HiBob {traffic.hibob}, list {traffic.scim_list}, writes {traffic.scim_writes:,}"
            f" (changed {changed}), 429s {traffic.throttled}, map+plan {cpu:.3f} s CPU, "
            f"RSS {child.max_rss_mb:,.0f} MB, exit {child.exit_code}"
        )
        return row

    def naive(
        self, b: Bench, target: Target, scenario: str, *, variant: str = "main", full: bool = False
    ) -> Row:
        """One naive night, sampled past --naive-sample writes unless it must run in full."""
        args = self.args
        limit = None if full or not args.naive_sample else args.naive_sample
        child, traffic = run_measured(b, target, naive_command(b, target, limit), CHILD_TIMEOUT)
        summary = summary_of(child)
        if not summary:
            self.log(
                f"  naive printed no summary (exit {child.exit_code}): "
                f"{child.stderr.strip()[-500:]}"
            )
        row = Row(
            size=b.size,
            scenario=scenario,
            tool="naive",
            variant=variant,
            wall=child.wall,
            hibob=traffic.hibob,
            scim_list=traffic.scim_list,
            scim_writes=traffic.scim_writes,
            scim_other=traffic.scim_other,
            server_busy=traffic.server_busy,
            max_rss_mb=child.max_rss_mb,
            cpu=child.cpu,
            exit_code=child.exit_code,
            counts={"failed": int(summary.get("failures", 0))},
            planned_writes=summary.get("writes_planned"),
            sampled_writes=summary.get("writes_done"),
            write_seconds=summary.get("write_seconds"),
        )
        sampled = (
            f", sampled {row.sampled_writes:,} of {row.planned_writes:,} writes, "
            f"extrapolated {row.full_wall:,.1f} s"
            if row.sampled
            else ""
        )
        self.log(
            f"N={b.size:,} naive {variant} {SCENARIOS[scenario]}: {child.wall:,.1f} s, HiBob "
            f"{traffic.hibob}, list {traffic.scim_list}, writes {traffic.scim_writes:,}"
            f"{sampled}, RSS {child.max_rss_mb:,.0f} MB, exit {child.exit_code}"
        )
        return row

    def size(self, size: int) -> None:
        """The four nights at one size, hibob-sync and naive on the same HiBob data."""
        args = self.args
        self.log(f"N={size:,}: generating the company, starting the servers")
        with bench(
            size, args.latency_ms / 1000, self.root / f"n{size}", args.seed, self.spawner
        ) as b:
            ours = b.target("hibob-sync", page_size=args.page_size, capture=True)
            config = b.write_config(ours, args.concurrency)
            theirs = b.target("naive", page_size=args.page_size) if args.naive else None
            if theirs is not None:
                b.write_config(theirs, args.concurrency)
            for scenario in SCENARIOS:
                changed: int | None = None
                if scenario == "changed_1pct":
                    changed = change_details(b, 0.01)
                elif scenario == "terminated_2pct":
                    changed = terminate(b, 0.02)
                elif scenario == "no_change":
                    changed = 0
                self.rows.append(
                    self.ours(b, ours, config, scenario, changed, page_size=args.page_size)
                )
                if theirs is not None:
                    full = scenario == "first" and size <= args.naive_full_first_sync
                    self.rows.append(self.naive(b, theirs, scenario, full=full))

    def extras(self, size: int) -> None:
        """First syncs at `size`: other concurrencies against scim2-server, then a stub target
        that answers writes itself, to tell the client's cost from the server's."""
        args = self.args
        others = [int(c) for c in args.sweep_concurrency.split(",") if c.strip()]
        self.log(f"N={size:,}: first-sync extras (concurrency {others}, stub target)")
        with bench(
            size, args.latency_ms / 1000, self.root / f"extra-{size}", args.seed, self.spawner
        ) as b:
            runs = [("sweep", c) for c in others if c != args.concurrency]
            runs += [("stub", c) for c in sorted({*others, args.concurrency})]
            for variant, concurrency in runs:
                target = b.target(
                    f"{variant}-c{concurrency}",
                    page_size=args.page_size,
                    capture=True,
                    stub=variant == "stub",
                )
                config = b.write_config(target, concurrency)
                self.rows.append(
                    self.ours(
                        b,
                        target,
                        config,
                        "first",
                        None,
                        variant=variant,
                        page_size=args.page_size,
                        concurrency=concurrency,
                    )
                )
            if args.naive:
                target = b.target("stub-naive", page_size=args.page_size, stub=True)
                b.write_config(target, args.concurrency)
                self.rows.append(self.naive(b, target, "first", variant="stub"))

    def hithrive_page(self, size: int) -> None:
        """The HiThrive-like maxResults 20: the list calls a real tenant would see."""
        args = self.args
        self.log(f"N={size:,}: HiThrive-like target (maxResults {HITHRIVE_PAGE})")
        with bench(
            size, args.latency_ms / 1000, self.root / f"page20-{size}", args.seed, self.spawner
        ) as b:
            target = b.target("hithrive-page20", page_size=None, capture=True)
            config = b.write_config(target, args.concurrency)
            for scenario, changed in (("first", None), ("no_change", 0)):
                self.rows.append(
                    self.ours(
                        b,
                        target,
                        config,
                        scenario,
                        changed,
                        variant="hithrive-page20",
                        page_size=HITHRIVE_PAGE,
                    )
                )

    def rate_limited(self, size: int, cap: int) -> None:
        """A first sync against a target that answers 429 past `cap` writes a second."""
        args = self.args
        self.log(f"N={size:,}: rate-limited target, {cap} writes/s")
        with bench(
            size, args.latency_ms / 1000, self.root / f"rate-{size}", args.seed, self.spawner
        ) as b:
            target = b.target("rate-limited", page_size=args.page_size, write_cap=cap, capture=True)
            config = b.write_config(target, args.concurrency)
            row = self.ours(
                b, target, config, "first", None, variant="rate-limited", page_size=args.page_size
            )
            row.extra["cap"] = cap
            self.rows.append(row)

    def fixed_window(self, size: int, limit: str, announce: str) -> None:
        """A first sync, then a quiet night, against a target that lets `limit` (QUOTA/SECONDS)
        SCIM requests through per fixed window; the first sync's wall time is set against the
        window minimum, N / QUOTA x SECONDS."""
        args = self.args
        quota_text, _, seconds_text = limit.partition("/")
        quota, seconds = int(quota_text), float(seconds_text or 1)
        said = None if announce.lower() == "none" else announce
        self.log(f"N={size:,}: fixed-window target, {quota} per {seconds:g} s ({said})")
        with bench(
            size, args.latency_ms / 1000, self.root / f"window-{size}", args.seed, self.spawner
        ) as b:
            cap = FixedWindowCap(quota, seconds, said)
            target = b.target(
                "fixed-window", page_size=args.page_size, window_cap=cap, capture=True
            )
            config = b.write_config(target, args.concurrency)
            for scenario, changed in (("first", None), ("no_change", 0)):
                row = self.ours(
                    b,
                    target,
                    config,
                    scenario,
                    changed,
                    variant="fixed-window",
                    page_size=args.page_size,
                )
                minimum = size / quota * seconds
                row.extra.update(
                    quota=quota, seconds=seconds, announce=said or "none", minimum=minimum
                )
                self.rows.append(row)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> str:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return "unknown"
    return f"{pages / 2**30:.0f} GB"


def _commit() -> str:
    if os.environ.get(PIN_ENV):
        return os.environ[PIN_ENV]
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=HERE,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def _command(argv: Sequence[str] | None) -> str:
    exe = sys.executable
    with contextlib.suppress(ValueError):  # another drive on Windows: keep it absolute
        exe = os.path.relpath(exe)
    script = os.path.relpath(Path(__file__))
    return shlex.join([exe, script, *(sys.argv[1:] if argv is None else argv)])


def _analysis(path: Path) -> str:
    """The hand-written analysis of an earlier RESULTS.md, kept across runs."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if ANALYSIS in text:
            return text.split(ANALYSIS, 1)[1]
    return "\n## Analysis\n\n(not written yet)\n"


def _run_pinned(argv: Sequence[str] | None) -> int | None:
    """Re-run this script on a snapshot of the committed hibob_sync/ (git HEAD).

    Other people commit to this tree while a benchmark runs for half an hour; without the
    snapshot one invocation could measure two versions of the code. None: already pinned,
    or not a git checkout (then the working tree is measured as it is).
    """
    if os.environ.get(PIN_ENV):
        return None
    commit = _commit()
    try:
        archive = subprocess.run(
            ["git", "archive", "HEAD", "hibob_sync"],
            capture_output=True,
            cwd=HERE.parent,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        print("not a git checkout: measuring the working tree as it is", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="hibob-sync-code-") as snapshot:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(snapshot, filter="data")
        path = os.pathsep.join(p for p in (snapshot, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, PIN_ENV: commit, "PYTHONPATH": path}
        args = list(sys.argv[1:] if argv is None else argv)
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], env=env)
        try:
            return proc.wait()
        except (KeyboardInterrupt, SystemExit) as stop:
            # Pass Ctrl-C or kill on, and let the re-run stop its servers and write its rows.
            interrupted = isinstance(stop, KeyboardInterrupt)
            proc.send_signal(signal.SIGINT if interrupted else signal.SIGTERM)
            proc.wait()
            raise


def main(argv: Sequence[str] | None = None) -> int:
    """Run everything, then write RESULTS.md and the raw rows next to it (also on failure)."""
    args = _parse(argv)
    # A plain `kill` ends the run through its finally blocks too, so no server is left behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    pinned = _run_pinned(argv)
    if pinned is not None:
        return pinned
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started_at = datetime.now(timezone.utc)
    root = Path(tempfile.mkdtemp(prefix="hibob-sync-bench-"))
    spawner = Spawner()  # first, while this process is still small
    runner = Runner(args, root, spawner)
    complete = False
    try:
        for size in sizes:
            runner.size(size)
        if args.extra_size:
            runner.extras(args.extra_size)
        if args.hithrive_size:
            runner.hithrive_page(args.hithrive_size)
        if args.rate_limit:
            runner.rate_limited(args.rate_size, args.rate_limit)
        if args.window_limit not in ("", "0"):
            runner.fixed_window(args.window_size, args.window_limit, args.window_announce)
        complete = True
    finally:
        spawner.close()
        shutil.rmtree(root, ignore_errors=True)
        total = time.perf_counter() - runner.started
        header = {
            "Date": started_at.strftime("%Y-%m-%d %H:%M UTC"),
            "Command": f"`{_command(argv)}`" + ("" if complete else " (**interrupted**)"),
            "Machine": f"{os.cpu_count()} cores, {_cpu_model()}, {_memory_gb()} RAM, "
            f"{platform.system()} {platform.release()}",
            "Python": platform.python_version(),
            "Versions": f"hibob-sync {version('hibob-sync')}, `hibob_sync/` as committed at "
            f"{_commit()} (a snapshot: edits made during the run are not measured), "
            f"scim2-server {version('scim2-server')}",
            "Settings": f"{args.latency_ms:g} ms added to every request (HiBob and SCIM); "
            f"hibob-sync `sync.concurrency: {args.concurrency}` (default 32: a ceiling, the "
            f"limiter adapts below it); scale targets announce maxResults {args.page_size} "
            f"(HiThrive-like config: 20); company seed "
            f"{args.seed}",
            "Total time of this invocation": f"{total / 60:,.1f} min",
        }
        output: Path = args.output
        text = render(
            runner.rows, header=header, latency_ms=args.latency_ms, analysis=_analysis(output)
        )
        output.write_text(text, encoding="utf-8")
        raw = {"header": header, "rows": [r.as_dict() for r in runner.rows]}
        output.with_suffix(".json").write_text(json.dumps(raw, indent=1), encoding="utf-8")
        runner.log(f"wrote {output} and {output.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
