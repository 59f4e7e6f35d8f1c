"""What `cdk deploy` ships runs on its own: the function code asset plus the dependency layer.

The code asset is staged by CDK itself from infra/bundling.py's function_code() (same
excludes as a deploy); the layer is infra/bundling.py's build_layer() from the runtime lock
alone, for this machine's platform so that its wheels import here (deploys build the same
lock for Lambda's arm64). Each handler in infra/functions.py FUNCTIONS is then imported in a
fresh base interpreter (no venv, no site-packages: ``-S -s``, a new environment whose
PYTHONPATH is only the asset and the layer's python/) and answers its recorded success event
against moto's server, holding the demo data loaded with the project's importer. A module
from anywhere else (the venv, the repo) fails the test.

The same runs twice: on this interpreter (the venv's Python), and on the Lambda runtime's
Python (3.13, found as `make synth` finds it: infra/preflight.py) with the asset compiled by
it and the layer's wheels for it, so a handler that only breaks on the runtime's Python
fails here. Under CI=true a missing runtime Python fails the run; elsewhere it skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.functions import FUNCTIONS
from tests.conftest import ROOT, demo_document, engine_client, load_document

pytestmark = pytest.mark.package

EVENTS = ROOT / "events"
LAYER_CACHE = ROOT / ".build" / "package-test"
REGION = "eu-west-1"

# Runs in the bare interpreter: import the handler, answer the event, then list every loaded
# module whose file lies outside the asset, the layer and the standard library.
RUNNER = r"""
import importlib, importlib._bootstrap_external as loaders, json, sys, sysconfig
asset, layer, handler_path, event_file, result_file = sys.argv[1:]

# Every module compiled from source in this process (the package ships bytecode: none may be).
compiled = []
source_to_code = loaders.SourceLoader.source_to_code


