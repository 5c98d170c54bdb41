"""The layers of the README's architecture table, held against the code's imports.

Each package imports only the layers above it in the table; the face
(``__init__.py`` and the documented entry modules beside it) may import any.
Function-level (lazy) imports count like the others.
"""

from __future__ import annotations

import ast
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
    return sorted(t for t in imported if (other := layer_of(t, layers)) is not None
                  and layers.index(other) > layers.index(layer))


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


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_layer_imports_only_the_layers_above_it(path: Path) -> None:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found = upward(parts[1], imports_in(path.read_text(encoding="utf-8"), list(parts[:-1])))
    assert not found, f"{path.relative_to(ROOT)} imports from a layer below it in the README's table: {found}"


def test_the_check_sees_a_lazy_upward_import() -> None:
    """The rule can fail: a core module importing the runner inside a function is caught."""
    imported = imports_in("def f():\n    from ..runner import cli\n", ["klikit_harness", "core"])
    assert upward("core", imported) == ["klikit_harness.runner", "klikit_harness.runner.cli"]
    assert upward("runner", imported) == []
