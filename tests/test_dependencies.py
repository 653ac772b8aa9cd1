"""The dependency rules (pyproject.toml [tool.importlinter]) hold, and function_app.py imports only
what it composes. A shortcut between apps fails here instead of surviving review."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.processes import ROOT


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_function_app_imports_only_auth_and_the_blueprints() -> None:
    tree = ast.parse((ROOT / "function_app.py").read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {"__future__", "importlib", "logging", "os", "azure", "auth"}, imported
    from function_app import BLUEPRINTS

    assert all((ROOT / name / "__init__.py").exists() for name in BLUEPRINTS)
