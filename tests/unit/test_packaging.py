"""Packaging metadata: every third-party module the runtime imports is a declared dependency,
and the license is declared the way current packaging tools read it (an SPDX expression)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("actors", "supervisors", "config", "state", "exports", "runtime")


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _module_level_imports(path: Path) -> set[str]:
    """Top-level names imported when the module is imported (not lazily in functions, not
    under `if TYPE_CHECKING`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_imported_third_party_module_is_a_declared_dependency() -> None:
    imported: set[str] = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            imported |= _module_level_imports(path)
    third_party = imported - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}
    declared = {
        re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")
        for requirement in _pyproject()["project"]["dependencies"]
    }
    providers = importlib.metadata.packages_distributions()
    undeclared = {
        module: providers.get(module, [module])
        for module in third_party
        if not {d.lower().replace("_", "-") for d in providers.get(module, [module])} & declared
    }
    assert undeclared == {}, "declare these in [project] dependencies"


def test_the_license_is_apache_2_0_as_an_spdx_expression_with_its_text() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0"
    assert "LICENSE" in project["license-files"]
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    requires = _pyproject()["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(7[7-9]|[89]\d|\d{3,})(\.\d+)*", r) for r in requires)
