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
from types import TracebackType
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.domain import DomainError
from shared.ports import OutcomeUnknown, StoreUnavailable
from shared.retry import end_deadline, start_deadline
from shared.runtime import ApiRequest, end_of_init


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
    name in shared/routes.py; where one process hosts every function (the local stack, the
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
        if isinstance(raised, WireError):
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
