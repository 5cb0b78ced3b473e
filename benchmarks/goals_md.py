"""The issue-13 block of RESULTS.md from GOALS.json (goals.py's raw runs).

    python benchmarks/goals_md.py [GOALS.json] [RESULTS.md]

Rewrites only the text between the GOALS markers (appended at the end the first time), in
the hand-written part of RESULTS.md, so benchmarks/run.py keeps it.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BEGIN = "<!-- GOALS 13: begin (benchmarks/goals_md.py rewrites this block) -->"
END = "<!-- GOALS 13: end -->"
BEFORE_PAGE20_QUIET = 36.7  # RESULTS.md of 2026-11-26, the "today"

Run = dict[str, Any]


def _size(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def _find(runs: list[Run], name: str, tool: str, size: int | None = None) -> Run | None:
    for run in runs:
        if run["name"] == name and run["tool"] == tool and size in (None, run["size"]):
            return run
    return None


def _conc(run: Run | None) -> str:
    c = (run or {}).get("concurrency") or {}
    if not c:
        return "–"
    text = f"settled {c['settled']:g}, peak {c['peak']:g} (ceiling {c['ceiling']:g})"
    return text + (f", pace {c['pace']:g}/s" if "pace" in c else "")


def _budget(run: Run) -> float | None:
    cap = run.get("extra", {}).get("cap")
    if not cap or not run.get("write_window"):
        return None
    return float(run["admitted"]) / run["write_window"] / cap


def _rate_text(run: Run | None) -> str:
    if run is None:
        return "not measured"
    budget = _budget(run)
    share = run["throttled"] / run["scim_writes"] if run["scim_writes"] else 0.0
    failed = run["counts"].get("failed", "?")
    use = f"{budget:.0%}" if budget is not None else "–"
    return (
        f"{use} of the budget, {failed} failed, {run['throttled']} of {run['scim_writes']:,} "
        f"write requests answered 429 ({share:.1%})"
    )


def _wall(run: Run) -> float:
    """Wall time; a sampled naive run's extrapolated to all its writes."""
    return float(run.get("extra", {}).get("full_wall") or run["wall"])


def _cpu(run: Run) -> float:
    return float(run.get("server_cpu") or 0.0)


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("**met**" if ok else "**missed**")


def goal_rows(raw: dict[str, Any]) -> list[str]:
    runs: list[Run] = raw["runs"]
    after, before, naive = (_find(runs, "first", t) for t in ("after", "before", "naive"))
    out = ["| goal | before | after | verdict |", "|---|---|---|---|"]
    if after and naive:
        ratio = naive["wall"] / after["wall"]
        was = f"{before['wall']:.1f} s = {naive['wall'] / before['wall']:.1f}x" if before else "–"
        bound = (
            f"; scim2-server's own CPU {_cpu(after):.1f} s: no client beats the naive script "
            f"by more than {naive['wall'] / _cpu(after):.1f}x against it here"
            if _cpu(after)
            else ""
        )
        out.append(
            f"| {_size(after['size'])} first sync, default config, scim2-server behind "
            f"{raw['latency_ms']:g} ms: ≥ 10x the naive script ({naive['wall']:.1f} s) "
            f"| {was} (sync.concurrency 4) | {after['wall']:.1f} s = **{ratio:.1f}x** "
            f"({_conc(after)}{bound}) | {_verdict(ratio >= 10)} |"
        )
    stub, stub_naive = _find(runs, "stub-first", "after"), _find(runs, "stub-first", "naive")
    if stub and stub_naive:
        ratio = _wall(stub_naive) / stub["wall"]
        sampled = stub_naive.get("extra", {}).get("sampled")
        out.append(
            f"| The same first sync against a target that costs nothing (the proxy answers "
            f"the POSTs): ≥ 10x the naive script ({_wall(stub_naive):.1f} s"
            f"{f', extrapolated from {sampled}' if sampled else ''}) | – "
            f"| {stub['wall']:.1f} s = **{ratio:.1f}x** ({_conc(stub)}) "
            f"| {_verdict(ratio >= 10)} |"
        )
    quiet_a = _find(runs, "page20-quiet", "after")
    quiet_b = _find(runs, "page20-quiet", "before")
    if quiet_a:
        goal = BEFORE_PAGE20_QUIET / 3
        was = f"{quiet_b['wall']:.1f} s (measured here); {BEFORE_PAGE20_QUIET} s in RESULTS.md"
        bound = f"; scim2-server's own CPU {_cpu(quiet_a):.1f} s" if _cpu(quiet_a) else ""
        out.append(
            f"| Quiet night at {_size(quiet_a['size'])}, maxResults 20: ≤ 1/3 of "
            f"{BEFORE_PAGE20_QUIET} s (≤ {goal:.1f} s) "
            f"| {was if quiet_b else '–'} | {quiet_a['wall']:.1f} s "
            f"({quiet_a['scim_list']} list calls, {_conc(quiet_a)}{bound}) "
            f"| {_verdict(quiet_a['wall'] <= goal)} |"
        )
    stub_a = _find(runs, "page20-quiet-stub", "after")
    stub_b = _find(runs, "page20-quiet-stub", "before")
    if stub_a and stub_b:
        out.append(
            f"| The same quiet night, the pages answered by the proxy (from what scim2-server "
            f"had just returned): ≤ 1/3 of before | {stub_b['wall']:.1f} s "
            f"({stub_b['scim_list']} list calls, one after another) | {stub_a['wall']:.1f} s "
            f"= {stub_a['wall'] / stub_b['wall']:.2f} of before ({stub_a['scim_list']} list "
            f"calls, {_conc(stub_a)}) | {_verdict(stub_a['wall'] <= stub_b['wall'] / 3)} |"
        )
    rate_a, rate_b = _find(runs, "rate", "after"), _find(runs, "rate", "before")
    if rate_a:
        budget = _budget(rate_a) or 0.0
        share = rate_a["throttled"] / rate_a["scim_writes"] if rate_a["scim_writes"] else 1.0
        ok = budget >= 0.9 and rate_a["counts"].get("failed") == 0 and share < 0.05
        out.append(
            f"| Rate-limited target ({rate_a['extra'].get('cap')} writes/s, 429 + Retry-After): "
            f"≥ 90% of the budget, 0 failed, < 5% answered 429 "
            f"| {_rate_text(rate_b)} (sync.concurrency 8) | {_rate_text(rate_a)} "
            f"({_conc(rate_a)}) | {_verdict(ok)} |"
        )
    big = [r for r in runs if r["tool"] == "after" and r["size"] >= 50_000]
    if big:
        rss = max(r["max_rss_mb"] for r in big)
        cpu = max(r["map_plan_cpu"] or 0.0 for r in big)
        out.append(
            f"| {_size(big[0]['size'])}: peak RSS < 300 MB, map+plan < 2 s CPU "
            f"| 226 MB, 1.60 s (RESULTS.md) | {rss:.0f} MB, {cpu:.2f} s "
            f"| {_verdict(rss < 300 and cpu < 2)} |"
        )
    else:
        out.append(
            "| 50k: peak RSS < 300 MB, map+plan < 2 s CPU | 226 MB, 1.60 s (RESULTS.md) "
            "| not measured in this run | – |"
        )
    return out


