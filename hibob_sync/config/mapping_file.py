"""Edit a hand-written mapping.yaml in place, keeping its comments and layout.

`map set` changes one line; rewriting the whole file from the parsed mapping would drop
every comment an admin wrote ("# HR asked for this on 3 May"). The file's shape is small
and known (one `mapping:` block of `field: source` lines), so a line edit does the job
without a round-trip YAML library; the result is parsed back and compared, and where the
edit cannot be proven right the caller writes the file afresh instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

_KEY = re.compile(r"^(?P<indent>[ \t]+)(?P<name>[A-Za-z_]+)[ \t]*:(?P<rest>.*)$")
_COMMENT = re.compile(r"[ \t]#.*$")


def _value(sources: tuple[str, ...]) -> str:
    return sources[0] if len(sources) == 1 else "[" + ", ".join(sources) + "]"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _edit(lines: list[str], name: str, sources: tuple[str, ...] | None) -> list[str] | None:
    start = next((i for i, ln in enumerate(lines) if re.match(r"^mapping:[ \t]*(#.*)?$", ln)), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
        end += 1
    keys = [(i, m) for i in range(start + 1, end) if (m := _KEY.match(lines[i].rstrip("\n")))]
    indent = min((len(m["indent"]) for _, m in keys), default=2)
    keys = [(i, m) for i, m in keys if len(m["indent"]) == indent]
    found = next(((i, m) for i, m in keys if m["name"] == name), None)
    if found is None:
        if sources is None:
            return lines
        last = max((i for i in range(start + 1, end) if lines[i].strip()), default=start)
        new = f"{' ' * indent}{name}: {_value(sources)}\n"
        return [*lines[: last + 1], new, *lines[last + 1 :]]
    at, match = found
    below = at + 1  # block-list items (and their comments) belong to this key
    while below < end and (not lines[below].strip() or _indent(lines[below]) > indent):
        below += 1
    while below > at + 1 and not lines[below - 1].strip():
        below -= 1
    if sources is None:
        return [*lines[:at], *lines[below:]]
    comment = _COMMENT.search(match["rest"])
    tail = f"  {comment.group(0).strip()}" if comment else ""
    new = f"{match['indent']}{name}: {_value(sources)}{tail}\n"
    kept = [ln for ln in lines[at + 1 : below] if ln.strip().startswith("#")]
    return [*lines[:at], new, *kept, *lines[below:]]


def edited(
    text: str, old: Mapping[str, tuple[str, ...]], new: Mapping[str, tuple[str, ...]]
) -> str | None:
    """``text`` with the fields that differ between ``old`` and ``new`` changed; None if unsure."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for name in [*old, *(n for n in new if n not in old)]:
        if old.get(name) == new.get(name):
            continue
        result = _edit(lines, name, new.get(name))
        if result is None:
            return None
        lines = result
    out = "".join(lines)
    try:
        data = yaml.safe_load(out)
    except yaml.YAMLError:
        return None
    parsed = data.get("mapping") if isinstance(data, dict) else None
    if not isinstance(parsed, dict):
        return None
    as_tuples = {
        k: tuple(v) if isinstance(v, list) else (v,) for k, v in parsed.items() if v is not None
    }
    return out if as_tuples == dict(new) else None
