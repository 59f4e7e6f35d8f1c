"""The one request skeleton every handler shares, as a context manager around its straight
line (read the event, parse, use case, respond): every failure becomes the endpoint's own
dialect — never a stack trace, never a bare 500 — and is counted and logged once.

    with Answer(thalamus, logger, metrics) as answer:
        request = answer.read(event, context)
        ...
        answer.ok(thalamus.success_response(result, now))
    return answer.response

Logging is structured and never includes headers, bodies or tokens: only route, status,
outcome code and ids.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.domain import DomainError, IdempotencyKeyInvalid, IdempotentReplay
from shared.ports import OutcomeUnknown, StoreUnavailable
from shared.retry import end_deadline, start_deadline
from shared.runtime import ApiRequest, end_of_init
from shared.usecases.idempotency import Idempotency


class WireError(Exception):
    """An error already in a dialect's wire form."""

    status: int = 400

    def to_response(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def outcome(self) -> str:
        return "error"


class Dialect(Protocol):
    """Each error is built from the request it answers (None: the event was unreadable), so
    nothing of one request can leak into the answer to another."""

    def domain_error(self, error: DomainError, request: ApiRequest | None = None) -> WireError: ...

    def unavailable(self, request: ApiRequest | None = None) -> WireError: ...

    def internal_error(self, request: ApiRequest | None = None) -> WireError: ...


def service_name(module: str) -> str:
    """A function's service name: POWERTOOLS_SERVICE_NAME, which CDK sets to the function's
    name in infra/functions.py; where one process hosts every function (the local stack, the
    tests) and nothing sets it, the handler's package name (functions.<name>.handler)."""
    return os.environ.get("POWERTOOLS_SERVICE_NAME") or module.rsplit(".", 2)[-2]


def observability(module: str) -> tuple[Logger, Metrics]:
    """The handler's Logger and Metrics (namespace from POWERTOOLS_METRICS_NAMESPACE)."""
    service = service_name(module)
    return Logger(service=service), Metrics(service=service)


class Answer:
    def __init__(self, dialect: Dialect, logger: Logger, metrics: Metrics) -> None:
        self.dialect, self.logger, self.metrics = dialect, logger, metrics
        self.request: ApiRequest | None = None
        self.response: dict[str, Any] = {}

    def __enter__(self) -> Answer:
        return self

    def read(self, event: dict[str, Any], context: Any) -> ApiRequest:
        try:
            self.request = ApiRequest.from_event(event or {}, context)
        except Exception:
            self.logger.exception("unreadable API Gateway event")
            raise self.dialect.internal_error(None) from None
        self.logger.append_keys(
            request_id=self.request.request_id, route=f"{self.request.method} {self.request.resource}"
        )
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        start_deadline(remaining() if callable(remaining) else None)
        return self.request

    def ok(self, response: dict[str, Any]) -> None:
        self.response = response

    def __exit__(
        self, kind: type[BaseException] | None, raised: BaseException | None, _tb: TracebackType | None
    ) -> bool:
        error: WireError | None = None
        if isinstance(raised, IdempotentReplay):
            kept = raised.answer
            self.response = {
                "statusCode": kept.status,
                "headers": {**dict(kept.headers), "Idempotent-Replayed": "true"},
                "body": kept.body,
                "isBase64Encoded": False,
            }
        elif isinstance(raised, WireError):
            error = raised
        elif isinstance(raised, DomainError):
            error = self.dialect.domain_error(raised, self.request)
        elif isinstance(raised, StoreUnavailable):
            # OutcomeUnknown: a write may have committed; a retry is judged on what did
            self.logger.warning(
                "DynamoDB unavailable after retries",
                extra={"outcome_unknown": isinstance(raised, OutcomeUnknown), "cause": str(raised)},
            )
            error = self.dialect.unavailable(self.request)
        elif isinstance(raised, Exception):
            self.logger.exception("unexpected failure")
            error = self.dialect.internal_error(self.request)
        elif raised is not None:
            return False  # KeyboardInterrupt, SystemExit: not ours to answer
        if error is not None:
            self.response = error.to_response()
        status = int(self.response["statusCode"])
        name = "ServerErrors" if status >= 500 else "ClientErrors" if status >= 400 else "Succeeded"
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        self.logger.info(
            "request finished", extra={"status": status, "outcome": error.outcome() if error else "ok"}
        )
        end_of_init()  # a first request refused before it reached the store ends init too
        end_deadline()
        return True


# --------------------------------------------------------------------------- Idempotency-Key

MAX_KEY_LENGTH = 255


def idempotency_key(request: ApiRequest) -> str | None:
    """The request's Idempotency-Key, or None when it sends none. Accepts the IETF draft's
    form (a Structured Field string: `"..."`, with `\\"` and `\\\\` escapes) and Stripe's bare
    form alike; the key is the string's value. Empty, longer than 255 characters, sent twice,
    or not visible ASCII: IdempotencyKeyInvalid (the dialect's 400)."""
    values = request.raw_headers.get("idempotency-key")
    if not values:
        return None
    if len(values) > 1:
        raise IdempotencyKeyInvalid("send one Idempotency-Key", field="Idempotency-Key")
    raw = values[0].strip(" \t")
    if raw.startswith('"'):  # the draft's form: a Structured Field string, whole
        if len(raw) < 2 or not raw.endswith('"'):
            raise IdempotencyKeyInvalid("an unterminated Idempotency-Key string", field="Idempotency-Key")
        key, escaped = [], False
        for char in raw[1:-1]:
            if escaped:
                if char not in '"\\':
                    raise IdempotencyKeyInvalid("bad escape in the Idempotency-Key", field="Idempotency-Key")
                key.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                raise IdempotencyKeyInvalid("unescaped quote in the Idempotency-Key", field="Idempotency-Key")
            else:
                key.append(char)
        if escaped:
            raise IdempotencyKeyInvalid("bad escape in the Idempotency-Key", field="Idempotency-Key")
        value = "".join(key)
    else:
        value = raw
    if not value or len(value) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(
            "the Idempotency-Key must have 1 to 255 characters", field="Idempotency-Key"
        )
    if not all(" " <= char <= "~" for char in value):
        raise IdempotencyKeyInvalid("the Idempotency-Key must be visible ASCII", field="Idempotency-Key")
    return value


def fingerprint(request: ApiRequest, headers: tuple[str, ...] = ()) -> str:
    """What makes two requests "the same request" for a key: the method, the path, the query
    and body parameters (in any order) and the dialect's headers that change what is asked
    (never credentials: the key is already scoped to the caller)."""
    import hashlib
    import json
    from urllib.parse import parse_qsl

    body = request.body or b""
    if request.media_type() == "application/x-www-form-urlencoded":
        parsed: object = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    else:
        parsed = body.decode("utf-8", "replace")
    document = [
        request.method,
        request.path,
        sorted((name, value) for name, values in request.query.items() for value in values),
        parsed,
        [(name, request.raw_headers.get(name, [])) for name in headers],
    ]
    return hashlib.sha256(json.dumps(document, separators=(",", ":")).encode("utf-8")).hexdigest()


def idempotency_for(
    request: ApiRequest, respond: Callable[[Any, datetime], dict[str, Any]], headers: tuple[str, ...] = ()
) -> Idempotency | None:
    """The request's Idempotency-Key as the use cases take it (None without a key):
    `respond(result, now)` is the dialect's success response, kept for a repeat."""
    key = idempotency_key(request)
    if key is None:
        return None

    def render(result: Any, now: datetime) -> tuple[int, str, dict[str, str]]:
        response = respond(result, now)
        return int(response["statusCode"]), str(response["body"]), dict(response.get("headers") or {})

    return Idempotency(key, fingerprint(request, headers), render)


def respond(idempotency: Idempotency | None, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The success response: with an Idempotency-Key, exactly the answer the commit kept (a
    repeat gets the same bytes); without one, `build()`."""
    if idempotency is not None and idempotency.kept is not None:
        kept = idempotency.kept
        return {
            "statusCode": kept.status,
            "headers": dict(kept.headers),
            "body": kept.body,
            "isBase64Encoded": False,
        }
    return build()
