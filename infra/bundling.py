"""Lambda assets built without Docker.

* The function code asset is the repo's ``functions/`` and ``shared/`` packages, copied as is
  (glob excludes keep everything else out), so every function shares one asset.
* The dependency layer is built by local bundling: ``pip install`` of requirements/runtime.txt
  for the Lambda platform (manylinux2014 aarch64, CPython 3.13, wheels only) into
  ``<outputDir>/python``. Wheels-only install for a foreign platform needs no compiler and
  no container, so synth works on any machine with pip and a package index.

Synth with context ``{"aws:cdk:bundling-stacks": []}`` to skip bundling (tests, offline CI):
CDK then stages the source directory instead of running ``try_bundle``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS_DIR = REPO_ROOT / "requirements"
RUNTIME_REQUIREMENTS = "runtime.txt"

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM = "manylinux2014_aarch64"
PIP_PYTHON_VERSION = "3.13"

# Only these top-level packages go into the function code asset.
CODE_PACKAGES = ("functions", "shared")

# Glob excludes (CDK matches them in order against each path relative to the repo root, a
# pattern without "/" against the basename; '!' re-includes): everything ("*" and dotfiles)
# except CODE_PACKAGES, minus byte code and the data importer (an operator tool).
CODE_EXCLUDE = [
    "*",
    ".*",
    *(f"!{package}" for package in CODE_PACKAGES),
    *(f"!{package}/**" for package in CODE_PACKAGES),
    "**/__pycache__",
    "**/__pycache__/**",
    "**/*.pyc",
    "shared/importer*",
    "shared/importer*/**",
]

# Docker is never used: local bundling always succeeds or raises.
_NO_DOCKER_IMAGE = "local-bundling-only"


def pip_install_command(requirements: Path, output_dir: str) -> list[str]:
    """The pip command that installs run time dependencies for the Lambda platform."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--platform",
        PIP_PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        PIP_PYTHON_VERSION,
        "--only-binary=:all:",
        "--no-compile",
        "-r",
        str(requirements),
        "-t",
        str(Path(output_dir) / "python"),
    ]


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundling:
    """Installs requirements/runtime.txt into ``<outputDir>/python`` (the layer layout)."""

    def __init__(self, requirements: Path) -> None:
        self._requirements = requirements

    def try_bundle(self, output_dir: str, options: Any = None, **_: Any) -> bool:
        command = pip_install_command(self._requirements, output_dir)
        print(f"Bundling dependency layer: {' '.join(command[1:])}", file=sys.stderr)
        subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell
        return True


def function_code() -> lambda_.Code:
    """One code asset with only the ``functions`` and ``shared`` packages."""
    return lambda_.Code.from_asset(
        str(REPO_ROOT),
        exclude=CODE_EXCLUDE,
        ignore_mode=cdk.IgnoreMode.GLOB,
    )


def dependency_layer_code() -> lambda_.Code:
    """The dependency layer asset, bundled locally with pip (never with Docker).

    The asset hash is the source hash of runtime.txt (plus the bundling options), so an
    unchanged lock file re-uses the layer already staged in cdk.out.
    """
    return lambda_.Code.from_asset(
        str(REQUIREMENTS_DIR),
        exclude=["*", f"!{RUNTIME_REQUIREMENTS}"],
        ignore_mode=cdk.IgnoreMode.GLOB,
        asset_hash_type=cdk.AssetHashType.SOURCE,
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry(_NO_DOCKER_IMAGE),
            local=PipLayerBundling(REQUIREMENTS_DIR / RUNTIME_REQUIREMENTS),
            command=["false"],  # never run: local bundling always handles it
        ),
    )
