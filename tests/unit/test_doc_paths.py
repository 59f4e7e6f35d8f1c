"""Every repository path and module the docs, the code's docstrings and openapi.json name exists."""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "infra", "functions", "tests")


def _texts() -> dict[str, str]:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    named = [
        f
        for f in tracked
        if (f.endswith((".md", ".py", ".toml", ".yml")) or f in ("Makefile", "openapi.json", ".ci/run"))
        and (ROOT / f).is_file()
    ]
    return {f: _prose(f, (ROOT / f).read_text(encoding="utf-8")) for f in named}


def _prose(name: str, text: str) -> str:
    """What a file says to a reader: a Python file's strings and comments (not its code,
    where a dict may be named like a package), any other file whole."""
    if not name.endswith(".py"):
        return text
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return "\n".join(t.string for t in tokens if t.type in (tokenize.STRING, tokenize.COMMENT))


PATH = re.compile(r"(?<![\w./-])((?:docs|shared|infra|functions|tests|events|requirements)/[\w/.-]*\w)")
DOTTED = re.compile(r"(?<![\w./-])((?:" + "|".join(PACKAGES) + r")(?:\.[A-Za-z_]\w*)+)")


def _defines(module: Path, name: str) -> bool:
    """A function, class, method, attribute or name of the module, or one it imports."""
    pattern = rf"^\s*(?:def|class)\s+{name}\b|^\s*{name}\s*[:=]|^\s*{name},$|^from .* import .*\b{name}\b"
    return re.search(pattern, module.read_text(encoding="utf-8"), re.M) is not None


def _module_exists(dotted: str) -> bool:
    """`a.b.c` is a module, or a name defined in module `a.b` (a function, class or constant)."""
    parts = dotted.split(".")
    path = ROOT.joinpath(*parts)
    if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
        return True
    parent = ROOT.joinpath(*parts[:-1])
    module = parent.with_suffix(".py") if parent.with_suffix(".py").is_file() else parent / "__init__.py"
    return module.is_file() and _defines(module, parts[-1])


def _attribute_of_file(name: str) -> bool:
    """`shared/runtime.Settings`: a name defined in shared/runtime.py."""
    path, _, attribute = name.rpartition(".")
    module = ROOT / f"{path}.py"
    return bool(path) and module.is_file() and _defines(module, attribute)


def test_every_path_named_in_docs_docstrings_and_openapi_exists() -> None:
    missing = []
    for source, text in _texts().items():
        for name in PATH.findall(text):
            if not (ROOT / name).exists() and not _attribute_of_file(name):
                missing.append(f"{source}: {name}")
    assert missing == []


def test_every_module_named_in_docs_and_docstrings_exists() -> None:
    missing = []
    for source, text in _texts().items():
        for name in DOTTED.findall(text):
            if not _module_exists(name):
                missing.append(f"{source}: {name}")
    assert missing == []
