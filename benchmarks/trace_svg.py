"""Draw the limiter's trace (concurrency limit over time) as a small SVG, with no dependency.

    python benchmarks/trace_svg.py GOALS.json OUT.svg   # the first run with a trace

A step line: the limit holds until the controller changes it. The trace comes from the
`-vv` log of a run ("concurrency limit N at Ts (reason)"), times from the SCIM client's
start; the run's end closes the last step.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

Point = tuple[float, int, float | None, str]  # (seconds, limit, pace, reason)

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 34, 40


def _ticks(top: float, count: int = 6) -> list[float]:
    for step in (1, 2, 4, 5, 8, 10, 20, 25, 50, 100):
        if top / step <= count:
            return [step * i for i in range(int(top // step) + 1)]
    return [0.0, top]


def write_svg(
    trace: Sequence[Point], out: Path, *, end: float | None = None, title: str | None = None
) -> None:
    """The step chart of `trace` to `out`; `end` is when the run ended (default: last point)."""
    points = sorted(trace)
    last = end if end is not None else max(p[0] for p in points) * 1.02 + 0.1
    ceiling = max(p[1] for p in points)
    y_top = max(4, ceiling + (4 - ceiling % 4 if ceiling % 4 else 0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + plot_w * t / last

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / y_top)

    path = [f"M{x(points[0][0]):.1f},{y(points[0][1]):.1f}"]
    for t_next, limit_next, _, _ in points[1:]:
        path.append(f"H{x(t_next):.1f}V{y(limit_next):.1f}")
    path.append(f"H{x(last):.1f}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold">'
        f"{escape(title or 'Concurrency limit over time')}</text>",
    ]
    for value in _ticks(y_top, 8):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:g}</text>'
        )
    for value in _ticks(last, 10):
        parts.append(
            f'<text x="{x(value):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{value:g}</text>"
        )
    parts += [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333"/>',
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{y(0):.1f}" stroke="#333"/>',
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
        "seconds since the SCIM client started</text>",
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">requests in flight (limit)</text>',
        f'<path d="{" ".join(path)}" fill="none" stroke="#1f6feb" stroke-width="2"/>',
        "</svg>",
    ]
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")


def main(argv: Sequence[str]) -> int:
    raw = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    run = next(r for r in raw["runs"] if r.get("trace"))
    trace = [(float(t), int(limit), pace, reason) for t, limit, pace, reason in run["trace"]]
    write_svg(trace, Path(argv[1]), end=run["extra"].get("scim_seconds"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
