"""PUT /api/v4/operator/activity/{activity_code}/item/{voucher_item_code}/voucher/{voucher_code}

Thalamus v4 "set voucher as consumed": parse (dialect) -> consume (use case) -> respond.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from shared import endpoint
from shared.dialects import thalamus
from shared.domain import utcnow
from shared.runtime import RUNTIME, ApiRequest, hash_token
from shared.usecases.consume import ConsumeCommand, consume_voucher

# The service name is the function's name in shared/routes.py (CDK exports the same value as
# POWERTOOLS_SERVICE_NAME); the metrics namespace comes from POWERTOOLS_METRICS_NAMESPACE.
logger = Logger(service="consume_voucher")
metrics = endpoint.serialize_flushes(Metrics(service="consume_voucher"))


def _consume(request: ApiRequest) -> dict[str, Any]:
    touchpoint, token = thalamus.parse_credentials(request)
    activity_code, item_code, voucher_code = thalamus.parse_path(request)
    parameters = thalamus.parse_parameters(request)
    result = consume_voucher(
        RUNTIME.store(),
        ConsumeCommand(
            activity_code=activity_code,
            item_code=item_code,
            voucher_code=voucher_code,
            touchpoint=touchpoint,
            token_hash=hash_token(token),
            parameters=parameters,
            request_id=request.request_id,
        ),
        policy=RUNTIME.settings().commit_policy(),
    )
    return thalamus.success_response(result, utcnow())


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return endpoint.handle(event, context, dialect=thalamus, logger=logger, metrics=metrics, work=_consume)
