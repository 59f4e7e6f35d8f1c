"""The local stack's HTTP framing through raw sockets: requests no well-behaved client sends.

Every answer the server itself produces (not the Lambda handler) is a JSON body with a
`message`, never an HTML error page or a stack trace, and it comes promptly."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local_stack import apigw
from infra.local_stack.server import LocalStack

pytestmark = pytest.mark.http

ANNA = b"Thalamus-Token: demo-thalamus-operator-anna\r\nThalamus-Touchpoint: BACKOFFICE\r\n"
CONSUME = b"/api/v4/operator/activity/MILES/item/CARWASH/voucher/00000000-0000-4000-8000-999999999999"
ANSWER_WITHIN_S = 10.0  # a hang shows up as a socket timeout, not as a stuck suite


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(port=0, table_name="vouchers-http-framing").start()
    try:
        yield local
    finally:
        local.stop()


def exchange(stack: LocalStack, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, keep the connection open, and read one response: (status, headers
    with lower-case names, body). The body ends at Content-Length, or when the server closes."""
    host, port = stack.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=ANSWER_WITHIN_S) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before a response: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "-1"))
        while len(body) < length or length < 0:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(status_line.split()[1]), headers, body


def assert_json_error(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    assert headers.get("content-type", "").startswith("application/json"), (headers, body[:200])
    payload = json.loads(body)
    assert isinstance(payload, dict) and isinstance(payload.get("message"), str), payload
    assert "Traceback" not in body.decode("utf-8", "replace")
    return payload


def put_consume(extra_headers: bytes, body: bytes = b"") -> bytes:
    return b"PUT " + CONSUME + b" HTTP/1.1\r\nHost: local\r\n" + extra_headers + b"\r\n" + body


# --------------------------------------------------------------------------- header injection


@pytest.mark.parametrize(
    "header_block",
    [
        # a bare CR once started a new header: anna's token was accepted, X-Evil reached the handler
        pytest.param(
            b"Thalamus-Token: demo-thalamus-operator-anna\rX-Evil: 1\r\nThalamus-Touchpoint: BACKOFFICE\r\n",
            id="bare-cr-in-value",
        ),
        pytest.param(ANNA + b"X-Evil: 1\r\x00\r\n", id="cr-nul-in-value"),
        pytest.param(ANNA + b"X-Note: a\x00b\r\n", id="nul-in-value"),
        pytest.param(ANNA + b"X-Note: first\r\n line folded\r\n", id="obsolete-line-folding"),
    ],
)
def test_a_header_with_cr_nul_or_folding_is_a_json_400(stack: LocalStack, header_block: bytes) -> None:
    status, headers, body = exchange(stack, put_consume(header_block))
    assert status == 400, body
    assert assert_json_error(headers, body) == {"message": "Bad Request"}


def test_a_bare_cr_never_splits_a_header_for_the_handler(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    original = apigw.invoke

    def spy(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return original(function_name, event)

    monkeypatch.setattr(apigw, "invoke", spy)
    exchange(stack, put_consume(b"Thalamus-Token: demo-thalamus-operator-anna\rX-Evil: 1\r\n"))
    assert not any("X-Evil" in (event.get("headers") or {}) for event in seen)


def test_a_bare_cr_in_the_request_line_is_a_json_400(stack: LocalStack) -> None:
    status, headers, body = exchange(stack, b"GET /_health\rX HTTP/1.1\r\nHost: local\r\n\r\n")
    assert status == 400
    assert_json_error(headers, body)


# --------------------------------------------------------------------------- chunked bodies


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(b"-1\r\n", id="negative-size"),  # once: read until the client went away
        pytest.param(b"-0x10\r\nabc", id="negative-hex-size"),
        pytest.param(b"zz\r\n", id="not-hex"),
        pytest.param(b"3\r\nabcXY", id="chunk-without-terminator"),
    ],
)
def test_a_malformed_chunked_body_is_a_prompt_json_400(stack: LocalStack, chunks: bytes) -> None:
    started = time.monotonic()
    # the connection stays open: the server must answer from what it has
    status, headers, body = exchange(stack, put_consume(ANNA + b"Transfer-Encoding: chunked\r\n", chunks))
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert status == 400, body
    assert assert_json_error(headers, body) == {"message": "Bad Request"}
    assert headers.get("connection") == "close"


def test_a_chunked_body_over_the_limit_is_a_json_413(stack: LocalStack) -> None:
    from infra.local_stack.http_server import MAX_BODY_BYTES

    size = MAX_BODY_BYTES + 1
    chunked = f"{size:x}\r\n".encode() + b"x" * size + b"\r\n0\r\n\r\n"
    raw = put_consume(ANNA + b"Transfer-Encoding: chunked\r\n", chunked)
    status, headers, body = exchange(stack, raw)
    assert status == 413
    assert assert_json_error(headers, body) == {"message": "Request Too Long"}


# --------------------------------------------------------------------------- oversized heads


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            b"GET /_health HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(101)) + b"\r\n",
            431,
            id="101-headers",
        ),
        pytest.param(
            b"GET /_health HTTP/1.1\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n", 431, id="64KiB-header"
        ),
        pytest.param(b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\n\r\n", 414, id="64KiB-request-line"),
    ],
)
def test_an_oversized_request_head_gets_a_json_error(stack: LocalStack, raw: bytes, expected: int) -> None:
    status, headers, body = exchange(stack, raw)
    assert status == expected
    message = {431: "Request Header Fields Too Large", 414: "URI Too Long"}[expected]
    assert assert_json_error(headers, body) == {"message": message}


