"""The dependency rules (pyproject.toml [tool.importlinter]) hold, the two top-level modules
(function_app.py, openapi_document.py) import only what they compose, and the blueprints use the
shared packages through their public names. A shortcut between apps, or into another package's
internals, fails here instead of surviving review."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT

SHARED = ("appsettings", "web", "auth", "outbound")
BLUEPRINTS = ("notification_api", "caller_app", "obo_proxy")


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in ``path``: ``import a.b`` gives ("a.b", [])."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 kept, 0 broken" in result.stdout


def test_function_app_imports_only_the_shared_packages_and_the_blueprints(app_settings: dict[str, str]) -> None:
    imported = {module.split(".")[0] for module, _ in imports_of(ROOT / "function_app.py")}
    assert imported <= {"__future__", "importlib", "logging", "azure", "appsettings", "auth", "openapi_document"}, (
        imported
    )
    from function_app import BLUEPRINTS as COMPOSED

    assert COMPOSED == BLUEPRINTS
    assert all((ROOT / name / "__init__.py").exists() for name in COMPOSED)


def test_the_openapi_assembly_sits_above_auth_and_web() -> None:
    """It reads the guards' declarations and the apps' settings: above ``auth/``, never below it."""
    imported = {module.split(".")[0] for module, _ in imports_of(ROOT / "openapi_document.py")}
    assert imported <= {"__future__", "copy", "json", "collections", "azure", "auth", "web"}, imported
    importers = [
        str(path.relative_to(ROOT))
        for package in (*SHARED, *BLUEPRINTS)
        for path in sorted((ROOT / package).rglob("*.py"))
        if any(module.split(".")[0] == "openapi_document" for module, _ in imports_of(path))
    ]
    assert importers == []


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_blueprints_use_only_the_public_names_of_the_shared_packages(blueprint: str) -> None:
    """``from auth import X`` with X in ``auth.__all__``; never ``auth.guards`` or a private name."""
    public = {package: set(importlib.import_module(package).__all__) for package in SHARED}
    shortcuts = [
        f"{path.relative_to(ROOT)}: {module} {names}"
        for path in sorted((ROOT / blueprint).rglob("*.py"))
        for module, names in imports_of(path)
        if module.split(".")[0] in SHARED and (module not in SHARED or not set(names) <= public[module])
    ]
    assert shortcuts == []


def test_every_public_name_exists_and_is_used_outside_its_package() -> None:
    """A shared package names what others import from it (apps, tools, tests), and nothing else: a
    public name nobody uses is dead weight for whoever copies the package."""
    sources = [
        path
        for path in ROOT.rglob("*.py")
        if not any(part.startswith(".") or part == "node_modules" for part in path.relative_to(ROOT).parts)
    ]
    for package in SHARED:
        public = set(importlib.import_module(package).__all__)
        assert all(hasattr(importlib.import_module(package), name) for name in public), package
        imported = {
            name
            for path in sources
            if path.relative_to(ROOT).parts[0] != package
            for module, names in imports_of(path)
            if module == package
            for name in names
        }
        assert public - imported == set(), package
