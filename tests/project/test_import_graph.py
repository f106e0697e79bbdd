"""The modules of `aesthetics/` import one way: no import cycles.

Every `import` / `from ... import` statement counts, at module level and
inside functions (a lazy import does not make a cycle go away, it only hides
it). `from pkg import name` points at the submodule `pkg.name` when there is
one, else at `pkg` itself; relative imports are resolved; imports under
`if TYPE_CHECKING:` are skipped (they never run).

A package's `__init__` importing one of its own submodules *inside a
function* (a lazy facade such as `aesthetics.load` or a module
`__getattr__`) is not an edge: the package is fully initialised before any
of its submodules can import names from it. At the top of an `__init__` it
is an edge, so a submodule importing names back from such a package is a
cycle, as it is at import time.

A cycle is a strongly connected component of more than one module.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "aesthetics"


def module_names() -> dict:
    """{dotted module name: file} for every module of the package."""
    names = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree):
    """(import node, inside a function?) for every import that can run."""
    functions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
    todo = [(tree, False)]
    while todo:
        node, in_function = todo.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                todo.extend((n, in_function) for n in child.orelse)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            todo.append((child, in_function or isinstance(child, functions)))


def imports_of(name: str, path: Path, modules) -> set:
    """The package modules `name` imports (anywhere in the file)."""
    is_package = path.name == "__init__.py"
    found = set()

    def add_edge(target):
        # `import a.b.c` of a name that is not a module (a typo, an attribute):
        # the nearest enclosing module
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    def add_unless_own_submodule(target):
        if not target.startswith(name + "."):
            add_edge(target)

    for node, in_function in _import_nodes(ast.parse(path.read_text(), str(path))):
        if is_package and in_function:
            add = add_unless_own_submodule
        else:
            add = add_edge
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "aesthetics" or alias.name.startswith("aesthetics."):
                    add(alias.name)
            continue
        if node.level:
            package = name if is_package else name.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module or ""
        if base != "aesthetics" and not base.startswith("aesthetics."):
            continue
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            add(sub if sub in modules else base)
    return found


def import_graph() -> dict:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan),
    each a sorted tuple, the list sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):  # iterative, to stay clear of the recursion limit
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == node:
                            break
                    if len(component) > 1:
                        out.append(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def _describe(component, graph) -> str:
    members = set(component)
    edges = [f"    {a} -> {b}" for a in component for b in sorted(graph[a]) if b in members]
    return f"  {len(component)} modules: {', '.join(component)}\n" + "\n".join(edges)


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    # top-level, `from pkg import submodule`, in-function and relative imports
    assert "aesthetics.errors" in graph["aesthetics.api"]
    assert "aesthetics.zoo" in graph["aesthetics.cli.predict"]
    assert "aesthetics.data.images" in graph["aesthetics.api"]
    assert all(name.startswith("aesthetics") for edges in graph.values() for name in edges)


def test_cycle_finder_on_a_toy_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [("a", "b", "c")]


def test_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles (strongly connected components):\n" + "\n".join(
        _describe(c, graph) for c in found)