# --------------------------------------------------------------------------- other server errors


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"GARBAGE\r\n\r\n", 400, id="request-line-without-target"),
        pytest.param(b"GET /_health HTTP/2.0\r\n\r\n", 505, id="unsupported-version"),
        pytest.param(b"GET /_health HTTP/x\r\n\r\n", 400, id="bad-version"),
        pytest.param(b"BREW /pot HTTP/1.1\r\nHost: local\r\n\r\n", 403, id="unknown-method"),
    ],
)
def test_every_server_error_is_json(stack: LocalStack, raw: bytes, expected: int) -> None:
    status, headers, body = exchange(stack, raw)
    assert status == expected
    assert_json_error(headers, body)


def test_a_handler_header_with_a_line_break_is_a_502_not_injected(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def injecting(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 200, "headers": {"X-Note": "a\r\nSet-Cookie: evil=1"}, "body": "{}"}

    monkeypatch.setattr(apigw, "invoke", injecting)
    status, headers, body = exchange(stack, put_consume(ANNA))
    assert status == 502
    assert "set-cookie" not in headers
    assert assert_json_error(headers, body) == {"message": "Internal server error"}


def test_the_server_still_answers_after_every_bad_request(stack: LocalStack) -> None:
    status, _headers, body = exchange(stack, b"GET /_health HTTP/1.1\r\nHost: local\r\n\r\n")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def _closed_by_server(stack: LocalStack, raw: bytes, wait: float) -> bytes:
    """Send `raw`, then nothing: what the server sends before it closes (or fail if it holds
    the connection open longer than `wait` seconds)."""
    host, port = stack.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(raw)
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except TimeoutError:
            pytest.fail(f"the connection was still open after {wait} s: {got[:80]!r}")
    return got


def test_a_body_that_never_arrives_does_not_hold_a_connection(stack: LocalStack) -> None:
    from infra.local_stack.http_server import CONNECTION_TIMEOUT_SECONDS

    raw = b"PUT /unclaim-voucher HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"
    _closed_by_server(stack, raw, wait=CONNECTION_TIMEOUT_SECONDS * 3)


def test_the_connection_closes_after_a_413(stack: LocalStack) -> None:
    from infra.local_stack.http_server import CONNECTION_TIMEOUT_SECONDS

    raw = b"PUT /unclaim-voucher HTTP/1.1\r\nHost: x\r\nContent-Length: 1500000\r\n\r\n" + b"x" * 1500000
    got = _closed_by_server(stack, raw, wait=CONNECTION_TIMEOUT_SECONDS * 3)
    assert got.startswith(b"HTTP/1.1 413")
