"""RESULTS.md from the measured rows: the tables, the targets met or missed, the machine.

Only numbers that were measured are printed; a naive night that was sampled rather than run
in full is marked with "~" and its extrapolation is explained under the table. The
hand-written analysis below the ANALYSIS marker of an existing RESULTS.md is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

ANALYSIS = "<!-- analysis: hand-written below this line, kept when run.py rewrites the file -->"
SCENARIOS = {
    "first": "first full sync",
    "no_change": "night with no change",
    "changed_1pct": "1% changed",
    "terminated_2pct": "2% terminated",
}


def extrapolated_wall(wall: float, planned: int, done: int, write_seconds: float) -> float:
    """A sampled naive night's wall time for all its writes: it writes one at a time, so the
    writes left cost its mean time per write."""
    return wall + (planned - done) * write_seconds / done


@dataclass
class Row:
    """One measured run of one tool on one scenario."""

    size: int
    scenario: str
    tool: str  # "hibob-sync" | "naive"
    variant: str  # "main" | "sweep" | "stub" | "hithrive-page20" | "rate-limited" | "fixed-window"
    wall: float
    hibob: int
    scim_list: int
    scim_writes: int
    scim_other: int
    server_busy: float
    max_rss_mb: float
    cpu: float
    exit_code: int
    counts: dict[str, int] = field(default_factory=dict)
    changed: int | None = None  # users the scenario changed (first sync: users to create)
    scim_users: int | None = None  # SCIM users before the run (hibob-sync rows)
    page_size: int | None = None
    map_plan_cpu: float | None = None
    planned_writes: int | None = None  # naive: the writes a full night sends
    sampled_writes: int | None = None  # naive: the writes actually sent when sampled
    write_seconds: float | None = None  # naive: time spent writing the sampled writes
    throttled: int = 0
    concurrency: int | None = None  # hibob-sync's sync.concurrency
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return self.hibob + self.scim_list + self.scim_writes + self.scim_other

    @property
    def sampled(self) -> bool:
        return (
            self.planned_writes is not None
            and self.sampled_writes is not None
            and self.sampled_writes < self.planned_writes
        )

    @property
    def full_wall(self) -> float:
        """Wall time, extrapolated to the full night when the naive run was sampled."""
        if not self.sampled or not self.sampled_writes or self.write_seconds is None:
            return self.wall
        return extrapolated_wall(
            self.wall, self.planned_writes or 0, self.sampled_writes, self.write_seconds
        )

    @property
    def full_writes(self) -> int:
        if self.sampled:
            return self.scim_writes + (self.planned_writes or 0) - (self.sampled_writes or 0)
        return self.scim_writes

    @property
    def full_requests(self) -> int:
        return self.requests - self.scim_writes + self.full_writes

    @property
    def writes_per_changed(self) -> float | None:
        return self.scim_writes / self.changed if self.changed else None

    @property
    def expected_list_calls(self) -> int | None:
        if self.scim_users is None or not self.page_size:
            return None
        return max(1, math.ceil(self.scim_users / self.page_size))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _n(value: float | None, digits: int = 1, prefix: str = "") -> str:
    if value is None:
        return "–"
    return f"{prefix}{value:,.{digits}f}"


def _size(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _pair(rows: list[Row], variant: str = "main") -> list[tuple[Row, Row | None]]:
    ours = [r for r in rows if r.tool == "hibob-sync" and r.variant == variant]
    naive = {(r.size, r.scenario): r for r in rows if r.tool == "naive" and r.variant == variant}
    return [(r, naive.get((r.size, r.scenario))) for r in ours]


def main_table(rows: list[Row]) -> list[str]:
    """hibob-sync per size and scenario."""
    out = [
        "| N | scenario | wall s | HiBob | SCIM list (expected) | SCIM writes | changed users "
        "| writes per changed | map+plan CPU s | peak RSS MB | run CPU s | SCIM server busy "
        "| exit | run counts |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in (r for r in rows if r.tool == "hibob-sync" and r.variant == "main"):
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items() if v)
        busy = f"{r.server_busy:,.1f} s ({100 * r.server_busy / r.wall:.0f}%)"
        out.append(
            f"| {_size(r.size)} | {SCENARIOS[r.scenario]} | {r.wall:,.1f} | {r.hibob} "
            f"| {r.scim_list} ({_n(r.expected_list_calls, 0)}) | {r.scim_writes:,} "
            f"| {_n(r.changed, 0)} | {_n(r.writes_per_changed, 2)} | {_n(r.map_plan_cpu, 3)} "
            f"| {r.max_rss_mb:,.0f} | {r.cpu:,.1f} | {busy} | {r.exit_code} | {counts} |"
        )
    return out


def comparison_table(rows: list[Row]) -> list[str]:
    """hibob-sync against the naive script, scenario by scenario."""
    out = [
        "| N | scenario | hibob-sync wall s | naive wall s | wall ratio naive/ours "
        "| hibob-sync requests (HiBob+list+writes+other) | naive requests "
        "| request ratio naive/ours | naive peak RSS MB |",
        "|---:|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for ours, naive in _pair(rows):
        mine = (
            f"{ours.requests:,} ({ours.hibob}+{ours.scim_list}+{ours.scim_writes:,}"
            f"+{ours.scim_other})"
        )
        if naive is None:
            out.append(
                f"| {_size(ours.size)} | {SCENARIOS[ours.scenario]} | {ours.wall:,.1f} "
                f"| – | – | {mine} | – | – | – |"
            )
            continue
        mark = "~" if naive.sampled else ""
        theirs = (
            f"{mark}{naive.full_requests:,} ({naive.hibob}+{naive.scim_list}"
            f"+{mark}{naive.full_writes:,}+{naive.scim_other})"
        )
        out.append(
            f"| {_size(ours.size)} | {SCENARIOS[ours.scenario]} | {ours.wall:,.1f} "
            f"| {mark}{naive.full_wall:,.1f} | {mark}{naive.full_wall / ours.wall:,.1f}x "
            f"| {mine} | {theirs} | {mark}{naive.full_requests / ours.requests:,.0f}x "
            f"| {naive.max_rss_mb:,.0f} |"
        )
    return out


def sampled_notes(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        if r.tool == "naive" and r.sampled:
            each = 1000 * (r.write_seconds or 0) / (r.sampled_writes or 1)
            out.append(
                f"- N={_size(r.size)}, {SCENARIOS[r.scenario]}"
                f"{'' if r.variant == 'main' else f' ({r.variant} target)'}: "
                "the naive script sent "
                f"{r.sampled_writes:,} of its {r.planned_writes:,} writes in "
                f"{r.write_seconds:,.1f} s ({each:.1f}"
                f" ms each, one at a time); measured run {r.wall:,.1f} s, "
                f"extrapolated to {r.full_wall:,.1f} s."
            )
    return out


@dataclass
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: not measured in this invocation


def _met(flag: bool | None) -> str:
    return {True: "**met**", False: "**missed**", None: "not measured"}[flag]


def verdicts(rows: list[Row], latency_ms: float) -> list[Verdict]:
    """The issue's targets, judged on this invocation's rows."""
    out: list[Verdict] = []
    for variant, page in (("main", "scale target"), ("hithrive-page20", "maxResults 20")):
        night = next(
            (
                r
                for r in rows
                if r.tool == "hibob-sync"
                and r.variant == variant
                and r.size == 10_000
                and r.scenario == "no_change"
            ),
            None,
        )
        label = (
            f"No-change night at 10k ({page}): 2 HiBob calls, ceil(users/page) list calls, 0 writes"
        )
        if night is None:
            out.append(Verdict(label, "–", None))
            continue
        ok = (
            night.hibob == 2
            and night.scim_list == night.expected_list_calls
            and night.scim_writes == 0
        )
        out.append(
            Verdict(
                label,
                f"{night.hibob} HiBob, {night.scim_list} list (ceil({night.scim_users:,}/"
                f"{night.page_size}) = {night.expected_list_calls}), {night.scim_writes} writes",
                ok,
            )
        )
    changed = [
        r
        for r in rows
        if r.tool == "hibob-sync"
        and r.changed
        and r.scenario != "no_change"
        and r.variant not in ("rate-limited", "fixed-window")  # writes include 429'd attempts
    ]
    worst = max(changed, key=lambda r: abs((r.writes_per_changed or 0) - 1), default=None)
    out.append(
        Verdict(
            "Writes per changed user 1.00 (every first sync, 1% and 2% night)",
            "–"
            if worst is None
            else ", ".join(sorted({f"{r.writes_per_changed:.2f}" for r in changed}))
            + f" over {len(changed)} runs",
            None if worst is None else all(r.scim_writes == r.changed for r in changed),
        )
    )
    naive_first = next(
        (
            r
            for r in rows
            if r.tool == "naive"
            and r.variant == "main"
            and r.size == 10_000
            and r.scenario == "first"
        ),
        None,
    )
    ours_first = sorted(
        (
            r
            for r in rows
            if r.tool == "hibob-sync"
            and r.variant in ("main", "sweep")
            and r.size == 10_000
            and r.scenario == "first"
        ),
        key=lambda r: r.concurrency or 0,
    )
    label = f"First sync at 10k at least 10x faster than naive ({latency_ms:g} ms latency)"
    if naive_first is None or not ours_first:
        out.append(Verdict(label, "–", None))
    else:
        ratios = [(r.concurrency, naive_first.full_wall / r.wall) for r in ours_first]
        best = max(ratios, key=lambda pair: pair[1])
        measured = ", ".join(f"concurrency {c}: {x:.1f}x" for c, x in ratios)
        measured += f" (naive {naive_first.full_wall:,.0f} s; scim2-server target)"
        if best[1] >= 10:
            measured += f"; reached at concurrency {best[0]} only"
        out.append(Verdict(label, measured, best[1] >= 10))
    big = [r for r in rows if r.tool == "hibob-sync" and r.size == 50_000 and r.variant == "main"]
    cpu = max((r.map_plan_cpu or 0 for r in big), default=None)
    out.append(
        Verdict(
            "Mapping + planning of 50k under 2 s CPU (worst scenario)",
            _n(cpu, 3) + " s" if big else "–",
            None if not big else (cpu or 0) < 2,
        )
    )
    rss = max((r.max_rss_mb for r in big), default=None)
    out.append(
        Verdict(
            "Peak RSS under 300 MB at 50k (worst scenario)",
            _n(rss, 0) + " MB" if big else "–",
            None if not big else (rss or 0) < 300,
        )
    )
    limited = [r for r in rows if r.variant == "rate-limited"]
    failed = sum(r.counts.get("failed", 0) for r in limited)
    out.append(
        Verdict(
            "Rate-limited target: 0 failed records",
            f"{failed} failed" if limited else "–",
            None if not limited else failed == 0,
        )
    )
    windowed = [r for r in rows if r.variant == "fixed-window" and r.scenario == "first"]
    ratio = max((r.wall / float(r.extra["minimum"]) for r in windowed), default=None)
    out.append(
        Verdict(
            "Fixed-window target: first sync within 1.2x the window minimum, 0 failed",
            f"{ratio:.2f}x, {sum(r.counts.get('failed', 0) for r in windowed)} failed"
            if windowed
            else "–",
            None
            if ratio is None
            else ratio <= 1.2 and not any(r.counts.get("failed") for r in windowed),
        )
    )
    return out


def extras_table(rows: list[Row]) -> list[str]:
    """First syncs by target and concurrency, each against naive on the same target."""
    firsts = [
        r
        for r in rows
        if r.tool == "hibob-sync" and r.scenario == "first" and r.variant in ("sweep", "stub")
    ]
    if not firsts:
        return []
    size = firsts[0].size
    main = [r for r in rows if r.variant == "main" and r.scenario == "first" and r.size == size]
    naive = {r.variant: r for r in rows if r.tool == "naive" and r.scenario == "first"}
    naive_main = next((r for r in main if r.tool == "naive"), None)
    out = [
        "| target | concurrency | wall s | SCIM writes | SCIM server busy | run CPU s "
        "| naive wall s (same target) | ratio naive/ours |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ordered = [r for r in main if r.tool == "hibob-sync"] + firsts
    ordered.sort(key=lambda r: (r.variant == "stub", r.concurrency or 0))
    for r in ordered:
        theirs = naive.get("stub") if r.variant == "stub" else naive_main
        target = "stub (proxy answers writes)" if r.variant == "stub" else "scim2-server"
        ratio, their_wall = "–", "–"
        if theirs is not None:
            mark = "~" if theirs.sampled else ""
            their_wall = f"{mark}{theirs.full_wall:,.1f}"
            ratio = f"{mark}{theirs.full_wall / r.wall:,.1f}x"
        out.append(
            f"| {target} | {r.concurrency} | {r.wall:,.1f} | {r.scim_writes:,} "
            f"| {r.server_busy:,.1f} s ({100 * r.server_busy / r.wall:.0f}%) | {r.cpu:,.1f} "
            f"| {their_wall} | {ratio} |"
        )
    return out


def verdict_table(items: Iterable[Verdict]) -> list[str]:
    out = ["| target | measured | verdict |", "|---|---|---|"]
    out += [f"| {v.target} | {v.measured} | {_met(v.met)} |" for v in items]
    return out


def variant_table(rows: list[Row], variant: str) -> list[str]:
    out = [
        "| N | scenario | page size | wall s | HiBob | SCIM list (expected) | SCIM write requests "
        "| 429 answers | failed | SCIM server busy | peak RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (r for r in rows if r.variant == variant):
        out.append(
            f"| {_size(r.size)} | {SCENARIOS[r.scenario]} | {r.page_size} | {r.wall:,.1f} "
            f"| {r.hibob} | {r.scim_list} ({_n(r.expected_list_calls, 0)}) "
            f"| {r.scim_writes:,} | {r.throttled:,} | {r.counts.get('failed', 0)} "
            f"| {r.server_busy:,.1f} s ({100 * r.server_busy / r.wall:.0f}%) "
            f"| {r.max_rss_mb:,.0f} |"
        )
    return out


def rate_lines(rows: list[Row]) -> list[str]:
    out = []
    for r in (r for r in rows if r.variant == "rate-limited"):
        cap, window = r.extra.get("cap"), r.extra.get("write_window")
        admitted = r.extra.get("admitted", 0)
        if cap and window:
            achieved = admitted / window
            out.append(
                f"- Cap {cap} writes/s: {admitted:,} writes admitted over {window:,.1f} s "
                f"(first to last write) = {achieved:,.1f} writes/s, **{100 * achieved / cap:.0f}%"
                f" of the budget**; {r.throttled:,} answers were 429 (each retried after "
                f"Retry-After); failed records: **{r.counts.get('failed', 0)}**; "
                f"exit code {r.exit_code}."
            )
    return out


def window_lines(rows: list[Row]) -> list[str]:
    out = []
    for r in (r for r in rows if r.variant == "fixed-window"):
        quota, seconds = r.extra.get("quota"), r.extra.get("seconds")
        minimum = float(r.extra.get("minimum") or 0)
        what = f"{SCENARIOS[r.scenario]}: {r.wall:,.1f} s"
        if r.scenario == "first" and minimum:
            what += (
                f" against a window minimum of {minimum:,.1f} s (N {r.size:,} / {quota} x "
                f"{seconds:g} s) = **{r.wall / minimum:.2f}x**"
            )
        out.append(
            f"- {quota} requests per {seconds:g} s window, wait in {r.extra.get('announce')}: "
            f"{what}; {r.throttled:,} answers were 429; SCIM list calls {r.scim_list}; "
            f"failed records: **{r.counts.get('failed', 0)}**; exit code {r.exit_code}."
        )
    return out


def render(rows: list[Row], *, header: dict[str, str], latency_ms: float, analysis: str) -> str:
    """The whole RESULTS.md."""
    lines = ["# Benchmarks: hibob-sync against the naive script", ""]
    lines += [f"- **{k}**: {v}" for k, v in header.items()]
    lines += ["", "## Targets", "", *verdict_table(verdicts(rows, latency_ms)), ""]
    lines += ["## hibob-sync, scenario by scenario", "", *main_table(rows), ""]
    lines += [
        "Columns: *SCIM list (expected)* = list calls made (ceil(SCIM users before the run / "
        "page size)); *changed users* = employees the scenario changed in HiBob (first sync: "
        "users to create); *map+plan CPU* = `time.process_time` around "
        "`profiles.build_profiles` + `plan.make_plan` on the data the run fetched, in a clean "
        "process holding just that data (best of 3, `plan_cpu.py`); *peak RSS* and *run CPU* "
        "= `wait4` rusage of the child "
        "`python -m hibob_sync run --json`; *SCIM server busy* = time during which at least "
        "one request was inside scim2-server (union of upstream intervals timed by the "
        "proxy), and its share of the run's wall time. Exit 1 = some employees were set "
        "aside: the generated company plants a missing and a duplicate email on purpose.",
        "",
        "## Side by side with the naive script",
        "",
        *comparison_table(rows),
        "",
    ]
    notes = sampled_notes(rows)
    if notes:
        lines += [
            "`~` = extrapolated: naive nights with more writes than `--naive-sample` were "
            "stopped after that many writes. The naive script is strictly sequential, so the "
            "rest of its night costs (writes left) x (measured mean time per write); its "
            "request count is exact (it plans every write before sending). Where its own "
            "first sync was sampled, its later nights list only the users it created, so "
            "their wall times are a lower bound.",
            "",
            *notes,
            "",
        ]
    extras = extras_table(rows)
    if extras:
        size = next(r.size for r in rows if r.variant in ("sweep", "stub"))
        lines += [
            f"## First sync at {_size(size)}: concurrency, and the target's share",
            "",
            "The same first sync against scim2-server at other `sync.concurrency` values, and "
            "against a stub target: the proxy answers each user POST itself after the same "
            "latency (the resource with a new id), so the target costs nothing and what is "
            "left is the client, the proxy and the latency.",
            "",
            *extras,
            "",
        ]
    for variant, title in (
        ("hithrive-page20", "HiThrive-like service provider config (maxResults 20)"),
        ("rate-limited", "Rate-limited target (write cap, 429 + Retry-After)"),
        ("fixed-window", "Fixed-window target (every SCIM request counted, a burst then 429)"),
    ):
        if any(r.variant == variant for r in rows):
            lines += [f"## {title}", "", *variant_table(rows, variant), ""]
            if variant == "rate-limited":
                lines += [*rate_lines(rows), ""]
            if variant == "fixed-window":
                lines += [*window_lines(rows), ""]
    lines += [ANALYSIS, analysis.strip("\n"), ""]
    return "\n".join(lines)
