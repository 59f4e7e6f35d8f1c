"""Every stored event (events/<function>/<case>.json: success and every error row), sent as a
real HTTP request to the local stack against freshly reset demo data, must get the status
its folder's manifest.json expects, and the recorded response where the manifest keeps one
(the OpenAPI document's success examples). `make replay` runs this file.

The handler must also see the stored event exactly as it sees the request built from it
(`ApiRequest.from_event`, request id and source address aside), so the file given to
`sam local invoke` is the request this test sent, and every manifest entry has its file."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from infra.importer import build_groups, validate
from infra.local_stack import apigw
from infra.local_stack.server import LocalStack
from shared.runtime import ApiRequest
from shared.store import serialize
from shared.table_schema import create_table
from tests.local.helpers import request

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted(p for p in (ROOT / "events").glob("*/*.json") if p.name != "manifest.json")
SKIP_HEADERS = {"host", "content-length"}  # set by the HTTP client from the connection and body


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


def test_every_manifest_entry_has_its_event_file() -> None:
    for manifest in sorted((ROOT / "events").glob("*/manifest.json")):
        entries = json.loads(manifest.read_text(encoding="utf-8"))
        missing = [name for name in entries if not (manifest.parent / name).is_file()]
        assert not missing, f"{manifest}: entries without a file: {missing}"


def as_handler_sees(event: dict[str, Any]) -> dict[str, Any]:
    """What a handler reads of an event, without what differs per delivery."""
    seen = vars(ApiRequest.from_event(event)).copy()
    for name in ("request_id", "source_ip"):
        seen.pop(name)
    seen["headers"] = {k: v for k, v in seen["headers"].items() if k not in SKIP_HEADERS}
    seen["raw_headers"] = {k: v for k, v in seen["raw_headers"].items() if k not in SKIP_HEADERS}
    return seen


@pytest.mark.http
@pytest.mark.parametrize("path", EVENTS, ids=[f"{p.parent.name}/{p.stem}" for p in EVENTS])
def test_event_over_http_gets_its_manifest_status(
    stack: LocalStack, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert apigw.function_for_event(stored) == path.parent.name, "stored under another function"
    built: list[dict[str, Any]] = []
    original = apigw.invoke

    def spy(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
        built.append(event)
        return original(function_name, event)

    monkeypatch.setattr(apigw, "invoke", spy)
    reset_demo_data(stack, history=path.parent.name == "console_issuance")
    method, target, headers, body = as_http(stored)
    status, payload, _ = request(stack.url, method, target, headers=headers, body=body)
    entry = manifest_entry(path)
    assert status == entry["status"], payload
    if "response" in entry:  # an OpenAPI success example (infra.openapi_models.answered)
        assert steady(payload) == steady(entry["response"])
    (event,) = built
    assert as_handler_sees(event) == as_handler_sees(stored)