def request_rows(raw: dict[str, Any]) -> list[str]:
    """No extra requests: quiet nights and writes per created user."""
    runs: list[Run] = raw["runs"]
    out = [
        "| run | HiBob | SCIM list (expected) | SCIM writes | created | writes per created |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        if run["tool"] == "naive":
            continue
        first = _find(
            runs,
            "first" if "quiet" not in run["name"] else run["name"].replace("quiet", "first"),
            run["tool"],
            run["size"],
        )
        created = run["counts"].get("create", 0)
        users = (first or {}).get("counts", {}).get("create") if "quiet" in run["name"] else 0
        page = 20 if run["name"].startswith("page20") else 1000
        if run["name"].endswith("-stub") and "quiet" in run["name"]:
            first = _find(runs, "page20-first", run["tool"], run["size"])
            users = (first or {}).get("counts", {}).get("create")
        expected = max(1, math.ceil(users / page)) if users else 1
        per = f"{run['scim_writes'] / created:.2f}" if created and not run["throttled"] else "–"
        out.append(
            f"| {run['size']:,} {run['name']} ({run['tool']}) | {run['hibob']} "
            f"| {run['scim_list']} ({expected}) | {run['scim_writes']:,} | {created:,} | {per} |"
        )
    return out


def run_rows(raw: dict[str, Any]) -> list[str]:
    out = [
        "| N | run | code | wall s | SCIM writes | 429 | SCIM server busy | scim2-server CPU s "
        "| peak RSS MB | run CPU s | concurrency | exit |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for run in raw["runs"]:
        busy = run["server_busy"]
        share = f"{busy:.1f} s ({busy / run['wall']:.0%})" if run["wall"] else "–"
        out.append(
            f"| {run['size']:,} | {run['name']} | {run['tool']} | {run['wall']:,.1f} "
            f"| {run['scim_writes']:,} | {run['throttled']} | {share} | {_cpu(run):.1f} "
            f"| {run['max_rss_mb']:.0f} "
            f"| {run['cpu']:.1f} | {_conc(run)} | {run['exit_code']} |"
        )
    return out


def render(raw: dict[str, Any]) -> str:
    lines = [
        BEGIN,
        "## Issue 13: adaptive concurrency and parallel paging, before and after",
        "",
        f"- **Date**: {raw['date']}; **command**: `nice -n 10 .venv/bin/python "
        f"{raw['command']}`{'' if raw['complete'] else ' (**interrupted**)'}; "
        f"{raw['minutes']} min",
        f"- **Code**: after = `hibob_sync/` at {raw['after']} (default config: sync.concurrency "
        f"32 is a ceiling, the limiter adapts below it), before = at {raw['before']} (the code "
        "of the run above: fixed concurrency, sequential paging); both snapshots, each "
        "through the real CLI in a child process",
        f"- **Setting**: as above, {raw['latency_ms']:g} ms added to every request, "
        f"{raw['cpus']} cores shared by the servers, the proxies and the sync",
        "",
        *goal_rows(raw),
        "",
        "The controller's trace in the 10k first sync (the limit over time, from the run's "
        "`-vv` log):",
        "",
        "![concurrency limit over time, 10k first sync](concurrency-10k.svg)",
        "",
        "No extra requests (quiet nights: 2 HiBob calls, ceil(users/page) list calls, 0 "
        "writes; one write per created user):",
        "",
        *request_rows(raw),
        "",
        "Every run:",
        "",
        *run_rows(raw),
        END,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else HERE / "GOALS.json"
    target = Path(argv[1]) if len(argv) > 1 else HERE / "RESULTS.md"
    block = render(json.loads(source.read_text(encoding="utf-8")))
    text = target.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block.rstrip("\n") + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
