"""Requests in the shapes Spaaza clients send them, and the demo identities they use."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from infra.local_stack.apigw import build_event, invoke
from tests.conftest import call, serial

PATH = "/unclaim-voucher"
HOST = "demo.myprice.app"
KEY11 = "a8c34c86c136e5ddf0ad374e140aa1e3504ebbf23d76d84788677268fd99b809"
TP11 = 3914599659
ID11 = 40577

ALICE = {
    "X-Spaaza-Session-User-Id": "1001",
    "X-Spaaza-Session-Key": "demo-spaaza-user-alice",
    "X-Spaaza-MyPrice-App-Hostname": HOST,
}
BOB = {
    "X-Spaaza-Session-User-Id": "1002",
    "X-Spaaza-Session-Key": "demo-spaaza-user-bob",
    "X-Spaaza-MyPrice-App-Hostname": HOST,
}
ADMIN1 = {"X-Spaaza-Session-User-Id": "900", "X-Spaaza-Session-Key": "demo-spaaza-admin-chain1"}
ADMIN2 = {"X-Spaaza-Session-User-Id": "901", "X-Spaaza-Session-Key": "demo-spaaza-admin-chain2"}
PRIVILEGED = {"Authorization": "Bearer demo-spaaza-privileged-partner", "X-Spaaza-MyPrice-App-Hostname": HOST}
TOKENS = (
    "demo-spaaza-user-alice",
    "demo-spaaza-user-bob",
    "demo-spaaza-admin-chain1",
    "demo-spaaza-admin-chain2",
    "demo-spaaza-privileged-partner",
)

BOUNDARY = "----SpaazaFormBoundary7MA4YWxkTrZu0gW"


def key(n: int) -> str:
    """voucher_key of demo voucher n, as infra/local_stack/demo.json gives it (a file's keys
    are kept; keys the importer generates are random)."""
    return _DEMO_KEYS[serial(n)]


def _demo_keys() -> dict[str, str]:
    from tests.conftest import demo_document

    return {v["serial"]: v["voucher_key"] for v in demo_document()["vouchers"] if v.get("voucher_key")}


_DEMO_KEYS = _demo_keys()


def multipart(fields: dict[str, Any] | list[tuple[str, Any]], boundary: str = BOUNDARY) -> bytes:
    pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
    chunks = []
    for name, value in pairs:
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + data + b"\r\n"
        )
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


def encode(fields: dict[str, Any] | None, encoding: str) -> tuple[dict[str, str], bytes | str | None]:
    """(content-type header, body) for the fields in the given encoding."""
    if fields is None:
        return {}, None
    if encoding == "multipart":
        return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, multipart(fields)
    return {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(fields)


def event(
    headers: dict[str, str],
    fields: dict[str, Any] | None = None,
    *,
    method: str = "POST",
    encoding: str = "urlencoded",
    query: str = "",
    base64_body: bool = False,
) -> dict[str, Any]:
    content, body = encode(fields, encoding)
    built = build_event(method, PATH, headers={**content, **headers}, query_string=query, body=body)
    assert built is not None
    ev = built[1]
    if base64_body and ev["body"] is not None and not ev["isBase64Encoded"]:
        ev["body"] = base64.b64encode(ev["body"].encode("utf-8")).decode("ascii")
        ev["isBase64Encoded"] = True
    return ev


def send(ev: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    response = invoke("unclaim_voucher", ev)
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def unclaim(
    headers: dict[str, str],
    fields: dict[str, Any] | None = None,
    *,
    method: str = "POST",
    encoding: str = "urlencoded",
    query: str = "",
) -> tuple[int, Any, dict[str, str]]:
    """Through tests.conftest.call: the real handler with the event API Gateway builds."""
    content, body = encode(fields, encoding)
    return call("unclaim_voucher", method, PATH, headers={**content, **headers}, query=query, body=body)


def error_of(response: tuple[int, Any, dict[str, str]]) -> tuple[int, int, str]:
    """(HTTP status, error code, error name), asserting the Spaaza error envelope."""
    status, body, headers = response
    assert headers["Content-Type"] == "application/json"
    assert set(body) == {"result", "error"}, body
    assert body["result"] == {"code": 2, "status": "error"}
    assert set(body["error"]) == {"code", "name", "description"}
    assert isinstance(body["error"]["description"], str) and body["error"]["description"]
    return status, body["error"]["code"], body["error"]["name"]
