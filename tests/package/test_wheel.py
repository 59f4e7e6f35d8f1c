"""`pip install .` works: the project builds a wheel (PEP 517, setuptools from the dev lock,
no download) holding exactly the Lambda code, shared/ and functions/, with its metadata."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_the_lambda_code_and_the_metadata(tmp_path: Path) -> None:
    # setuptools writes build/ and *.egg-info beside the sources: build from a copy, so the
    # checkout stays as it was (a build/ there would be linted and packaged next time)
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("shared", "functions"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            source,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("voucher_service-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    code = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert code == {"shared", "functions"}
    shipped = {n for n in names if n.endswith(".py")}
    tracked = {p.relative_to(ROOT).as_posix() for package in code for p in (ROOT / package).rglob("*.py")}
    assert shipped == tracked
    for field in (
        "License-Expression: MIT",
        "Requires-Python: >=3.11",
        "Classifier: Programming Language :: Python :: 3.13",
    ):
        assert field in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    runtime = [line for line in requires if "extra ==" not in line]
    assert any("boto3==" in line for line in runtime) and not any("pydantic" in line for line in runtime)
