"""The package's import structure, read from its source files: no import circle between
its modules, the layers import one way (ros -> training -> td3, evaluation -> env and
td3), and the sim node loads without torch."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "massage_td3_ros"


def _modules() -> dict[str, Path]:
    """Dotted name -> source file of every module and package of the package."""
    modules = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _import_nodes(body: list[ast.stmt], module_level: bool):
    """Import statements in ``body``; with ``module_level``, not those inside functions
    (those under ``if TYPE_CHECKING`` count: a circle of type hints is a circle too)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _import_nodes([child], module_level)
                elif isinstance(child, ast.excepthandler):
                    yield from _import_nodes(child.body, module_level)


def _targets(node: ast.stmt, module: str, is_package: bool, modules: dict) -> set[str]:
    """The package's modules an import statement names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
            base = ".".join(anchor + ([base] if base else []))
        # `from a import b`: the module a.b if there is one, else a itself
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                 for alias in node.names]
    found = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def import_graph(module_level: bool) -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[module] = set().union(*(_targets(node, module, is_package, modules)
                                      for node in _import_nodes(tree.body, module_level)))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_module_level_imports_only():
    graph = import_graph(module_level=True)
    assert "massage_td3_ros.training.learner" in graph["massage_td3_ros.training.session"]
    # agent_node imports the evaluation module inside a function only
    assert not any(target.startswith("massage_td3_ros.evaluation")
                   for target in graph["massage_td3_ros.ros.agent_node"])
    assert "massage_td3_ros.evaluation.evaluate" in import_graph(
        module_level=False)["massage_td3_ros.ros.agent_node"]


def test_no_import_circle_between_the_package_modules():
    cycle = find_cycle(import_graph(module_level=True))
    assert cycle is None, "import circle: " + " -> ".join(cycle)


# Subpackage -> subpackages it must never import (lazily in a function neither).
FORBIDDEN = {
    "td3": {"env", "training", "evaluation", "ros", "commands"},
    "env": {"td3", "training", "evaluation", "ros", "commands"},
    "training": {"evaluation", "ros", "commands"},
    "evaluation": {"training", "ros", "commands"},
}


def test_layers_import_one_way():
    def layer(module: str) -> str:
        return module.split(".")[1] if module.count(".") else ""
    wrong = sorted(f"{module} -> {target}"
                   for module, targets in import_graph(module_level=False).items()
                   for target in targets
                   if layer(target) in FORBIDDEN.get(layer(module), ()))
    assert not wrong, wrong


def test_the_sim_node_imports_no_torch():
    """A machine that only runs the simulation (or a bridge) needs no torch."""
    code = ("import sys, massage_td3_ros.ros.sim_node; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
