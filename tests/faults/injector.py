"""A fault injector for DynamoDB calls, on botocore's own `before-send` event: it acts where a
TCP proxy would, around the real HTTP exchange with the engine (moto's server or DynamoDB
Local), so a fault can come after the request reached the table.

    injector = FaultInjector()
    client = injector.attach(boto3.client("dynamodb", ...))
    injector.add("TransactWriteItems", "reset_after", count=3)

Actions (each applies to the next `count` matching calls, then the rule is spent):
  reset_before  the connection drops before the request is sent: nothing reaches the table
  reset_after   the request is sent and answered; the answer is lost (connection reset)
  truncate      the answer arrives cut short (urllib3's IncompleteRead: what botocore raises
                for it is the same ConnectionClosedError as for a reset)
  delay_after   the request is sent and answered; the answer arrives after the read timeout
  delay_before  the request is held past the read timeout, then sent anyway `delay` seconds
                later, after the client gave up (and may already have retried)
  throttle      DynamoDB answers ProvisionedThroughputExceededException; nothing is written

Every call and every fault is logged (`calls`, `faults`). Writes of the faulted exchanges go
through a separate HTTP session, so a fault never poisons the client's connection pool.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

ACTIONS = ("reset_before", "reset_after", "truncate", "delay_after", "delay_before", "throttle")


@dataclass
class Rule:
    operation: str  # X-Amz-Target's operation (TransactWriteItems, UpdateItem, ...) or "*"
    action: str
    count: int
    match: str | None = None  # a substring the request body must contain
    delay: float = 1.0


@dataclass
class Fault:
    operation: str
    action: str
    token: str | None


class _Raw:
    """The minimal raw body AWSResponse reads."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Any:
        yield self._body


@dataclass
class FaultInjector:
    rules: list[Rule] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    late: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._http = URLLib3Session(timeout=30)

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send.dynamodb.*", self._before_send)
        return client

    def add(
        self, operation: str, action: str, count: int = 1, *, match: str | None = None, delay: float = 1.0
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action}")
        with self._lock:
            self.rules.append(Rule(operation, action, count, match, delay))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def settle(self) -> None:
        """Wait for every delayed original to have been sent."""
        for thread in list(self.late):
            thread.join(timeout=30)

    # ---- the hook

    def _pick(self, operation: str, body: bytes) -> Rule | None:
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            for rule in self.rules:
                if rule.count <= 0 or rule.operation not in ("*", operation):
                    continue
                if rule.match is not None and rule.match.encode() not in body:
                    continue
                rule.count -= 1
                return rule
        return None

    def _before_send(self, request: Any, **_kwargs: Any) -> AWSResponse | None:
        operation = str(request.headers.get("X-Amz-Target", b"")).split(".")[-1].strip("'")
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        rule = self._pick(operation, body)
        if rule is None:
            return None  # botocore sends it as usual
        with self._lock:
            self.faults.append(Fault(operation, rule.action, _token(body)))
        url = request.url
        if rule.action == "reset_before":
            raise ConnectionClosedError(endpoint_url=url)
        if rule.action == "throttle":
            payload = json.dumps(
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "message": "injected throttling",
                }
            ).encode()
            return AWSResponse(url, 400, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(payload))
        if rule.action == "delay_before":
            thread = threading.Thread(target=self._send_late, args=(request, rule.delay), daemon=True)
            self.late.append(thread)
            thread.start()
            raise ReadTimeoutError(endpoint_url=url)
        _ = self._http.send(request).content  # it reaches the table; its answer is read and dropped
        if rule.action == "delay_after":
            raise ReadTimeoutError(endpoint_url=url)
        raise ConnectionClosedError(endpoint_url=url)  # reset_after, truncate

    def _send_late(self, request: Any, delay: float) -> None:
        time.sleep(delay)
        with contextlib.suppress(Exception):  # the original's own fate is not the client's to learn
            _ = self._http.send(request).content


def _token(body: bytes) -> str | None:
    try:
        token = json.loads(body).get("ClientRequestToken")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) else None
