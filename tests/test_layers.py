"""The layers in the folders hold: apps above orchestration above the core, ml/ plain Python,
and only the warehouse package knows which engine holds the warehouse (import-linter's
contracts in pyproject.toml, and a look at the code for branches on the target)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE_PACKAGE = ROOT / "retail_intel" / "warehouse"


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def _branches_on_the_target(path: Path) -> list[str]:
    """Comparisons such as ``settings.target == "duckdb"`` or ``target in ("postgres", ...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        names = {operand.attr for operand in operands if isinstance(operand, ast.Attribute)}
        names |= {operand.id for operand in operands if isinstance(operand, ast.Name)}
        literals = {
            constant.value
            for operand in operands
            for constant in ast.walk(operand)
            if isinstance(constant, ast.Constant) and isinstance(constant.value, str)
        }
        if "dagster_storage" in names:
            continue  # the engine of Dagster's own run and event storage, not the warehouse's
        if ("target" in names and literals) or literals & {"duckdb", "postgres"}:
            found.append(f"{path}:{node.lineno}")
    return found


def test_nothing_outside_the_warehouse_package_branches_on_the_engine():
    sources = [
        path
        for package in ("retail_intel", "orchestration", "apps", "ml")
        for path in sorted((ROOT / package).rglob("*.py"))
        if WAREHOUSE_PACKAGE not in path.parents
    ]
    assert sources
    assert [branch for path in sources for branch in _branches_on_the_target(path)] == []


def test_the_branch_finder_finds_a_branch(tmp_path):
    source = tmp_path / "example.py"
    source.write_text('if settings.target == "duckdb":\n    pass\nif kind in ("postgres",):\n    pass\n')
    assert len(_branches_on_the_target(source)) == 2
