"""Every sample event (success and error rows, of every function) sent as a real HTTP request
to the local stack, against freshly reset demo data, must get its manifest status, and the
recorded response where the manifest keeps one (the OpenAPI document's success examples).

`make replay` and tests/local/test_replay.py invoke the handlers with the stored event
itself; this test goes the other way round, through the HTTP server, so the HTTP -> API
Gateway event translation is covered for every documented case too."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from infra.importer import build_groups, validate
from infra.local_stack.server import LocalStack
from shared.store import serialize
from shared.table_schema import create_table
from tests.local.helpers import request

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted(p for p in (ROOT / "events").glob("*/*.json") if p.name != "manifest.json")
SKIP_HEADERS = {"host", "content-length"}


def manifest_entry(path: Path) -> dict[str, Any]:
    manifest = json.loads((path.parent / "manifest.json").read_text(encoding="utf-8"))
    return dict(manifest[path.name])


# What differs from one run to the next: instants, what is counted from now, and the codes the
# provider simulator draws. Their values are compared by type only.
VARYING = frozenset(
    {"activatedAt", "codeExpiry", "authorizationCode", "consumedAt", "at", "atEpoch"}
    | {"voucher_expiry_seconds_remaining"}
)


def steady(body: Any) -> Any:
    """The body with each varying field's value replaced by its type's name."""
    if isinstance(body, dict):
        return {k: type(v).__name__ if k in VARYING else steady(v) for k, v in body.items()}
    if isinstance(body, list):
        return [steady(v) for v in body]
    return body


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(port=0, table_name="vouchers-http-events").start()
    try:
        yield local
    finally:
        local.stop()


def reset_demo_data(stack: LocalStack, *, history: bool) -> None:
    """Fresh demo data: drop and recreate the table, then write the importer's items, and with
    `history` its IMPORTED audit events too (the console's history shows them; they double
    the items written, so only the event that reads them pays for them)."""
    client, table = stack.store.client, stack.store.table_name
    client.delete_table(TableName=table)
    create_table(client, table)
    parsed, problems = validate(
        json.loads((ROOT / "infra/local_stack/demo.json").read_text(encoding="utf-8"))
    )
    assert parsed is not None, problems
    items = [i for g in build_groups(parsed) for i in [*g.items, *([g.event] if history and g.event else [])]]
    for start in range(0, len(items), 25):
        pending: Any = {table: [{"PutRequest": {"Item": serialize(i)}} for i in items[start : start + 25]]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or None
    if stack.simulator is not None:
        stack.simulator.reset()


def as_http(event: dict[str, Any]) -> tuple[str, str, list[tuple[str, str]], bytes | None]:
    query = [
        (k, v) for k, values in (event.get("multiValueQueryStringParameters") or {}).items() for v in values
    ]
    path = event["path"] + (f"?{urlencode(query)}" if query else "")
    headers = [
        (name, value)
        for name, values in (event.get("multiValueHeaders") or {}).items()
        for value in values
        if name.lower() not in SKIP_HEADERS
    ]
    body = event.get("body")
    data = None
    if body is not None:
        data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    return event["httpMethod"], path, headers, data


def test_every_function_has_events() -> None:
    from infra.functions import FUNCTIONS

    assert {p.parent.name for p in EVENTS} == set(FUNCTIONS)


@pytest.mark.http
@pytest.mark.parametrize("path", EVENTS, ids=[f"{p.parent.name}/{p.stem}" for p in EVENTS])
def test_event_over_http_gets_its_manifest_status(stack: LocalStack, path: Path) -> None:
    reset_demo_data(stack, history=path.parent.name == "console_issuance")
    method, target, headers, body = as_http(json.loads(path.read_text(encoding="utf-8")))
    status, payload, _ = request(stack.url, method, target, headers=headers, body=body)
    entry = manifest_entry(path)
    assert status == entry["status"], payload
    if "response" in entry:  # an OpenAPI success example (infra.openapi_models.answered)
        assert steady(payload) == steady(entry["response"])
