"""The package's layers, read from the source: the arrows point down and nothing goes round.

README's Development section draws the same picture; each folder's ``__init__`` says what it
may import. Only module-level imports count: a function-local import is how a command defers
a slow import, and it cannot make a circle at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hibob_sync"

# folder -> prefixes its modules must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "scim": (
        "hibob_sync.core",
        "hibob_sync.sync",
        "hibob_sync.cli",
        "hibob_sync.notify",
        "hibob_sync.demo",
        "hibob_sync.hibob",
        "click",
    ),
    "hibob": (
        "hibob_sync.core",
        "hibob_sync.sync",
        "hibob_sync.cli",
        "hibob_sync.notify",
        "hibob_sync.demo",
        "hibob_sync.scim",
        "click",
    ),
    "core": (
        "hibob_sync.sync",
        "hibob_sync.cli",
        "hibob_sync.notify",
        "hibob_sync.demo",
        "hibob_sync.http",
        "hibob_sync.hibob.client",
        "hibob_sync.scim.client",
        "hibob_sync.scim.writes",
        "hibob_sync.scim.batch",
        "hibob_sync.scim.paging",
        "click",
        "requests",
    ),
    "config": (
        "hibob_sync.core",
        "hibob_sync.sync",
        "hibob_sync.cli",
        "hibob_sync.notify",
        "hibob_sync.demo",
        "hibob_sync.http",
        "hibob_sync.hibob.client",
        "hibob_sync.scim.client",
        "click",
        "requests",
    ),
    "notify": (
        "hibob_sync.sync",
        "hibob_sync.cli",
        "hibob_sync.demo",
        "hibob_sync.scim",
        "hibob_sync.hibob",
        "click",
    ),
    "sync": ("hibob_sync.cli", "hibob_sync.demo", "click"),
}
ORCHESTRATOR = "hibob_sync.sync.run"
MAY_IMPORT_ORCHESTRATOR = ("hibob_sync.cli", "hibob_sync.demo")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` imports are not run
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_each_folder_imports_only_the_layers_below_it(folder: str) -> None:
    wrong = sorted(
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if _matches(module, f"hibob_sync.{folder}")
        for name in _imports(path, top_level_only=False)
        if any(_matches(name, prefix) for prefix in FORBIDDEN[folder])
        and not _matches(name, f"hibob_sync.{folder}")
    )
    assert wrong == []


def test_only_the_cli_and_the_demo_import_the_orchestrator() -> None:
    importers = sorted(
        module
        for module, path in MODULES.items()
        if module != ORCHESTRATOR
        and any(_matches(name, ORCHESTRATOR) for name in _imports(path, top_level_only=False))
    )
    assert importers and all(
        any(_matches(module, allowed) for allowed in MAY_IMPORT_ORCHESTRATOR)
        for module in importers
    ), importers


def test_no_import_circle_at_import_time() -> None:
    graph = {
        module: {
            target
            for name in _imports(path, top_level_only=True)
            for target in (name, name.rpartition(".")[0])
            if target in MODULES and not _matches(module, target)
        }
        for module, path in MODULES.items()
    }
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            raise AssertionError(" -> ".join([*trail[trail.index(module) :], module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_every_folder_says_what_it_may_import() -> None:
    silent = [
        str(init.relative_to(PACKAGE))
        for init in sorted(PACKAGE.glob("*/__init__.py"))
        if not (ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or "").strip()
    ]
    assert silent == []


def test_no_module_over_400_lines() -> None:
    long = sorted(
        f"{module}: {n}"
        for module, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    )
    assert long == []
