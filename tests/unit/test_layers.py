"""The layers point one way: no import cycles, and the pure planner loads no HTTP library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "geminidb_patcher"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Module → the project modules it imports at module level or inside functions (not under TYPE_CHECKING)."""
    graph: dict[str, set[str]] = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        checked = {
            id(node)
            for guard in ast.walk(tree)
            if isinstance(guard, ast.If) and "TYPE_CHECKING" in ast.unparse(guard.test)
            for node in ast.walk(guard)
        }
        found = set()
        for node in ast.walk(tree):
            if id(node) in checked:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith(PACKAGE)}
        graph[module_name(path)] = {name for name in found if name != module_name(path)}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                found.append([*stack[stack.index(target) :], target])
            elif target in graph and target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_module_of_the_function_imports_itself_back_through_others() -> None:
    assert cycles(imports()) == []


def test_reconcile_does_not_import_the_huawei_adapter_or_the_entry_points() -> None:
    graph = imports()
    for module, targets in graph.items():
        if module.startswith(f"{PACKAGE}.reconcile"):
            outward = {t for t in targets if not t.startswith((f"{PACKAGE}.reconcile", f"{PACKAGE}.contract"))}
            assert outward <= {f"{PACKAGE}.errors", f"{PACKAGE}.ids"}, (module, outward)


def test_importing_the_planner_loads_no_http_library() -> None:
    code = (
        "import sys, geminidb_patcher.reconcile.plan, geminidb_patcher.reconcile.observe, "
        "geminidb_patcher.reconcile.act; "
        "print(sorted(m for m in ('requests', 'urllib3', 'http.client', 'aws_lambda_powertools') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same graph with each subpackage (reconcile, huawei, notify) as one node."""

    def node(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) > 2 else module

    folded: dict[str, set[str]] = {}
    for module, targets in graph.items():
        folded.setdefault(node(module), set()).update(node(t) for t in targets if node(t) != node(module))
    return folded


def test_no_package_imports_itself_back_through_another() -> None:
    assert cycles(packages(imports())) == []


def test_the_contract_imports_only_the_leaves_errors_and_ids() -> None:
    for module, targets in imports().items():
        if module.startswith(f"{PACKAGE}.contract"):
            outward = {t for t in targets if not t.startswith(f"{PACKAGE}.contract")}
            assert outward <= {f"{PACKAGE}.errors", f"{PACKAGE}.ids"}, (module, outward)


def test_nothing_imports_the_entry_points() -> None:
    for module, targets in imports().items():
        if not module.startswith(f"{PACKAGE}.entrypoints"):
            assert not {t for t in targets if t.startswith(f"{PACKAGE}.entrypoints")}, module


def test_the_package_root_holds_at_most_eight_modules_the_folders_read_as_the_layers() -> None:
    root = sorted(path.stem for path in (SRC / PACKAGE).glob("*.py"))
    assert len(root) <= 8, root
    folders = {path.name for path in (SRC / PACKAGE).iterdir() if (path / "__init__.py").exists()}
    assert folders == {"entrypoints", "run", "config", "contract", "reconcile", "huawei", "notify", "aws"}
