"""Fixtures for the ES "Activate Voucher" tests: the Kesseltronics simulator (one per
session), its credentials in a moto Secrets Manager secret, and the demo data extended with
a few vouchers the demo file has no need for."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from infra.local_stack.provider_simulator import ProviderSimulator
from tests.conftest import call, demo_document, guard_fields, load_document, serial

ALICE = "demo-es-member-alice"
API_KEY = "sim-test-key-0123456789"
SECRET_NAME = "vouchers/test/providers"
PATH = "/client/users/{correlation}/voucher/{voucher}/activate"

# Extra vouchers (all alice's) for cases the demo data does not cover.
UNKNOWN_PROVIDER = 101  # definition names a provider we have no adapter for
REFUSED = 102  # definition's endpoint is a closed loopback port
SPARE = 103  # plain carwash voucher, AVAILABLE


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def extended_document() -> dict[str, Any]:
    doc = demo_document()
    doc["definitions"] += [
        {
            "definition_id": "carwash-acme",
            "product_name": "Car Wash (unknown provider)",
            "reward_type": "PRODUCT_AUTHORIZATION_CODE",
            # the importer only knows KESSELTRONICS: `env` renames this provider to ACME
            "provider": {"name": "KESSELTRONICS", "product_code": "X-1"},
        },
        {
            "definition_id": "carwash-refused",
            "product_name": "Car Wash (provider down)",
            "reward_type": "PRODUCT_AUTHORIZATION_CODE",
            "provider": {
                "name": "KESSELTRONICS",
                "product_code": "CW-BASIC",
                "endpoint": f"http://127.0.0.1:{closed_port()}",
                "timeout_seconds": 1.0,
            },
        },
    ]
    base = {"status": "AVAILABLE", "valid_until": "2099-12-31T23:59:59Z", "owner_member_id": "alice"}
    doc["vouchers"] += [
        {**base, "serial": serial(UNKNOWN_PROVIDER), "definition_id": "carwash-acme"},
        {**base, "serial": serial(REFUSED), "definition_id": "carwash-refused"},
        {**base, "serial": serial(SPARE), "definition_id": "carwash"},
    ]
    return doc


def definition_of(n: int) -> str:
    doc = extended_document()
    for voucher in doc["vouchers"]:
        if voucher["serial"] == serial(n):
            return str(voucher["definition_id"])
    raise KeyError(n)


def es_voucher_id(n: int, definition: str | None = None) -> str:
    return f"{definition or definition_of(n)}::{serial(n)}"


def activate(
    voucher: str | int,
    *,
    token: str | None = ALICE,
    correlation: str = "corr-test-1",
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> tuple[int, Any, dict[str, str]]:
    vid = es_voucher_id(voucher) if isinstance(voucher, int) else voucher
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return call(
        "activate_voucher",
        "POST",
        PATH.format(correlation=correlation, voucher=vid),
        headers=sent,
        body=body,
    )


@dataclass
class DynamoCalls:
    """Counts DynamoDB API calls made through one client (botocore event hook)."""

    client: Any
    operations: list[str] = field(default_factory=list)

    def __enter__(self) -> DynamoCalls:
        self.client.meta.events.register("before-call.dynamodb", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.meta.events.unregister("before-call.dynamodb", self._record)

    def _record(self, model: Any, **_kwargs: Any) -> None:
        self.operations.append(model.name)

    def reset(self) -> None:
        self.operations.clear()


@pytest.fixture(scope="session")
def simulator() -> Iterator[ProviderSimulator]:
    sim = ProviderSimulator(api_key=API_KEY).start()
    yield sim
    sim.stop()


def _settings_from_env(store: Any) -> None:
    """Functions read their settings once per container: a test that changes the
    environment starts a new "container"."""
    from shared.runtime import RUNTIME, Settings

    RUNTIME.reset(store=store, settings=Settings.from_env())


def _clear_parameter_caches() -> None:
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()


@dataclass
class ActivationEnv:
    store: Any
    sim: ProviderSimulator
    secret_name: str

    def voucher_item(self, n: int) -> dict[str, Any]:
        from shared.store import Keys

        item = self.store.get(Keys.voucher(serial(n)))
        assert item is not None, f"voucher {n} is not in the table"
        return item

    def guard_item(self, n: int) -> dict[str, Any] | None:
        """The voucher's activation guard attributes, held or expired, or None."""
        return guard_fields(self.store, serial(n))

    def guard_held(self, n: int) -> dict[str, Any] | None:
        """The activation guard, if a request still holds it (the commit releases it)."""
        import time

        guard = self.guard_item(n)
        held = guard is not None and int(guard.get("expires_at_ms", 0)) > time.time() * 1000
        return guard if held else None

    def left_reference(self, n: int) -> str | None:
        """The reference of a guard an activation left behind, expired: the provider may have
        issued a code for it (a retry gets it; the next transition announces it unused)."""
        guard = self.guard_item(n)
        return None if guard is None or self.guard_held(n) else str(guard.get("reference"))

    def activated_events(self, n: int) -> list[dict[str, Any]]:
        return [e for e in self.store.voucher_events(serial(n)) if e["event_type"] == "ACTIVATED"]

    def unused_codes(self, n: int) -> list[dict[str, Any]]:
        """Codes the provider issued that no commit recorded on the voucher."""
        return [
            e for e in self.store.voucher_events(serial(n)) if e["event_type"] == "ACTIVATION_CODE_UNUSED"
        ]


