"""The layers between the packages (docs/architecture.md), checked on the import statements.

    matrix, reconciler      leaves: the data model; the reference reconciler runs on the node
    node                    talking to a node (may import matrix)
    vm, chaos               build on node (chaos -> vm one way: it attaches to the session's VM)
    harness                 grid, plugin, soak, report, dev: everything below
    ci                      the top

A lower package never imports a higher one, no two packages import each other, no module-level
import cycle inside a package, and no project import sits inside a function unless its line says
`# optional: why` (a real optional dependency). Pure: reads the sources with `ast`, runs nothing.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = {"matrix": 0, "reconciler": 0, "node": 1, "vm": 2, "chaos": 2, "harness": 3, "ci": 4}
SIDEWAYS = {("chaos", "vm")}                 # allowed between packages of one layer, this way only
CONTROLLER = {"matrix", "node", "vm", "chaos", "harness", "ci"}   # the lazy-import rule's scope
OPTIONAL = "# optional:"


@dataclass(frozen=True)
class Import:
    path: str            # file, relative to the root
    line: int
    module: str          # the module it names ("vm.node", "node.api", "harness")
    in_function: str     # the enclosing function, "" at module level
    optional: bool       # its line carries "# optional:"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def sources(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages (ci/gate included)."""
    out = {}
    for pkg in LAYER:
        for p in sorted((root / pkg).rglob("*.py")):
            rel = p.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join(parts)] = p
        for p in sorted((root / pkg).glob("*")):       # scripts without .py (ci/gate)
            if p.is_file() and not p.suffix and _python_script(p):
                out[f"{pkg}.{p.name}"] = p
    return out


def _python_script(p: Path) -> bool:
    head = p.read_bytes()[:64]
    return head.startswith(b"#!") and b"python" in head.split(b"\n")[0]


def _package_of(module: str, path: Path) -> str:
    """The package a module's relative imports are resolved against."""
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _resolve(node: ast.ImportFrom | ast.Import, module: str, path: Path, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        pkg = _package_of(module, path).split(".")
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([base] if base else []))
    # `from pkg import sub` names the submodule when there is one, else the package itself
    subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
    return subs + ([base] if len(subs) < len(node.names) else [])


def _import_nodes(node: ast.AST, function: str = ""):
    """(import statement, the outermost function it sits in or "")."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, function
        inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else ""
        yield from _import_nodes(child, function or inner)


@functools.cache
def imports(root: Path) -> tuple[Import, ...]:
    """Every import of a project module in the project's packages."""
    mods = sources(root)
    known = set(mods)
    out = []
    for module, path in mods.items():
        text = path.read_text()
        lines = text.splitlines()
        for n, function in _import_nodes(ast.parse(text, str(path))):
            for target in _resolve(n, module, path, known):
                if target.split(".")[0] in LAYER:
                    out.append(Import(str(path.relative_to(root)), n.lineno, target, function,
                                      OPTIONAL in lines[n.lineno - 1]))
    return tuple(out)


def _pkg(path: str) -> str:
    return Path(path).parts[0]


def layer_problems(found: tuple[Import, ...]) -> list[str]:
    """A lower package importing a higher one, or sideways where that is not allowed."""
    out = []
    for i in found:
        a, b = _pkg(i.path), i.module.split(".")[0]
        if a == b or (a, b) in SIDEWAYS:
            continue
        if LAYER[b] > LAYER[a]:
            out.append(f"{i.where}: {a} imports {i.module}: {b} is a higher layer than {a}")
        elif LAYER[b] == LAYER[a]:
            out.append(f"{i.where}: {a} imports {i.module}: {a} and {b} are one layer, and only "
                       f"{', '.join(f'{x} -> {y}' for x, y in sorted(SIDEWAYS))} is allowed there")
    return out


def mutual_problems(found: tuple[Import, ...]) -> list[str]:
    """Two packages importing each other (each direction named once, by its first import)."""
    first: dict[tuple[str, str], Import] = {}
    for i in found:
        edge = (_pkg(i.path), i.module.split(".")[0])
        if edge[0] != edge[1]:
            first.setdefault(edge, i)
    return [f"{i.where}: {a} imports {b} and {first[b, a].where}: {b} imports {a}"
            for (a, b), i in sorted(first.items()) if (b, a) in first and a < b]


def lazy_problems(found: tuple[Import, ...]) -> list[str]:
    return [f"{i.where}: {i.module} is imported inside {i.in_function}(): import it at the top, or "
            f"mark a real optional dependency with '{OPTIONAL} why' on that line"
            for i in found if i.in_function and not i.optional and _pkg(i.path) in CONTROLLER]


def cycle_problems(found: tuple[Import, ...]) -> list[str]:
    """Module-level import cycles inside one package, each named once with the lines that close it."""
    edges: dict[str, dict[str, Import]] = {}
    for i in found:
        src = ".".join(Path(i.path).with_suffix("").parts).removesuffix(".__init__")
        if not i.in_function and _pkg(i.path) == i.module.split(".")[0] and src != i.module:
            edges.setdefault(src, {}).setdefault(i.module, i)
    seen_cycles, out = set(), []

    def walk(start: str, mod: str, path: list[str]) -> None:
        for nxt, imp in edges.get(mod, {}).items():
            if nxt == start:
                cycle = path + [start]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    steps = [f"{m} ({edges[m][n].where})" for m, n in zip(cycle, cycle[1:])]
                    out.append("module cycle: " + " -> ".join(steps) + f" -> {start}")
            elif nxt not in path and nxt > start:       # each cycle from its smallest module
                walk(start, nxt, path + [nxt])

    for m in sorted(edges):
        walk(m, m, [m])
    return out


def check(root: Path = ROOT) -> list[str]:
    found = imports(root)
    return layer_problems(found) + mutual_problems(found) + lazy_problems(found) + cycle_problems(found)


@pytest.mark.parametrize("rule", [layer_problems, mutual_problems, lazy_problems, cycle_problems],
                         ids=["no package imports a higher one", "no two packages import each other",
                              "no project import inside a function", "no module cycle inside a package"])
def test_the_tree_keeps_its_layers(rule):
    problems = rule(imports(ROOT))
    assert not problems, "\n".join(problems)


def test_the_checker_sees_each_kind_of_problem(tmp_path):
    """A small tree with one of each: the check is not vacuous."""
    files = {
        "node/__init__.py": "",
        "node/api.py": "import harness.plugin\n",                         # lower imports higher
        "harness/__init__.py": "",
        "harness/plugin.py": "from node import api\n\ndef f():\n    from vm import x\n",   # + lazy
        "harness/a.py": "from . import b\n",
        "harness/b.py": "from .a import thing\n",                          # module cycle a <-> b
        "vm/__init__.py": "def launch():\n    import chaos  # optional: demo\n",
        "chaos/__init__.py": "import vm\n",                                  # allowed sideways
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    problems = check(tmp_path)
    assert "node/api.py:1: node imports harness.plugin: harness is a higher layer than node" in problems
    assert "harness/plugin.py:1: harness imports node and node/api.py:1: node imports harness" in problems
    assert any(p.startswith("harness/plugin.py:4: vm is imported inside f()") for p in problems)
    assert any(p.startswith("vm/__init__.py:2: vm imports chaos: vm and chaos are one layer") for p in problems)
    assert "chaos/__init__.py:1: chaos imports vm and vm/__init__.py:2: vm imports chaos" in problems
    assert "module cycle: harness.a (harness/a.py:1) -> harness.b (harness/b.py:1) -> harness.a" in problems
    assert len(problems) == 6          # chaos -> vm alone is allowed; `# optional:` excuses the lazy import
