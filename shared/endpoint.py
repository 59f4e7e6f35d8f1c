"""The one request skeleton all three handlers share: parse -> use case -> respond, with
every failure turned into the endpoint's own dialect (never a stack trace, never a bare 500).

Logging is structured and never includes headers, bodies or tokens: only route, status,
outcome code and ids.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.domain import DomainError
from shared.ports import StoreUnavailable
from shared.runtime import ApiRequest


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


_FLUSH_LOCK = threading.Lock()


def serialize_flushes(metrics: Metrics) -> Metrics:
    """Make this Metrics object's flush atomic within the process.

    Powertools keeps one metric set per process. In Lambda a container serves one invocation
    at a time, but the local stack and the race tests run several at once in one process:
    there one invocation's flush could empty the set between another's emptiness check and its
    serialization, which raises SchemaValidationError after the handler answered (the local
    stack then returned a 502). Uncontended in Lambda, so free."""
    provider = metrics.provider  # log_metrics flushes through its provider
    flush = provider.flush_metrics

    def locked(*args: Any, **kwargs: Any) -> None:
        with _FLUSH_LOCK:
            flush(*args, **kwargs)

    provider.flush_metrics = locked  # type: ignore[method-assign]
    return metrics


def handle(
    event: dict[str, Any],
    context: Any,
    *,
    dialect: Dialect,
    logger: Logger,
    metrics: Metrics,
    work: Callable[[ApiRequest], dict[str, Any]],
) -> dict[str, Any]:
    try:
        request = ApiRequest.from_event(event or {}, context)
    except Exception:
        logger.exception("unreadable API Gateway event")
        return dialect.internal_error(None).to_response()
    logger.append_keys(request_id=request.request_id, route=f"{request.method} {request.resource}")
    error: WireError | None = None
    try:
        response = work(request)
    except WireError as wire:
        error = wire
    except DomainError as refused:
        error = dialect.domain_error(refused, request)
    except StoreUnavailable:
        logger.warning("DynamoDB unavailable after retries")
        error = dialect.unavailable(request)
    except Exception:
        logger.exception("unexpected failure")
        error = dialect.internal_error(request)
    if error is not None:
        response = error.to_response()
    status = int(response["statusCode"])
    if status >= 500:
        metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
    elif status >= 400:
        metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="Succeeded", unit=MetricUnit.Count, value=1)
    logger.info(
        "request finished",
        extra={"status": status, "outcome": error.outcome() if error else "ok"},
    )
    return response