_SNAPSHOT: list[dict[str, Any]] = []


def load_extended(store: Any) -> None:
    """The extended demo data: through the real importer once per session, then replayed
    from a raw snapshot of the table (the importer costs ~1 s per load on these machines)."""
    from shared.store import Keys, serialize

    client, table = store.client, store.table_name
    if not _SNAPSHOT:
        load_document(store, extended_document())
        acme = store.get(Keys.definition("carwash-acme"))
        acme["provider"]["name"] = "ACME"  # a provider no adapter serves
        client.put_item(TableName=table, Item=serialize(acme))
        pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        _SNAPSHOT.extend(item for page in pages for item in page["Items"])
        return
    for start in range(0, len(_SNAPSHOT), 25):
        request = {table: [{"PutRequest": {"Item": item}} for item in _SNAPSHOT[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


@pytest.fixture
def env(store: Any, simulator: ProviderSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[ActivationEnv]:
    """Extended demo data in moto, the simulator reset, and its credentials in a moto secret."""
    import boto3

    load_extended(store)
    simulator.reset()
    boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
        Name=SECRET_NAME,
        SecretString=json.dumps({"KESSELTRONICS": {"api_key": API_KEY, "endpoint": simulator.url}}),
    )
    monkeypatch.setenv("PROVIDER_SECRET_NAME", SECRET_NAME)
    _settings_from_env(store)
    _clear_parameter_caches()
    yield ActivationEnv(store, simulator, SECRET_NAME)
    _clear_parameter_caches()
    simulator.reset()


@pytest.fixture
def race_env(
    server_store: Any, moto_server: str, simulator: ProviderSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ActivationEnv]:
    """Demo data on the moto server (real concurrent HTTP), secret on the same server."""
    import boto3

    name = f"vouchers/race/{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_server).create_secret(
        Name=name,
        SecretString=json.dumps({"KESSELTRONICS": {"api_key": API_KEY, "endpoint": simulator.url}}),
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_server)
    monkeypatch.setenv("PROVIDER_SECRET_NAME", name)
    _settings_from_env(server_store)
    simulator.reset()
    _clear_parameter_caches()
    yield ActivationEnv(server_store, simulator, name)
    _clear_parameter_caches()
    simulator.reset()


class _CurrentStdout:
    def write(self, text: str) -> int:
        import sys

        return sys.stdout.write(text)

    def flush(self) -> None:
        import sys

        sys.stdout.flush()


@pytest.fixture
def log_output(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """capsys, with the handler's Powertools logger writing to the captured stdout (its
    stream handler keeps the sys.stdout it found at import time; pytest swaps sys.stdout
    between phases, so the handler writes to whatever sys.stdout is at write time)."""
    import logging

    from functions.activate_voucher import handler

    stream_handlers = [h for h in handler.logger._logger.handlers if isinstance(h, logging.StreamHandler)]
    previous = [(h, h.stream) for h in stream_handlers]
    for h in stream_handlers:
        h.setStream(_CurrentStdout())
    capsys.readouterr()
    yield capsys
    for h, stream in previous:
        h.stream = stream  # no setStream: it would flush a stream pytest may have closed