def counting(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return source_to_code(self, data, path, *args, **kwargs)


loaders.SourceLoader.source_to_code = counting


class Context:
    function_name = "PackageTest"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:000000000000:function:PackageTest"
    aws_request_id = "00000000-0000-4000-8000-00000000beef"
    log_group_name = "/aws/lambda/PackageTest"
    log_stream_name = "package-test"

    def get_remaining_time_in_millis(self):
        return 10000


module_name, _, function_name = handler_path.rpartition(".")
handler = getattr(importlib.import_module(module_name), function_name)
with open(event_file, encoding="utf-8") as f:
    response = handler(json.load(f), Context())
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
outside = sorted(
    name
    for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not module.__file__.startswith((asset, layer))
    and not (module.__file__.startswith(stdlib) and "site-packages" not in module.__file__)
)
with open(result_file, "w", encoding="utf-8") as f:
    package = [c for c in compiled if c.startswith((asset, layer))]
    version = "%d.%d" % sys.version_info[:2]
    found = {"response": response, "outside": outside, "compiled": package, "version": version}
    json.dump(found, f)
"""


def base_interpreter() -> str:
    """The interpreter the venv was made from (or this one, outside a venv)."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


@pytest.fixture(scope="session")
def code_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The function code asset, staged by CDK exactly as `cdk deploy` stages it."""
    for flag in ("DEPRECATED_NODE_VERSION", "END_OF_LIFE_NODE_VERSION", "UNTESTED_NODE_VERSION"):
        os.environ.setdefault(f"JSII_SILENCE_WARNING_{flag}", "1")
    import aws_cdk as cdk

    from infra import bundling

    outdir = tmp_path_factory.mktemp("cdk.out")
    stack = cdk.Stack(cdk.App(outdir=str(outdir)), "PackageTest")
    location = bundling.function_code(stack, host_platform=True).bind(stack).s3_location
    assert location is not None  # an asset, staged to S3
    key = location.object_key
    asset = outdir / f"asset.{key.removesuffix('.zip')}"
    assert (asset / "functions").is_dir() and (asset / "shared").is_dir(), sorted(outdir.iterdir())
    assert not (asset / "tests").exists() and not (asset / "infra").exists()
    return asset


@pytest.fixture(scope="session")
def host_layer() -> Path:
    """The dependency layer for this machine, from the runtime lock alone; kept in .build/ per
    lock content and interpreter, so it is built once (a few seconds from pip's cache)."""
    from infra import bundling

    tag = f"{sys.implementation.cache_tag}-{sys.platform}-{os.uname().machine}-bytecode"
    digest = hashlib.sha256(bundling.RUNTIME_LOCK.read_bytes()).hexdigest()[:16]
    layer = LAYER_CACHE / f"layer-{tag}-{digest}"
    if not (layer / "python").is_dir():
        staging = LAYER_CACHE / f".building-{uuid.uuid4().hex}"
        bundling.build_layer(str(staging), host_platform=True)
        try:
            staging.rename(layer)
        except OSError:  # another worker got there first: same lock, same content
            shutil.rmtree(staging, ignore_errors=True)
    return layer / "python"


def test_the_layer_holds_exactly_the_runtime_lock(host_layer: Path) -> None:
    from importlib.metadata import distributions

    from packaging.utils import canonicalize_name

    from infra import bundling
    from tests.unit.test_locks import read_lock

    installed = {
        canonicalize_name(d.metadata["Name"]): d.version for d in distributions(path=[str(host_layer)])
    }
    locked = {name: pin.version for name, pin in read_lock(bundling.RUNTIME_LOCK).items()}
    assert installed == locked


def sample_event(function: str) -> tuple[Path, int]:
    """The function's first recorded event that its manifest expects to succeed (200)."""
    manifest = json.loads((EVENTS / function / "manifest.json").read_text(encoding="utf-8"))
    name = next(name for name, entry in manifest.items() if entry["status"] == 200)
    return EVENTS / function / name, 200


@pytest.fixture
def deployed_env(moto_server: str, provider_simulator: Any) -> Iterator[dict[str, str]]:
    """A fresh table on moto's server with the demo data (the real importer), the provider's
    credentials in its Secrets Manager, and the environment a Lambda would get."""
    import boto3

    from shared.store import DynamoDBStore
    from shared.table_schema import create_table

    table = f"package-{uuid.uuid4().hex[:8]}"
    client = engine_client(moto_server)
    create_table(client, table)
    load_document(DynamoDBStore(client, table), demo_document())
    secret = f"voucher/package/{table}"
    boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_server).create_secret(
        Name=secret,
        SecretString=json.dumps(
            {"KESSELTRONICS": {"api_key": provider_simulator.api_key, "endpoint": provider_simulator.url}}
        ),
    )
    provider_simulator.reset()
    yield {
        "AWS_ENDPOINT_URL_DYNAMODB": moto_server,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "TABLE_NAME": table,
        "PROVIDER_SECRET_NAME": secret,
        "POWERTOOLS_METRICS_NAMESPACE": "VoucherService",
        "POWERTOOLS_SERVICE_NAME": "package-test",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    client.delete_table(TableName=table)


@pytest.fixture(scope="session")
def runtime_python() -> str:
    """The Lambda runtime's Python, or a skip (a failure under CI=true) saying it is missing."""
    from infra.preflight import LAMBDA_PYTHON, BundlingError, bytecode_interpreter

    try:
        return bytecode_interpreter()
    except BundlingError as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the handlers on the Lambda runtime's Python: {missing}")
        pytest.skip(f"no Python {LAMBDA_PYTHON} on this machine: the handlers' run on it is skipped")


@pytest.fixture(scope="session")
def runtime_package(runtime_python: str) -> tuple[Path, Path]:
    """(code asset, layer) as deployed, compiled by the runtime's Python, the layer's wheels for
    that Python on this machine's platform; kept in .build/ per sources and lock."""
    from infra import bundling

    machine = {"arm64": "aarch64", "amd64": "x86_64"}.get(os.uname().machine, os.uname().machine)
    digest = hashlib.sha256(bundling.RUNTIME_LOCK.read_bytes())
    for package in bundling.CODE_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    built = LAYER_CACHE / f"runtime-{bundling.LAMBDA_PYTHON}-{machine}-{digest.hexdigest()[:16]}"
    if not built.is_dir():
        staging = LAYER_CACHE / f".building-{uuid.uuid4().hex}"
        bundling.build_code(str(staging / "asset"), interpreter=runtime_python)
        bundling.build_layer(str(staging / "layer"), pip_platform=f"manylinux2014_{machine}")
        try:
            staging.rename(built)
        except OSError:  # another worker got there first: same sources, same content
            shutil.rmtree(staging, ignore_errors=True)
    return built / "asset", built / "layer" / "python"


@pytest.fixture(params=["venv-python", "lambda-runtime-python"])
def package(request: pytest.FixtureRequest) -> tuple[str, Path, Path, str]:
    """(interpreter, code asset, layer, its Python version): as staged here, or as the Lambda
    runtime runs it."""
    from infra.preflight import LAMBDA_PYTHON

    if request.param == "venv-python":
        asset, layer = request.getfixturevalue("code_asset"), request.getfixturevalue("host_layer")
        return base_interpreter(), asset, layer, f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        request.getfixturevalue("runtime_python"),
        *request.getfixturevalue("runtime_package"),
        LAMBDA_PYTHON,
    )


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_handler_answers_from_the_deployment_package_alone(
    function: str, package: tuple[str, Path, Path, str], deployed_env: dict[str, str], tmp_path: Path
) -> None:
    interpreter, code_asset, host_layer, version = package
    event_file, expected = sample_event(function)
    result_file = tmp_path / "result.json"
    env = {
        **deployed_env,
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join([str(code_asset), str(host_layer)]),
        "LANG": "C.UTF-8",  # bytecode writing left on: a package that needed it would write it
    }
    before = _files(code_asset, host_layer)
    args = [str(code_asset), str(host_layer), FUNCTIONS[function].handler, str(event_file), str(result_file)]
    run = subprocess.run(
        [interpreter, "-S", "-s", "-c", RUNNER, *args],
        cwd=tmp_path,  # nothing importable there: `-c` puts the working directory on sys.path
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert result["version"] == version
    assert result["outside"] == [], f"imported from outside the package: {result['outside']}"
    # Lambda's file system is read-only: the package must ship every module compiled
    assert result["compiled"] == [], f"compiled from source at import: {result['compiled'][:10]}"
    assert _files(code_asset, host_layer) == before, "the import wrote into the package"
    response = result["response"]
    assert isinstance(response["statusCode"], int), response
    assert response["statusCode"] == expected, (response, run.stdout[-2000:])
    assert isinstance(response.get("headers"), dict), response
    json.loads(response["body"])


def _files(*roots: Path) -> int:
    return sum(1 for root in roots for _ in root.rglob("*"))
