"""The package's shape holds: imports form a tree, ``import gpuaug`` stays light.

Every import statement in ``gpuaug/`` counts, module-level or inside a function (a
lazy import is still a dependency), so the demo, the command line and the
benchmarks cannot grow back into a circle.  Only a script's entry block
(``if __name__ == "__main__":``) is left out: it runs as a separate module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import gpuaug

PACKAGE = Path(gpuaug.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(name: str, known: set[str]) -> str | None:
    """The gpuaug module an imported name belongs to (a module, or its package)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _is_main_guard(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def _imports(tree: ast.AST):
    """The import statements of a module, its ``__main__`` block excepted."""
    for node in ast.iter_child_nodes(tree):
        if _is_main_guard(node):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                # `from . import preview` names a module; `from .x import y` a name in x.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                           for alias in node.names]
            for target in targets:
                module = _resolve(target, known) if target.startswith("gpuaug") else None
                if module and module != name:
                    graph[name].add(module)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_sees_known_edges():
    """The checker itself: edges that exist are found, lazy imports included."""
    graph = import_graph()
    assert "gpuaug.generator" in graph["gpuaug"]
    assert "gpuaug.demo" in graph["gpuaug.cli.main"]  # imported inside cmd_demo
    assert "gpuaug.backends.interface" in graph["gpuaug.backends.cuda.variants"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_imports_form_no_circle():
    cycle = _cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_reference_backend_does_not_depend_on_the_cuda_twin():
    graph = import_graph()
    for name, deps in graph.items():
        if name.startswith("gpuaug.backends.reference"):
            assert not any(d.startswith("gpuaug.backends.cuda") for d in deps), (name, deps)


def test_the_demo_runs_as_a_module_too():
    for argv in (["-m", "gpuaug", "demo", "--help"], ["-m", "gpuaug.demo", "--help"]):
        done = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                              timeout=120, cwd=PACKAGE.parent)
        assert done.returncode == 0 and "usage: gpuaug demo" in done.stdout, done.stderr


def test_import_gpuaug_loads_neither_pillow_nor_the_iterators():
    code = ("import sys, gpuaug; print(sorted(m for m in ('PIL', 'gpuaug.iterators', "
            "'gpuaug.sources', 'cupy', 'nvidia.dali') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_license_and_the_type_hints_ship():
    """pyproject says Apache-2.0 and the package is typed: the wheel carries both files."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    root = PACKAGE.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    assert "LICENSE" in project["project"]["license-files"]
    assert "Apache License" in (root / "LICENSE").read_text()[:200]
    assert (PACKAGE / "py.typed").exists()
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["gpuaug"]
