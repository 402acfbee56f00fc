"""The host's modules import one another without a cycle: a cycle is two concepts tangled into one, and
a function-local import that dodges it at run time hides it only from Python, not from the reader."""
import ast

from pbgrade.paths import ROOT

PACKAGE = ROOT / "host" / "pbgrade"


def imports(path):
    """The package's modules a module imports, anywhere in it (function-local imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update([node.module] if node.module else [alias.name for alias in node.names])
    return {name.split(".")[0] for name in names}


def find_cycle(graph):
    """One cycle of graph (module -> modules it imports) as [a, b, ..., a], or None."""
    done, path = set(), []

    def visit(module):
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        path.append(module)
        for name in sorted(graph.get(module, ())):
            cycle = visit(name)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return None


def test_the_cycle_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_host_modules():
    graph = {path.stem: imports(path) for path in PACKAGE.glob("*.py")}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
