"""The package's import graph, read from the source with ast: no cycle anywhere in seg_desktop (counting imports
inside functions too, since a lazy import still ties two modules together; only `if TYPE_CHECKING:` imports,
which never run, are left out), and one import style (relative imports inside the package)."""

from __future__ import annotations

import ast
from pathlib import Path

import seg_desktop

ROOT = Path(seg_desktop.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_nodes(tree: ast.AST):
    """Every node of `tree` except those under an `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in (child, *runtime_nodes(child)))
            continue
        yield node
        yield from runtime_nodes(node)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The seg_desktop modules `path` imports (a `from package import name` counts the submodule when name is
    one, else the package)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    files = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p) for p in files}
    return {module_name(p): imports(p, modules) for p in files}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in edges:
        if v not in index:
            visit(v)
    return groups


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_ml_train_and_remote_are_found_and_do_not_import_each_other():
    edges = graph()
    assert "seg_desktop.ml.train" in edges["seg_desktop.ml.remote"]  # the child's lazy import is counted
    assert "seg_desktop.ml.remote" not in edges["seg_desktop.ml.train"]
    assert "seg_desktop.ml.errors" in edges["seg_desktop.ml.train"]


def test_no_import_cycle_in_the_package():
    assert cycles(graph()) == []


def test_one_import_style_relative_inside_the_package():
    absolute = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("seg_desktop"):
                absolute.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
            if isinstance(node, ast.Import) and any(a.name.startswith("seg_desktop") for a in node.names):
                absolute.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert absolute == []
