"""The docs point at things that exist: event files, make targets, modules."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_every_event_file_the_docs_name_exists() -> None:
    named = {m for doc in DOCS for m in re.findall(r"events/[\w/.-]+\.json", doc.read_text(encoding="utf-8"))}
    assert named, "the README gives SAM CLI replay lines"
    missing = sorted(n for n in named if not (ROOT / n).exists())
    assert not missing, missing


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
    named = set(re.findall(r"make ([a-z][\w-]*)", (ROOT / "README.md").read_text(encoding="utf-8")))
    assert named <= targets, named - targets


def test_make_help_lists_every_target_a_user_runs() -> None:
    """`make help` is where a newcomer looks: every phony target but the lock's internal
    step appears in it."""
    import subprocess

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = set(re.search(r"^\.PHONY: (.*)$", makefile, flags=re.M).group(1).split())  # type: ignore[union-attr]
    shown = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    listed = set(re.findall(r"^\s+make ([\w-]+)", shown.stdout, flags=re.M))
    assert phony - {"help", "compile-locks"} <= listed, sorted(phony - {"help", "compile-locks"} - listed)
