"""Checks before synth and deploy, each answering in one line, without importing the CDK:

* `python -m infra.preflight python`: where the Lambda runtime's Python is (its bytecode is
  compiled by it, infra/bundling.py), found on PATH, in pyenv (active or not), uv or the OS;
* `python -m infra.preflight` (`make deploy`'s first step): are there AWS credentials, and do
  they work? Before the CDK spends ~25 s synthesizing only to say "Unable to resolve AWS account".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# The Lambda runtime's Python: the runtime, the layer's wheels and the bytecode (infra/bundling.py)
# all follow this one value, and so does the Makefile (make lambda-python).
LAMBDA_PYTHON = "3.13"


class BundlingError(RuntimeError):
    """The assets cannot be built as they must ship (e.g. no interpreter for the bytecode)."""


def _candidates(version: str) -> list[str]:
    """Where a Python `version` may be, in order: `python<version>` on PATH, pyenv's installed
    versions (a pyenv shim is on PATH even when that version is not the active one), uv's
    managed ones, and the OS's usual places."""
    found = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    pyenv = sorted(pyenv_root.glob(f"versions/{version}*/bin/python{version}"), reverse=True)
    found += [str(p) for p in pyenv]
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    try:
        listed = subprocess.run(  # noqa: S603 - fixed argv
            [uv, "python", "list", "--only-installed", "--output-format", "json", version],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        found += [entry["path"] for entry in json.loads(listed.stdout or "[]") if entry.get("path")]
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass
    found += [f"{prefix}/bin/python{version}" for prefix in ("/usr/local", "/usr", "/opt/homebrew")]
    return [c for c in dict.fromkeys(found) if c]


def bytecode_interpreter(version: str = LAMBDA_PYTHON) -> str:
    """An interpreter of `version` to compile the bytecode with: this one, or the first of
    `_candidates` that runs and says it is that version (a shim without it installed is not
    one); a BundlingError saying in one line how to get one otherwise."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    for candidate in _candidates(version):
        try:
            probe = subprocess.run(  # noqa: S603 - fixed argv
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    raise BundlingError(
        f"no Python {version} found (PATH, pyenv, uv, /usr): the Lambda package's bytecode needs one. "
        f"Install it (`make lambda-python`, or `uv python install {version}`, or pyenv), "
        f'or synth offline without bundling: make synth ARGS="-c skip_bundling=true"'
    )


def main() -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        identity = boto3.session.Session().client("sts").get_caller_identity()
    except NoCredentialsError:
        problem = "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    except NoRegionError:
        problem = "no AWS region (set AWS_REGION or a profile's region)"
    except ClientError as error:
        problem = f"AWS refused the credentials ({error.response.get('Error', {}).get('Code', 'error')})"
    except BotoCoreError as error:
        problem = f"AWS could not be reached to check the credentials ({type(error).__name__})"
    else:
        print(f"Deploying as {identity['Arn']} (account {identity['Account']})")
        return 0
    print(f"make deploy: {problem}. `make synth` needs no credentials.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if sys.argv[1:] == ["python"]:
        try:
            print(bytecode_interpreter())
        except BundlingError as missing:
            sys.exit(f"make: {missing}")
        sys.exit(0)
    sys.exit(main())
