"""Write the `scope:` block of config.yaml for `hibob-sync scope`, keeping the rest as it is.

Only the top-level `scope:` block is rewritten (put back where it was, or appended); every
other line, comment and key stays byte for byte. The new text must load as a valid config
before it replaces the file, and it does so atomically: a temp file in the same folder with
the old file's mode, fsynced, then renamed over it, so a crash leaves the old file or the
new one, never half of either, and never a config others may write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from hibob_sync.config.admin_files import write_admin_file
from hibob_sync.config.scope import Scope
from hibob_sync.config.settings import load_settings
from hibob_sync.errors import ConfigError

_TOP_KEY = re.compile(r"^[^\s#]")


def render(scope: Scope) -> str:
    """The `scope:` block (empty when it says nothing the defaults do not)."""
    if scope.everyone and scope.out_of_scope == "deactivate":
        return ""
    lines = ["scope:                                       # who is synced (`hibob-sync scope`)"]
    for kind, rules in (("include", scope.include), ("exclude", scope.exclude)):
        if rules:
            lines.append(f"  {kind}:")
            lines += [f"    {field}: {_flow(values)}" for field, values in rules.items()]
    lines.append(f"  out_of_scope: {scope.out_of_scope}")
    return "\n".join(lines) + "\n"


def _flow(values: tuple[str, ...]) -> str:
    return str(yaml.safe_dump(list(values), default_flow_style=True, width=10_000)).strip()


def replaced(text: str, block: str) -> str:
    """``text`` with its top-level `scope:` block swapped for ``block`` (see module docstring)."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = next((i for i, line in enumerate(lines) if re.match(r"^scope\s*:", line)), None)
    if start is None:
        gap = "" if not lines or not lines[-1].strip() or not block else "\n"
        return "".join(lines) + gap + block
    end = start + 1
    while end < len(lines) and not _TOP_KEY.match(lines[end]):
        end += 1
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1  # blank lines and unindented comments before the next key belong to it
    return "".join([*lines[:start], block, *lines[end:]])


def save_scope(path: Path, scope: Scope) -> None:
    """Put ``scope`` in the config file at ``path`` (admin_files: atomic, owner, group and mode
    kept; refused, 78, if the new file would not load or not hold ``scope``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None

    def holds_scope(written: Path) -> None:  # never replace a config with a broken one
        if load_settings(written).scope != scope:
            raise ConfigError(f"{path}: the scope block could not be written as asked")

    write_admin_file(path, replaced(text, render(scope)), "config file", check=holds_scope)


def with_rule(scope: Scope, kind: str, field_id: str, values: tuple[str, ...] | None) -> Scope:
    """A copy with one include/exclude rule set to ``values`` (None: removed)."""
    rules: dict[str, Mapping[str, tuple[str, ...]]] = {
        "include": scope.include,
        "exclude": scope.exclude,
    }
    changed = {k: v for k, v in rules[kind].items() if k != field_id}
    if values is not None:
        changed[field_id] = values
    rules[kind] = changed
    return Scope(dict(rules["include"]), dict(rules["exclude"]), scope.out_of_scope)
