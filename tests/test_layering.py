"""The layering DESIGN.md asks for, read from the source with ``ast`` (nothing is imported).

Every import counts for the rules about what may import what (one inside a function still runs)
and for cycles between modules; the package cycle check reads module-level imports only, the ones
that run when a module loads.
"""

from __future__ import annotations

import ast
import itertools
from functools import cache
from pathlib import Path

import pytest

from text2sign.families.registry import BUILTIN_FAMILIES

SRC = Path(__file__).resolve().parents[1] / "src" / "text2sign"
PACKAGES = (
    "pose",
    "data",
    "text",
    "models",
    "objectives",
    "schedulers",
    "pipelines",
    "families",
    "training",
    "evaluation",
    "rendering",
    "server",
    "video",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


@cache
def imports(module: str, module_level: bool = False) -> tuple[tuple[str, str | None], ...]:
    """(module, name) of every ``text2sign`` import of `module`; `name` is None for ``import x``.
    `module_level`: only the imports that run when the module loads (not those in functions,
    classes or ``if`` blocks)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    nodes = tree.body if module_level else ast.walk(tree)
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.module, alias.name) for alias in node.names]
    return tuple((m, n) for m, n in found if m == "text2sign" or m.startswith("text2sign."))


def imported_modules(module: str, module_level: bool = False) -> set[str]:
    """The modules `module` imports (``from pkg import submodule`` names the submodule)."""
    out = set()
    for target, name in imports(module, module_level):
        out.add(f"{target}.{name}" if f"{target}.{name}" in MODULES else target)
    return out


def package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in PACKAGES else None


def modules_of(pkg: str) -> list[str]:
    return [m for m in MODULES if package(m) == pkg]


def under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize(
    "pkg, forbidden",
    [
        # Inference never reaches into training: no objectives, no torch datasets, no loop.
        ("pipelines", ("text2sign.objectives", "text2sign.training", "text2sign.data.torch_data")),
        # A recognizer scores; training one lives in training/.
        ("evaluation", ("text2sign.training",)),
        # Text encoders are below the networks that read them.
        ("text", ("text2sign.models",)),
        # Networks only: no data.
        ("models", ("text2sign.data",)),
    ],
)
def test_a_layer_does_not_import_what_sits_above_it(pkg, forbidden):
    bad = sorted(
        f"{module} imports {target}"
        for module in modules_of(pkg)
        for target in imported_modules(module)
        if any(under(target, prefix) for prefix in forbidden)
    )
    assert not bad, "\n".join(bad)


FAMILY_MODULES = set(BUILTIN_FAMILIES.values())


def test_families_are_registrations_that_share_nothing_with_each_other():
    """What two families share lives in the layer it belongs to (data, models, pipelines,
    evaluation) or in a families/ module that registers no family: a family's module never
    imports another family's module, nor anyone a family's private name."""
    assert FAMILY_MODULES <= set(MODULES), "BUILTIN_FAMILIES names a module that is not in src/text2sign"
    bad = []
    for module in modules_of("families"):
        for target, name in imports(module):
            if target in FAMILY_MODULES and target != module and module in FAMILY_MODULES:
                bad.append(f"family module {module} imports family module {target}")
            if package(target) == "families" and target != module and name and name.startswith("_"):
                bad.append(f"{module} imports the private name {name} of {target}")
    assert not bad, "\n".join(bad)


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {pkg: set() for pkg in PACKAGES}
    for module in MODULES:
        source = package(module)
        if source is None:
            continue
        for target in imported_modules(module, module_level=True):
            if package(target) not in (None, source):
                graph[source].add(package(target))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    counter = itertools.count()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = next(counter)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_packages():
    graph = package_graph()
    found = cycles(graph)
    detail = [
        f"{module} -> {target}"
        for component in found
        for module in MODULES
        if package(module) in component
        for target in imported_modules(module, module_level=True)
        if package(target) in component and package(target) != package(module)
    ]
    assert not found, f"package cycles {found}:\n" + "\n".join(sorted(detail))


def test_no_module_imports_itself_back():
    """Not even through an import inside a function: a module that needs another's names at call
    time while that one needs it too is one module split in two (as pose/layout.py and the
    layouts of imported data were)."""
    found = cycles({module: imported_modules(module) & set(MODULES) - {module} for module in MODULES})
    assert not found, f"module cycles: {found}"


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
