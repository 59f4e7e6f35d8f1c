"""API Gateway REST proxy events, built the way API Gateway builds them, and in-process
invocation of the real handlers through the shared route table."""

from __future__ import annotations

import base64
import importlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from infra.functions import FUNCTIONS, ROUTES, Route, resolve

TEXT_MEDIA_PREFIXES = (
    "text/",
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
)


@dataclass
class LambdaContext:
    """The attributes Powertools reads from a Lambda context object."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 30
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:000000000000:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def build_event(
    method: str,
    raw_path: str,
    *,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    query_string: str = "",
    body: bytes | str | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = "local",
) -> tuple[Route, dict[str, Any]] | None:
    """The REST proxy event API Gateway would send for this HTTP request, or None when no
    route serves it. Path parameters are URL-decoded, as API Gateway does."""
    path = raw_path.split("?", 1)[0]
    found = resolve(method, path)  # match on raw segments, so %2F stays inside one segment
    if found is None:
        return None
    route, raw_params = found
    params = {name: unquote(value) for name, value in raw_params.items()}
    header_pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        single_headers[name] = value  # API Gateway keeps the last value in `headers`
        multi_headers.setdefault(name, []).append(value)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    body_bytes = body.encode("utf-8") if isinstance(body, str) else body
    is_base64 = False
    body_text: str | None = None
    if body_bytes:
        try:
            body_text = body_bytes.decode("utf-8")
        except UnicodeDecodeError:
            body_text = base64.b64encode(body_bytes).decode("ascii")
            is_base64 = True
    request_id = str(uuid.uuid4())
    now_ms = int(time.time() * 1000)
    event: dict[str, Any] = {
        "resource": route.path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method.upper(),
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "requestTimeEpoch": now_ms,
            "protocol": "HTTP/1.1",
            "accountId": "000000000000",
            "apiId": "local",
            "identity": {"sourceIp": source_ip, "userAgent": single_headers.get("User-Agent")},
        },
        "body": body_text,
        "isBase64Encoded": is_base64,
    }
    return route, event


_HANDLERS: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {}


def handler_for(function_name: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Import the function's real handler (once) from its FunctionSpec entry point, its
    metric flushes serialized (several invocations share this process)."""
    with _LOADING:
        if function_name not in _HANDLERS:
            module_name, _, attribute = FUNCTIONS[function_name].handler.rpartition(".")
            module = importlib.import_module(module_name)
            serialize_flushes(module.metrics)
            _HANDLERS[function_name] = getattr(module, attribute)
    return _HANDLERS[function_name]


_LOADING = threading.Lock()
_FLUSH_LOCK = threading.Lock()


def serialize_flushes(metrics: Any) -> None:
    """Make a handler's Metrics flush atomic within this process (a local-stack need only).

    Powertools keeps one metric set per process. In Lambda a container serves one invocation
    at a time, but the local stack and the race tests run several at once in one process:
    there one invocation's flush could empty the set between another's emptiness check and
    its serialization, which raises SchemaValidationError after the handler answered (the
    local stack then returned a 502)."""
    provider = metrics.provider  # log_metrics flushes through its provider
    if getattr(provider.flush_metrics, "serialized", False):
        return
    flush = provider.flush_metrics

    def locked(*args: Any, **kwargs: Any) -> None:
        with _FLUSH_LOCK:
            flush(*args, **kwargs)

    locked.serialized = True  # type: ignore[attr-defined]
    provider.flush_metrics = locked


def invoke(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
    spec = FUNCTIONS[function_name]
    context = LambdaContext(function_name=spec.construct_id, timeout_seconds=spec.timeout_seconds)
    context.aws_request_id = (event.get("requestContext") or {}).get("requestId") or context.aws_request_id
    return handler_for(function_name)(event, context)


def function_for_event(event: Mapping[str, Any]) -> str | None:
    """Which function a stored event targets (by its resource and method)."""
    for route in ROUTES:
        if route.path == event.get("resource") and route.method == str(event.get("httpMethod", "")).upper():
            return route.function
    return None
