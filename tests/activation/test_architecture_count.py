"""docs/architecture.md says how many project files one first activation runs: measured here,
so the sentence cannot go stale (a merge or split of modules changes the count and this test
names the new one)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from tests.activation.conftest import SPARE, ActivationEnv, activate

ROOT = Path(__file__).resolve().parents[2]
CLAIM = re.compile(r"(\d+) project files in all \((\d+) with the provider package\)")


def _files_run(action: Any) -> set[str]:
    """The Lambda code's files (functions/, shared/) in which a Python function ran."""
    seen: set[str] = set()

    def hook(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            seen.add(frame.f_code.co_filename)

    sys.setprofile(hook)
    try:
        action()
    finally:
        sys.setprofile(None)
    return {
        Path(f).resolve().relative_to(ROOT).as_posix()
        for f in seen
        if Path(f).resolve().is_relative_to(ROOT / "functions")
        or Path(f).resolve().is_relative_to(ROOT / "shared")
    }


def test_the_documented_file_count_of_one_activation_is_measured(env: ActivationEnv) -> None:
    assert activate(SPARE)[0] == 200  # warm: modules imported, caches filled, as a warm container
    files = _files_run(lambda: activate(1))
    without_provider = {f for f in files if not f.startswith("shared/providers/")}
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    claim = CLAIM.search(" ".join(text.split()))
    assert claim, (
        "docs/architecture.md states the count as 'N project files in all (M with the provider package)'"
    )
    assert (int(claim[1]), int(claim[2])) == (len(without_provider), len(files)), "\n".join(sorted(files))
