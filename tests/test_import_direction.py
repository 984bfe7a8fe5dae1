"""Dependencies point one way (docs/architecture.md): webapp -> training -> drive_agent -> simulator.

Every import statement counts, including those inside functions, so a cycle cannot hide behind a
function-local import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level names it must never import (its own layer and those below are allowed).
FORBIDDEN = {
    "simulator": {"drive_agent", "training", "webapp", "django", "celery", "tensorflow", "keras"},
    "drive_agent": {"training", "webapp", "django", "celery", "tensorflow", "keras"},
    "training": {"webapp", "django", "celery", "channels", "rest_framework"},
}


def imported_names(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for each absolute import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imported_names(path):
            if module.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    assert violations(package) == []


def test_the_check_sees_function_local_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from webapp.jobs.runner import execute_job\n    import django.conf\n")
    assert imported_names(source) == [(2, "webapp.jobs.runner"), (3, "django.conf")]
