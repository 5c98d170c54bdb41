"""The layers of the README's architecture table, held against the code's imports.

Each package imports only the layers above it in the table; the face
(``__init__.py`` and the documented entry modules beside it) may import any.
Function-level (lazy) imports count like the others.
"""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "klikit_harness"
FACE = {"__init__", "__main__", "simulator", "fuzz_hooks"}


def layer_table() -> list[str]:
    """The packages of the README's layer table, top (imported by every other) first."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Architecture") : text.index("### Where each rule lives")]
    return re.findall(r"^\| \w+ \| `(\w+)/` \|", section, flags=re.M)


def imports_in(source: str, package: list[str]) -> set[str]:
    """Every klikit_harness module a source in ``package`` imports (relative or absolute, at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.startswith("klikit_harness"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("klikit_harness"))
    return found


def upward(layer: str, imported: set[str]) -> list[str]:
    """The imports that reach a layer below ``layer`` in the README's table."""
    layers = layer_table()
    return sorted(
        t for t in imported if (other := layer_of(t, layers)) is not None and layers.index(other) > layers.index(layer)
    )


def layer_of(dotted: str, layers: list[str]) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in layers else None


def test_the_table_names_every_package_and_every_module_sits_in_one() -> None:
    layers = layer_table()
    assert layers == ["contract", "core", "partner", "standin", "checking", "suites", "runner"], layers
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(layers), "every package is a layer of the table, and every layer a package"
    loose = {p.stem for p in PACKAGE.glob("*.py")}
    assert loose == FACE, f"modules outside the layers: {sorted(loose - FACE)}"


@pytest.mark.parametrize(
    "path", sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_a_layer_imports_only_the_layers_above_it(path: Path) -> None:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found = upward(parts[1], imports_in(path.read_text(encoding="utf-8"), list(parts[:-1])))
    assert not found, f"{path.relative_to(ROOT)} imports from a layer below it in the README's table: {found}"


def test_the_check_sees_a_lazy_upward_import() -> None:
    """The rule can fail: a core module importing the runner inside a function is caught."""
    imported = imports_in("def f():\n    from ..runner import cli\n", ["klikit_harness", "core"])
    assert upward("core", imported) == ["klikit_harness.runner", "klikit_harness.runner.cli"]
    assert upward("runner", imported) == []


def runtime_imports_in(source: str, package: list[str]) -> set[str]:
    """``imports_in``, less the imports under ``if TYPE_CHECKING:`` (never executed, so never a circle)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING"}:
            node.body = [ast.Pass()]
    return imports_in(ast.unparse(tree), package)


def circles(sources: dict[str, tuple[str, list[str]]]) -> list[str]:
    """The import circles among modules (dotted name → (source, package parts)); each as ``a → b → a``."""
    graph = {
        name: {t for t in runtime_imports_in(source, package) if t in sources and not name.startswith(t + ".")} - {name}
        for name, (source, package) in sources.items()
    }
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return [" → ".join(reversed(exc.args[1]))]
    return []


def modules_of(layer: str) -> dict[str, tuple[str, list[str]]]:
    found = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = (path.read_text(encoding="utf-8"), list(parts[:-1]))
    return found


@pytest.mark.parametrize("layer", ["contract", "core", "partner", "standin", "checking", "runner"])
def test_no_import_circle_inside_a_layer(layer: str) -> None:
    found = circles(modules_of(layer))
    assert not found, f"src/klikit_harness/{layer}/ imports in a circle (lazy imports count): {found}"


def test_the_circle_check_sees_a_lazy_circle_and_not_a_type_only_one() -> None:
    """The rule can fail: a module importing its importer inside a function is a circle; a type-only import is not."""
    lazy = {
        "klikit_harness.standin.a": ("from .b import B\n", ["klikit_harness", "standin"]),
        "klikit_harness.standin.b": ("def f():\n    from .a import A\n", ["klikit_harness", "standin"]),
    }
    assert circles(lazy) in (
        ["klikit_harness.standin.a → klikit_harness.standin.b → klikit_harness.standin.a"],
        ["klikit_harness.standin.b → klikit_harness.standin.a → klikit_harness.standin.b"],
    )
    typed = dict(lazy)
    typed["klikit_harness.standin.b"] = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n",
        ["klikit_harness", "standin"],
    )
    assert circles(typed) == []
