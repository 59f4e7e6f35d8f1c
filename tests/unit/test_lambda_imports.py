"""The Lambda code asset (functions/ and shared/, whole) never imports pydantic (cold start)
nor anything from infra/ (build and local tooling, not deployed), and holds nothing the
Lambdas do not import: tools live in infra/, fakes in tests/, so the bundle excludes no module."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.functions import DELIVERY, FUNCTIONS, SETTLEMENT

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("pydantic", "pydantic_core", "infra")


def _bundled_modules() -> list[str]:
    modules = []
    for package in ("functions", "shared"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules.append(".".join(parts))
    return modules


def _forbidden(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in FORBIDDEN)


# Imports the given modules one by one; prints which forbidden modules each one pulled in.
PROBE = """
import importlib, json, sys
report = {}
for name in sys.argv[1:]:
    before = set(sys.modules)
    importlib.import_module(name)
    roots = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(FORBIDDEN))
    if roots:
        report[name] = roots
print(json.dumps(report))
""".replace("FORBIDDEN", repr(FORBIDDEN))


def _probe(modules: list[str]) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def _imports(module: str) -> set[str]:
    """Project modules `module` imports anywhere in its file (lazy imports included), each
    with its parent packages (importing a.b.c runs a/__init__ and a/b/__init__)."""
    path = ROOT / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            parts = name.split(".")
            found |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return found


def test_every_bundled_module_is_imported_by_some_function() -> None:
    """The code asset is functions/ and shared/ whole (infra/bundling.py names no module to
    leave out), so a module there that no handler reaches is dead weight or a tool in the
    wrong folder: the closure of the handlers' imports must cover every bundled module."""
    bundled = set(_bundled_modules())
    seen: set[str] = set()
    todo = [spec.handler.rpartition(".")[0] for spec in (*FUNCTIONS.values(), DELIVERY, SETTLEMENT)]
    while todo:
        module = todo.pop()
        if module in seen or module not in bundled:
            continue
        seen.add(module)
        parents = {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)}
        todo += sorted((_imports(module) | parents) & bundled)
    assert sorted(bundled - seen - {"functions", "shared"}) == []


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_a_cold_handler_import_loads_no_pydantic_and_no_infra(function_name: str) -> None:
    """What a Lambda cold start does: import the handler module in a fresh interpreter."""
    module = FUNCTIONS[function_name].handler.rpartition(".")[0]
    assert _probe([module]) == {}


def test_no_bundled_module_loads_pydantic_or_infra() -> None:
    modules = _bundled_modules()
    assert "shared.dialects.thalamus" in modules
    assert _probe(modules) == {}


def test_no_bundled_module_imports_them_lazily_either() -> None:
    """Imports inside functions do not show at import time: read every file's import lines."""
    offenders = []
    for module in _bundled_modules():
        path = ROOT / Path(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{module}:{node.lineno} imports {name}" for name in names if _forbidden(name)]
    assert offenders == []
